// Learning-rate schedules with PyTorch 1.13's semantics (torch.optim.lr_scheduler): StepLR,
// ExponentialLR, CosineAnnealingLR and LinearLR (the linear warm-up). Like PyTorch, each one
// computes the next lr from the optimizer's current lr (the "chainable" recursive form), so the
// printed lrs match PyTorch's to the last digit. Constructing a schedule sets the lr of epoch 0
// (LinearLR: lr * start_factor); call step() once after each epoch, after the optimizer's steps:
//
//   tg::optim::StepLR sched(opt, 30, 0.1);
//   for (int epoch = 0; epoch < 100; ++epoch) { train(...); sched.step(); }
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "tapegrad/nn/optim.hpp"

namespace tg::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets the optimizer's lr.
  void step();
  // The lr set by the last step() (or by the constructor).
  double get_last_lr() const { return last_lr_; }
  // Epochs stepped so far (0 right after construction).
  std::int64_t last_epoch() const { return last_epoch_; }
  double base_lr() const { return base_lr_; }

  // For checkpoints: {"last_epoch", "step_count", "base_lr", "last_lr"} as text. Loading restores
  // them (the optimizer's lr is restored by the optimizer's own state).
  std::map<std::string, std::string> state_dict() const;
  void load_state_dict(const std::map<std::string, std::string>& state);

 protected:
  // The lr for last_epoch(), from the optimizer's current lr (PyTorch's get_lr()).
  virtual double get_lr() const = 0;
  // PyTorch's _initial_step(): subclasses call it at the end of their constructor.
  void initial_step();
  Optimizer& optimizer() const { return optimizer_; }

 private:
  Optimizer& optimizer_;
  double base_lr_;
  std::int64_t last_epoch_ = -1;
  std::int64_t step_count_ = 0;
  double last_lr_;

 protected:
  std::int64_t step_count() const { return step_count_; }
};

// lr * gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  double get_lr() const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

// lr * gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  double get_lr() const override;

 private:
  double gamma_;
};

// eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2, computed recursively as PyTorch
// does (and continuing periodically past T_max, as PyTorch's does).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0);

 protected:
  double get_lr() const override;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

// Linear warm-up: the lr factor goes linearly from start_factor to end_factor over total_iters
// epochs, then stays (torch.optim.lr_scheduler.LinearLR). Factors in [0, 1].
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           std::int64_t total_iters = 5);

 protected:
  double get_lr() const override;

 private:
  double start_factor_, end_factor_;
  std::int64_t total_iters_;
};

// The linear warm-up under the name people look for; it is PyTorch's LinearLR.
using LinearWarmup = LinearLR;

}  // namespace tg::optim
