// Normal(loc, scale) and its KL closed form.
#include "tapegrad/distributions/normal.hpp"

#include <cmath>
#include <numbers>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {

Normal::Normal(Variable loc, Variable scale, std::optional<bool> validate_args)
    : Normal(detail::broadcast_params("Normal", {loc, scale}), validate_args) {}

Normal::Normal(std::vector<Variable> p, std::optional<bool> validate_args)
    : Distribution(p[0].shape(), {}, p[0].dtype(), validate_args), loc_(p[0]), scale_(p[1]) {
  if (this->validate_args()) {
    detail::require(detail::all_of(scale_.value(), [](double s) { return s > 0; }),
                    "Normal(loc, scale)", "scale must be > 0");
  }
}

// x = loc + scale * eps, eps ~ N(0, 1): dx/dloc = 1, dx/dscale = eps.
Variable Normal::rsample(const Shape& sample_shape, Generator* gen) const {
  const Variable eps(Tensor::randn(extended_shape(sample_shape), dtype(), gen));
  return loc_ + eps * scale_;
}

// log p(x) = -(x - loc)^2 / (2 scale^2) - log scale - log sqrt(2 pi)
Variable Normal::log_prob(const Variable& value) const {
  const Variable z = (value - loc_) / scale_;
  return -0.5 * square(z) - log(scale_) - 0.5 * std::log(2 * std::numbers::pi);
}

// H = 1/2 + 1/2 log(2 pi) + log scale
Variable Normal::entropy() const {
  return log(scale_) + (0.5 + 0.5 * std::log(2 * std::numbers::pi));
}

Variable Normal::variance() const { return square(scale_); }

// F(x) = (1 + erf(z / sqrt 2)) / 2,  z = (x - loc) / scale
Variable Normal::cdf(const Variable& value) const {
  return 0.5 * (1.0 + erf((value - loc_) / (scale_ * std::numbers::sqrt2)));
}

// F^-1(u) = loc + scale sqrt 2 erfinv(2u - 1)  (-inf at 0, +inf at 1)
Variable Normal::icdf(const Variable& u) const {
  return loc_ + scale_ * (std::numbers::sqrt2 * erfinv(2.0 * u - 1.0));
}

Support Normal::support() const {
  return {Support::Kind::real, Tensor::scalar(-detail::inf, dtype()),
          Tensor::scalar(detail::inf, dtype())};
}

std::shared_ptr<Distribution> Normal::with_parameters(const std::vector<Variable>& params) const {
  return std::make_shared<Normal>(params.at(0), params.at(1), validate_args());
}

// KL = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
//    = 1/2 (r + t - 1 - log r),  r = (s1 / s2)^2,  t = ((m1 - m2) / s2)^2
Variable kl_normal_normal(const Normal& p, const Normal& q) {
  const Variable r = square(p.scale() / q.scale());
  const Variable t = square((p.loc() - q.loc()) / q.scale());
  return 0.5 * (r + t - 1.0 - log(r));
}

TG_REGISTER_KL(Normal, Normal, kl_normal_normal);

}  // namespace tg::dist
