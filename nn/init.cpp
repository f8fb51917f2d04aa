#include "tapegrad/nn/init.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tapegrad/tensor/error.hpp"

namespace tg::nn::init {
namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

void check_defined(const Tensor& t, const char* fn) {
  if (!t.defined()) throw ValueError(fmt::format("init::{}: undefined tensor", fn));
}

// The standard deviations of the xavier and kaiming initialisers, in PyTorch's order of operations,
// so the bounds are the same doubles; the uniform versions use U(-sqrt(3) std, sqrt(3) std).

// gain * sqrt(2 / (fan_in + fan_out))
double xavier_std(const Tensor& t, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t.shape());
  return gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
}

// gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)
double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  const double gain = calculate_gain(nonlinearity, a);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t.shape());
  return gain / std::sqrt(static_cast<double>(mode == FanMode::fan_in ? fan_in : fan_out));
}

}  // namespace

double calculate_gain(const std::string& nonlinearity, std::optional<double> param) {
  for (const char* f : {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    if (nonlinearity == f) return 1;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4;
  throw ValueError(
      fmt::format("calculate_gain: unsupported nonlinearity '{}' (linear, conv1d, "
                  "conv2d, conv3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, "
                  "leaky_relu, selu)",
                  nonlinearity));
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Shape& shape) {
  if (shape.size() < 2)
    throw ValueError(
        fmt::format("init: fan in and fan out can not be computed for a tensor of "
                    "shape {} (fewer than 2 dimensions)",
                    shape_str(shape)));
  std::int64_t receptive = 1;
  for (std::size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

Tensor uniform_(Tensor t, double a, double b, Generator* gen) {
  check_defined(t, "uniform_");
  visit_dtype(t.dtype(), [&]<class T>() {
    pick(gen).fill_uniform<T>(t.data<T>(), t.numel(), static_cast<T>(a), static_cast<T>(b));
  });
  return t;
}

Tensor normal_(Tensor t, double mean, double std, Generator* gen) {
  check_defined(t, "normal_");
  visit_dtype(t.dtype(), [&]<class T>() {
    pick(gen).fill_normal<T>(t.data<T>(), t.numel(), static_cast<T>(mean), static_cast<T>(std));
  });
  return t;
}

Tensor constant_(Tensor t, double value) {
  check_defined(t, "constant_");
  t.fill_(value);
  return t;
}
Tensor zeros_(Tensor t) { return constant_(std::move(t), 0); }
Tensor ones_(Tensor t) { return constant_(std::move(t), 1); }

Tensor xavier_uniform_(Tensor t, double gain, Generator* gen) {
  check_defined(t, "xavier_uniform_");
  const double a = std::sqrt(3.0) * xavier_std(t, gain);
  return uniform_(std::move(t), -a, a, gen);
}

Tensor xavier_normal_(Tensor t, double gain, Generator* gen) {
  check_defined(t, "xavier_normal_");
  const double std = xavier_std(t, gain);
  return normal_(std::move(t), 0, std, gen);
}

Tensor kaiming_uniform_(Tensor t, double a, FanMode mode, const std::string& nonlinearity,
                        Generator* gen) {
  check_defined(t, "kaiming_uniform_");
  if (t.numel() == 0) return t;  // PyTorch warns and leaves it
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  return uniform_(std::move(t), -bound, bound, gen);
}

Tensor kaiming_normal_(Tensor t, double a, FanMode mode, const std::string& nonlinearity,
                       Generator* gen) {
  check_defined(t, "kaiming_normal_");
  if (t.numel() == 0) return t;
  const double std = kaiming_std(t, a, mode, nonlinearity);
  return normal_(std::move(t), 0, std, gen);
}

Variable uniform_(Variable v, double a, double b, Generator* gen) {
  uniform_(v.mutable_value(), a, b, gen);
  return v;
}
Variable normal_(Variable v, double mean, double std, Generator* gen) {
  normal_(v.mutable_value(), mean, std, gen);
  return v;
}
Variable constant_(Variable v, double value) {
  constant_(v.mutable_value(), value);
  return v;
}
Variable zeros_(Variable v) { return constant_(std::move(v), 0); }
Variable ones_(Variable v) { return constant_(std::move(v), 1); }
Variable xavier_uniform_(Variable v, double gain, Generator* gen) {
  xavier_uniform_(v.mutable_value(), gain, gen);
  return v;
}
Variable xavier_normal_(Variable v, double gain, Generator* gen) {
  xavier_normal_(v.mutable_value(), gain, gen);
  return v;
}
Variable kaiming_uniform_(Variable v, double a, FanMode mode, const std::string& nonlinearity,
                          Generator* gen) {
  kaiming_uniform_(v.mutable_value(), a, mode, nonlinearity, gen);
  return v;
}
Variable kaiming_normal_(Variable v, double a, FanMode mode, const std::string& nonlinearity,
                         Generator* gen) {
  kaiming_normal_(v.mutable_value(), a, mode, nonlinearity, gen);
  return v;
}

void default_reset_(Variable& weight, Variable& bias, Generator* gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), FanMode::fan_in, "leaky_relu", gen);
  if (bias.defined()) {
    const auto fan_in = calculate_fan_in_and_fan_out(weight.shape()).first;
    const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
    uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace tg::nn::init
