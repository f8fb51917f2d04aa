// Uniform(low, high) and its KL closed form.
#include "tapegrad/distributions/uniform.hpp"

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {

Uniform::Uniform(Variable low, Variable high, std::optional<bool> validate_args)
    : Uniform(detail::broadcast_params("Uniform", {low, high}), validate_args) {}

Uniform::Uniform(std::vector<Variable> p, std::optional<bool> validate_args)
    : Distribution(p[0].shape(), {}, p[0].dtype(), validate_args), low_(p[0]), high_(p[1]) {
  if (this->validate_args()) {
    const Tensor ordered = lt(low_.value(), high_.value());
    detail::require(detail::all_of(ordered, [](double m) { return m != 0; }), "Uniform(low, high)",
                    "low must be < high");
  }
}

// x = low + u (high - low),  u ~ U[0, 1): dx/dlow = 1 - u, dx/dhigh = u.
Variable Uniform::rsample(const Shape& sample_shape, Generator* gen) const {
  const Variable u(detail::uniform(extended_shape(sample_shape), dtype(), gen, 0, 1));
  return low_ + u * (high_ - low_);
}

// log p(x) = -log(high - low) for low <= x < high, -inf elsewhere
Variable Uniform::log_prob(const Variable& value) const {
  const Tensor inside = ge(value.value(), low_.value()) * lt(value.value(), high_.value());
  check_support("log_prob", value.value(), inside);
  const Variable lp = -log(high_ - low_);
  return detail::outside_to_neg_inf(inside, lp);
}

// F(x) = clamp((x - low) / (high - low), 0, 1)
Variable Uniform::cdf(const Variable& value) const {
  return clamp((value - low_) / (high_ - low_), 0.0, 1.0);
}

// F^-1(u) = low + u (high - low)
Variable Uniform::icdf(const Variable& u) const { return low_ + u * (high_ - low_); }

// H = log(high - low)
Variable Uniform::entropy() const { return log(high_ - low_); }

// mean = (low + high) / 2
Variable Uniform::mean() const { return 0.5 * (low_ + high_); }

// Var = (high - low)^2 / 12
Variable Uniform::variance() const { return square(high_ - low_) / 12.0; }

Support Uniform::support() const {
  Support s{Support::Kind::interval, low_.value(), high_.value()};
  s.upper_open = true;
  s.depends_on_parameters = true;
  return s;
}

std::shared_ptr<Distribution> Uniform::with_parameters(const std::vector<Variable>& params) const {
  return std::make_shared<Uniform>(params.at(0), params.at(1), validate_args());
}

// KL = log((b2 - a2) / (b1 - a1)) if a2 <= a1 and b1 <= b2, else +inf
Variable kl_uniform_uniform(const Uniform& p, const Uniform& q) {
  const Tensor contained =
      le(q.low().value(), p.low().value()) * ge(q.high().value(), p.high().value());
  return detail::where(contained, log((q.high() - q.low()) / (p.high() - p.low())), detail::inf);
}

TG_REGISTER_KL(Uniform, Uniform, kl_uniform_uniform);

}  // namespace tg::dist
