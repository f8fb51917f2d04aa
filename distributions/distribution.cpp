// The Distribution base class and the helpers of detail.hpp.
#include "tapegrad/distributions/distribution.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

#include "tapegrad/distributions/detail.hpp"

namespace tg::dist {
namespace {
std::atomic<bool> g_default_validate_args{false};
}

bool default_validate_args() { return g_default_validate_args.load(); }
void set_default_validate_args(bool validate) { g_default_validate_args.store(validate); }

Distribution::Distribution(Shape batch_shape, Shape event_shape, DType dtype,
                           std::optional<bool> validate_args)
    : batch_shape_(std::move(batch_shape)),
      event_shape_(std::move(event_shape)),
      dtype_(dtype),
      validate_args_(validate_args.value_or(default_validate_args())) {}

Shape Distribution::extended_shape(const Shape& sample_shape) const {
  Shape s = sample_shape;
  s.insert(s.end(), batch_shape_.begin(), batch_shape_.end());
  s.insert(s.end(), event_shape_.begin(), event_shape_.end());
  return s;
}

Variable Distribution::sample(const Shape& sample_shape, Generator* gen) const {
  NoGradGuard no_grad;
  return rsample(sample_shape, gen).detach();
}

Variable Distribution::rsample(const Shape&, Generator*) const {
  throw Error(
      fmt::format("{0}.rsample: {0} has no reparameterized sampler; use sample() (no gradient) "
                  "or a score-function estimator",
                  name()));
}

Variable Distribution::stddev() const { return tg::sqrt(variance()); }

Variable Distribution::cdf(const Variable&) const {
  throw Error(fmt::format("{0}.cdf: {0} has no cumulative distribution function", name()));
}
Variable Distribution::icdf(const Variable&) const {
  throw Error(fmt::format("{0}.icdf: {0} has no inverse cumulative distribution function", name()));
}

std::shared_ptr<Distribution> Distribution::expand(const Shape& batch_shape) const {
  const Shape& now = batch_shape_;
  bool ok = batch_shape.size() >= now.size();
  try {
    ok = ok && broadcast_shapes(now, batch_shape, "expand") == batch_shape;
  } catch (const ShapeError&) {
    ok = false;
  }
  if (!ok) {
    throw ShapeError(fmt::format(
        "{}.expand: batch shape {} cannot be expanded to {} (each dim must be 1 or equal, new dims "
        "on the left)",
        name(), shape_str(now), shape_str(batch_shape)));
  }
  std::vector<Variable> params;
  for (const Variable& p : parameters()) {
    // p = (broadcastable to) batch + its own trailing dims
    const std::int64_t own =
        std::max<std::int64_t>(0, p.dim() - static_cast<std::int64_t>(now.size()));
    Shape shape = batch_shape;
    shape.insert(shape.end(), p.shape().end() - own, p.shape().end());
    params.push_back(p.shape() == shape ? p : tg::broadcast_to(p, shape));
  }
  return with_parameters(params);
}

void Distribution::check_support(const char* fn, const Tensor& value, const Tensor& inside) const {
  if (!validate_args_) return;
  const std::vector<double> m = inside.to_vector();
  const std::vector<double> v = broadcast_to(value, inside.shape()).to_vector();
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == 0) {
      throw ValueError(
          fmt::format("{}.{}: value {} (element {} of a {} tensor) is outside the support "
                      "(validate_args is on; with it off, log_prob is -inf there)",
                      name(), fn, v[i], i, shape_str(inside.shape())));
    }
  }
}

namespace detail {
namespace {

// The parameters' common shape (ShapeError naming `who` otherwise); records nothing.
Shape broadcast_shape(const char* who, const std::vector<Variable>& params) {
  Shape shape;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined())
      throw ValueError(fmt::format("{}: parameter {} is undefined", who, i));
    shape = i == 0 ? params[i].shape() : broadcast_shapes(shape, params[i].shape(), who);
  }
  return shape;
}

}  // namespace

std::vector<Variable> broadcast_params(const char* who, const std::vector<Variable>& params) {
  const Shape shape = broadcast_shape(who, params);
  for (const auto& p : params) {
    if (p.dtype() != params[0].dtype()) {
      throw DTypeError(
          fmt::format("{}: parameters have different dtypes: {} and {} (convert with .to())", who,
                      dtype_name(params[0].dtype()), dtype_name(p.dtype())));
    }
  }
  std::vector<Variable> out;
  for (const auto& p : params) out.push_back(p.shape() == shape ? p : tg::broadcast_to(p, shape));
  return out;
}

Tensor uniform(const Shape& shape, DType dtype, Generator* gen, double low, double high) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(shape, dtype);
  visit_dtype(dtype, [&]<class T>() {
    g.fill_uniform<T>(t.data<T>(), t.numel(), static_cast<T>(low), static_cast<T>(high));
  });
  return t;
}

void require(bool ok, const std::string& who, const std::string& what) {
  if (!ok) throw ValueError(fmt::format("{}: {} (validate_args is on)", who, what));
}

}  // namespace detail
}  // namespace tg::dist
