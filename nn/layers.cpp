#include "tapegrad/nn/layers.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/tensor/error.hpp"

namespace tg::nn {
namespace {

std::string py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace

// --- Linear --------------------------------------------------------------------------------------

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias, DType dtype,
               Generator* gen)
    : in_features_(in_features), out_features_(out_features) {
  if (in_features < 0 || out_features < 0)
    throw ValueError(fmt::format("Linear: negative size: in_features={}, out_features={}",
                                 in_features, out_features));
  weight = register_parameter("weight", Tensor::zeros({out_features, in_features}, dtype));
  if (bias) this->bias = register_parameter("bias", Tensor::zeros({out_features}, dtype));
  reset_parameters(gen);
}

// torch.nn.Linear.reset_parameters: kaiming_uniform_(W, a=sqrt(5)) is U(-1/sqrt(fan_in), ...), and
// the bias gets the same bound.
void Linear::reset_parameters(Generator* gen) { init::default_reset_(weight, bias, gen); }

Variable Linear::forward(const Variable& x) { return tg::linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features_, out_features_,
                     py_bool(bias.defined()));
}

// --- Sequential, Flatten -------------------------------------------------------------------------

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) push_back(std::move(m));
}

Variable Sequential::forward(const Variable& x) {
  Variable y = x;
  for (const auto& m : modules_) y = m->forward(y);
  return y;
}

Variable Flatten::forward(const Variable& x) {
  const auto nd = static_cast<std::size_t>(x.dim());
  if (nd == 0) return tg::reshape(x, {1});
  const int start = normalize_axis(start_dim_, nd, "Flatten");
  const int end = normalize_axis(end_dim_, nd, "Flatten");
  if (start > end)
    throw ValueError(fmt::format("Flatten: start_dim {} comes after end_dim {} for shape {}",
                                 start_dim_, end_dim_, shape_str(x.shape())));
  Shape shape;
  std::int64_t flat = 1;
  for (int i = 0; i < static_cast<int>(nd); ++i) {
    if (i < start || i > end) {
      shape.push_back(x.shape()[i]);
    } else {
      flat *= x.shape()[i];
      if (i == end) shape.push_back(flat);
    }
  }
  return tg::reshape(x, shape);
}

std::string Flatten::extra_repr() const {
  return fmt::format("start_dim={}, end_dim={}", start_dim_, end_dim_);
}

// --- Dropout -------------------------------------------------------------------------------------

Variable dropout(const Variable& x, double p, bool training, Generator* gen) {
  if (p < 0 || p > 1) throw ValueError(fmt::format("dropout: p must be in [0, 1], got {}", p));
  if (!training || p == 0) return x;
  if (p == 1) return x * Variable(Tensor::zeros({}, x.dtype()));
  // PyTorch: noise = bernoulli(1 - p) / (1 - p); y = x * noise.
  Tensor noise = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T keep = static_cast<T>(1 - p);
    T* out = noise.data<T>();
    (gen ? *gen : default_generator()).fill_bernoulli<T>(out, noise.numel(), &keep, 0);
    for (std::int64_t i = 0; i < noise.numel(); ++i) out[i] /= keep;
  });
  return x * Variable(noise);
}

Dropout::Dropout(double p, Generator* gen) : p_(p), gen_(gen) {
  if (p < 0 || p > 1) throw ValueError(fmt::format("Dropout: p must be in [0, 1], got {}", p));
}

Variable Dropout::forward(const Variable& x) { return dropout(x, p_, is_training(), gen_); }

std::string Dropout::extra_repr() const { return fmt::format("p={}", p_); }

// --- activations ---------------------------------------------------------------------------------

Variable ReLU::forward(const Variable& x) { return tg::relu(x); }
Variable Tanh::forward(const Variable& x) { return tg::tanh(x); }
Variable Sigmoid::forward(const Variable& x) { return tg::sigmoid(x); }

// x > 0 ? x : slope x. The mask is a constant: where() sends each branch its own gradient.
Variable leaky_relu(const Variable& x, double negative_slope) {
  const Tensor mask = tg::gt(x.value(), Tensor::zeros({}, x.dtype()));
  return tg::where(Variable(mask), x, x * negative_slope);
}

Variable LeakyReLU::forward(const Variable& x) { return leaky_relu(x, negative_slope_); }
std::string LeakyReLU::extra_repr() const {
  return fmt::format("negative_slope={}", negative_slope_);
}

// beta x > threshold ? x : log(1 + exp(beta x)) / beta (torch.nn.functional.softplus).
Variable softplus(const Variable& x, double beta, double threshold) {
  const Variable bx = x * beta;
  const Tensor linear = tg::gt(bx.value(), Tensor::scalar(threshold, x.dtype()));
  return tg::where(Variable(linear), x, tg::softplus(bx) / beta);
}

Variable Softplus::forward(const Variable& x) { return softplus(x, beta_, threshold_); }
std::string Softplus::extra_repr() const {
  return fmt::format("beta={}, threshold={}", beta_, threshold_);
}

// 0.5 x (1 + erf(x / sqrt 2)), in PyTorch's order: (x * 0.5) * (1 + erf(x * M_SQRT1_2)).
Variable gelu(const Variable& x) {
  constexpr double inv_sqrt2 = 0.70710678118654752440;
  return (x * 0.5) * (1.0 + tg::erf(x * inv_sqrt2));
}

Variable GELU::forward(const Variable& x) { return gelu(x); }

}  // namespace tg::nn
