// Each get_lr() is PyTorch 1.13's get_lr() for that class, term by term.
#include "tapegrad/nn/lr_scheduler.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <numbers>

#include "tapegrad/tensor/error.hpp"

namespace tg::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), last_lr_(optimizer.lr()) {
  if (!optimizer.initial_lr_) optimizer.initial_lr_ = optimizer.lr();
  base_lr_ = *optimizer.initial_lr_;
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  const double lr = get_lr();
  optimizer_.set_lr(lr);
  last_lr_ = optimizer_.lr();
}

std::map<std::string, std::string> LRScheduler::state_dict() const {
  return {{"last_epoch", std::to_string(last_epoch_)},
          {"step_count", std::to_string(step_count_)},
          {"base_lr", fmt::format("{}", base_lr_)},
          {"last_lr", fmt::format("{}", last_lr_)}};
}

void LRScheduler::load_state_dict(const std::map<std::string, std::string>& state) {
  const auto get = [&](const char* key) {
    auto it = state.find(key);
    if (it == state.end())
      throw ValueError(fmt::format("LRScheduler::load_state_dict: no '{}'", key));
    return it->second;
  };
  const auto number = [&](const char* key) {
    const std::string text = get(key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size())
      throw ValueError(
          fmt::format("LRScheduler::load_state_dict: '{}' is not a number: '{}'", key, text));
    return v;
  };
  const double last_epoch = number("last_epoch"), step_count = number("step_count");
  const double base = number("base_lr"), last = number("last_lr");
  last_epoch_ = static_cast<std::int64_t>(last_epoch);
  step_count_ = static_cast<std::int64_t>(step_count);
  base_lr_ = base;
  last_lr_ = last;
}

// --- StepLR --------------------------------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0)
    throw ValueError(fmt::format("StepLR: step_size must be positive, got {}", step_size));
  initial_step();
}

double StepLR::get_lr() const {
  const double lr = optimizer().lr();
  if (last_epoch() == 0 || last_epoch() % step_size_ != 0) return lr;
  return lr * gamma_;
}

// --- ExponentialLR -------------------------------------------------------------------------------

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  initial_step();
}

double ExponentialLR::get_lr() const {
  const double lr = optimizer().lr();
  return last_epoch() == 0 ? lr : lr * gamma_;
}

// --- CosineAnnealingLR ---------------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), t_max_(T_max), eta_min_(eta_min) {
  if (T_max <= 0)
    throw ValueError(fmt::format("CosineAnnealingLR: T_max must be positive, got {}", T_max));
  initial_step();
}

double CosineAnnealingLR::get_lr() const {
  constexpr double pi = std::numbers::pi;
  const double lr = optimizer().lr();
  const std::int64_t e = last_epoch();
  const double t = static_cast<double>(t_max_);
  if (e == 0) return lr;
  if (step_count() == 1 && e > 0)
    return eta_min_ + (base_lr() - eta_min_) * (1 + std::cos(static_cast<double>(e) * pi / t)) / 2;
  // Python's % is a floor modulo; "== 0" means the same for C++'s truncating one.
  if ((e - 1 - t_max_) % (2 * t_max_) == 0)
    return lr + (base_lr() - eta_min_) * (1 - std::cos(pi / t)) / 2;
  return (1 + std::cos(pi * static_cast<double>(e) / t)) /
             (1 + std::cos(pi * static_cast<double>(e - 1) / t)) * (lr - eta_min_) +
         eta_min_;
}

// --- LinearLR ------------------------------------------------------------------------------------

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor,
                   std::int64_t total_iters)
    : LRScheduler(optimizer),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  if (start_factor > 1.0 || start_factor < 0)
    throw ValueError(fmt::format("LinearLR: start_factor must be in [0, 1], got {}", start_factor));
  if (end_factor > 1.0 || end_factor < 0)
    throw ValueError(fmt::format("LinearLR: end_factor must be in [0, 1], got {}", end_factor));
  if (total_iters <= 0)
    throw ValueError(fmt::format("LinearLR: total_iters must be positive, got {}", total_iters));
  initial_step();
}

double LinearLR::get_lr() const {
  const double lr = optimizer().lr();
  const std::int64_t e = last_epoch();
  if (e == 0) return lr * start_factor_;
  if (e > total_iters_) return lr;
  return lr * (1. + (end_factor_ - start_factor_) /
                        (static_cast<double>(total_iters_) * start_factor_ +
                         static_cast<double>(e - 1) * (end_factor_ - start_factor_)));
}

}  // namespace tg::optim
