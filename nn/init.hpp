// Parameter initialisers, like torch.nn.init: each fills a tensor in place (a Variable's value when
// given a Variable, without recording) and returns it. Random ones draw from `gen`, or from
// tg::default_generator() when it is null. The fan and gain computations are PyTorch's.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/random.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace tg::nn::init {

enum class FanMode { fan_in, fan_out };

// The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): linear, conv1d, conv2d,
// conv3d, conv_transpose1d/2d/3d, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 +
// slope^2)) with slope = param or 0.01; selu: 3/4. Anything else is a ValueError.
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);

// (fan_in, fan_out) of a weight of shape (out, in, *kernel): in * prod(kernel), out * prod(kernel).
// Fewer than 2 dimensions is a ValueError (torch.nn.init._calculate_fan_in_and_fan_out).
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Shape& shape);

Tensor uniform_(Tensor t, double a = 0, double b = 1, Generator* gen = nullptr);
Tensor normal_(Tensor t, double mean = 0, double std = 1, Generator* gen = nullptr);
Tensor constant_(Tensor t, double value);
Tensor zeros_(Tensor t);
Tensor ones_(Tensor t);
// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor t, double gain = 1, Generator* gen = nullptr);
// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor t, double gain = 1, Generator* gen = nullptr);
// U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).
Tensor kaiming_uniform_(Tensor t, double a = 0, FanMode mode = FanMode::fan_in,
                        const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(Tensor t, double a = 0, FanMode mode = FanMode::fan_in,
                       const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);

// The same on a Variable's value (a parameter), not recorded on the tape.
Variable uniform_(Variable v, double a = 0, double b = 1, Generator* gen = nullptr);
Variable normal_(Variable v, double mean = 0, double std = 1, Generator* gen = nullptr);
Variable constant_(Variable v, double value);
Variable zeros_(Variable v);
Variable ones_(Variable v);
Variable xavier_uniform_(Variable v, double gain = 1, Generator* gen = nullptr);
Variable xavier_normal_(Variable v, double gain = 1, Generator* gen = nullptr);
Variable kaiming_uniform_(Variable v, double a = 0, FanMode mode = FanMode::fan_in,
                          const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
Variable kaiming_normal_(Variable v, double a = 0, FanMode mode = FanMode::fan_in,
                         const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);

// The default initialisation of torch.nn.Linear and the convolutions (reset_parameters):
// kaiming_uniform_(weight, a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias
// (when defined) from the same bound, fan_in computed from the weight's shape.
void default_reset_(Variable& weight, Variable& bias, Generator* gen = nullptr);

}  // namespace tg::nn::init
