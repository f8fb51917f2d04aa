// Laplace(loc, scale): density exp(-|x - loc| / scale) / (2 scale) on the real line, with a
// reparameterized sampler by inversion of the CDF. The worked example of docs/distributions.md.
#pragma once
#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class Laplace : public Distribution {
 public:
  // loc and scale broadcast together; scale > 0.
  Laplace(Variable loc, Variable scale, std::optional<bool> validate_args = std::nullopt);

  std::string name() const override { return "Laplace"; }
  const Variable& loc() const { return loc_; }
  const Variable& scale() const { return scale_; }

  Variable rsample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  bool has_rsample() const override { return true; }
  Variable log_prob(const Variable& value) const override;
  Variable entropy() const override;
  Variable mean() const override { return loc_; }
  Variable variance() const override;
  // F(x) = 1/2 - sign(x - loc) expm1(-|x - loc| / scale) / 2;
  // F^-1(u) = loc - scale sign(u - 1/2) log1p(-2 |u - 1/2|)
  Variable cdf(const Variable& value) const override;
  Variable icdf(const Variable& u) const override;
  bool has_cdf() const override { return true; }
  Support support() const override;
  std::vector<Variable> parameters() const override { return {loc_, scale_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  // p = {loc, scale}, already broadcast to one shape and checked (detail::broadcast_params).
  Laplace(std::vector<Variable> p, std::optional<bool> validate_args);
  Variable loc_, scale_;
};

// KL(L(m1, b1) || L(m2, b2)) = log(b2 / b1) + |m1 - m2| / b2 + (b1 / b2) exp(-|m1 - m2| / b1) - 1.
Variable kl_laplace_laplace(const Laplace& p, const Laplace& q);

}  // namespace tg::dist
