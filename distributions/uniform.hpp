// Uniform(low, high): the constant density 1 / (high - low) on [low, high), with a reparameterized
// sampler x = low + u (high - low), u ~ U[0, 1).
#pragma once
#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class Uniform : public Distribution {
 public:
  // low and high broadcast together; low < high.
  Uniform(Variable low, Variable high, std::optional<bool> validate_args = std::nullopt);

  std::string name() const override { return "Uniform"; }
  const Variable& low() const { return low_; }
  const Variable& high() const { return high_; }

  Variable rsample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  bool has_rsample() const override { return true; }
  // -log(high - low) on [low, high), -inf elsewhere.
  Variable log_prob(const Variable& value) const override;
  Variable entropy() const override;
  Variable mean() const override;
  Variable variance() const override;
  // F(x) = clamp((x - low) / (high - low), 0, 1);  F^-1(u) = low + u (high - low)
  Variable cdf(const Variable& value) const override;
  Variable icdf(const Variable& u) const override;
  bool has_cdf() const override { return true; }
  Support support() const override;
  std::vector<Variable> parameters() const override { return {low_, high_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  // p = {low, high}, already broadcast to one shape and checked (detail::broadcast_params).
  Uniform(std::vector<Variable> p, std::optional<bool> validate_args);
  Variable low_, high_;
};

// KL(U[a1, b1) || U[a2, b2)) = log((b2 - a2) / (b1 - a1)) when [a1, b1) lies inside [a2, b2), else
// +inf.
Variable kl_uniform_uniform(const Uniform& p, const Uniform& q);

}  // namespace tg::dist
