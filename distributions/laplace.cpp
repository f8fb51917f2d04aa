// Laplace(loc, scale) and its KL closed form.
#include "tapegrad/distributions/laplace.hpp"

#include <cmath>
#include <limits>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {

Laplace::Laplace(Variable loc, Variable scale, std::optional<bool> validate_args)
    : Laplace(detail::broadcast_params("Laplace", {loc, scale}), validate_args) {}

Laplace::Laplace(std::vector<Variable> p, std::optional<bool> validate_args)
    : Distribution(p[0].shape(), {}, p[0].dtype(), validate_args), loc_(p[0]), scale_(p[1]) {
  if (this->validate_args()) {
    detail::require(detail::all_of(scale_.value(), [](double s) { return s > 0; }),
                    "Laplace(loc, scale)", "scale must be > 0");
  }
}

// Inverse CDF: x = loc - scale sign(u) log(1 - |u|),  u ~ U[eps - 1, 1)  (|u| < 1, so the log is
// finite): dx/dloc = 1, dx/dscale = -sign(u) log(1 - |u|).
Variable Laplace::rsample(const Shape& sample_shape, Generator* gen) const {
  const double eps = dtype() == DType::f32 ? std::numeric_limits<float>::epsilon()
                                           : std::numeric_limits<double>::epsilon();
  const Tensor u = detail::uniform(extended_shape(sample_shape), dtype(), gen, eps - 1, 1);
  const Variable w(-(sign(u) * log1p(-abs(u))));  // a standard Laplace draw, no parameters in it
  return loc_ + scale_ * w;
}

// log p(x) = -log(2 scale) - |x - loc| / scale
Variable Laplace::log_prob(const Variable& value) const {
  return -log(2.0 * scale_) - abs(value - loc_) / scale_;
}

// H = 1 + log(2 scale)
Variable Laplace::entropy() const { return 1.0 + log(2.0 * scale_); }

// F(x) = 1/2 - sign(x - loc) expm1(-|x - loc| / scale) / 2
Variable Laplace::cdf(const Variable& value) const {
  const Variable d = value - loc_;
  return 0.5 - 0.5 * Variable(sign(d.value())) * expm1(-abs(d) / scale_);
}

// F^-1(u) = loc - scale sign(u - 1/2) log1p(-2 |u - 1/2|)
Variable Laplace::icdf(const Variable& u) const {
  const Variable t = u - 0.5;
  return loc_ - scale_ * Variable(sign(t.value())) * log1p(-2.0 * abs(t));
}

// Var = 2 scale^2
Variable Laplace::variance() const { return 2.0 * square(scale_); }

Support Laplace::support() const {
  return {Support::Kind::real, Tensor::scalar(-detail::inf, dtype()),
          Tensor::scalar(detail::inf, dtype())};
}

std::shared_ptr<Distribution> Laplace::with_parameters(const std::vector<Variable>& params) const {
  return std::make_shared<Laplace>(params.at(0), params.at(1), validate_args());
}

// KL = -log r + |m1 - m2| / b2 + r exp(-|m1 - m2| / b1) - 1,  r = b1 / b2
Variable kl_laplace_laplace(const Laplace& p, const Laplace& q) {
  const Variable r = p.scale() / q.scale();
  const Variable d = abs(p.loc() - q.loc());
  return -log(r) + d / q.scale() + r * exp(-d / p.scale()) - 1.0;
}

TG_REGISTER_KL(Laplace, Laplace, kl_laplace_laplace);

}  // namespace tg::dist
