// Normal(loc, scale): the Gaussian N(loc, scale^2), with a reparameterized sampler
// x = loc + scale * eps, eps ~ N(0, 1) (the Gaussian reparameterization trick of the VAE).
#pragma once
#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class Normal : public Distribution {
 public:
  // loc and scale broadcast together; their common shape is the batch shape. scale > 0.
  Normal(Variable loc, Variable scale, std::optional<bool> validate_args = std::nullopt);

  std::string name() const override { return "Normal"; }
  const Variable& loc() const { return loc_; }
  const Variable& scale() const { return scale_; }

  Variable rsample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  bool has_rsample() const override { return true; }
  Variable log_prob(const Variable& value) const override;
  Variable entropy() const override;
  Variable mean() const override { return loc_; }
  Variable variance() const override;
  Variable stddev() const override { return scale_; }
  // F(x) = (1 + erf((x - loc) / (scale sqrt 2))) / 2;  F^-1(u) = loc + scale sqrt 2 erfinv(2u - 1)
  Variable cdf(const Variable& value) const override;
  Variable icdf(const Variable& u) const override;
  bool has_cdf() const override { return true; }
  Support support() const override;
  std::vector<Variable> parameters() const override { return {loc_, scale_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  // p = {loc, scale}, already broadcast to one shape and checked (detail::broadcast_params).
  Normal(std::vector<Variable> p, std::optional<bool> validate_args);
  Variable loc_, scale_;
};

// The closed form, also registered with the KL registry (kl.hpp):
// KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2.
Variable kl_normal_normal(const Normal& p, const Normal& q);

}  // namespace tg::dist
