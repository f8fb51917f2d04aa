// Bernoulli: x in {0, 1} with P(x = 1) = p, stored as logits l = log(p / (1 - p)) so that log_prob,
// entropy and KL are stable for any logit, including the infinite logits of p = 0 and p = 1.
//
// log_prob(x) = x l - softplus(l) = -BCE_with_logits(l, x): the Bernoulli log-probability for x in
// {0, 1}; for grey values x in (0, 1) (a VAE's "Bernoulli decoder" on grey-scale MNIST) the
// cross-entropy PyTorch's Bernoulli also computes with validation off, which is NOT a normalized
// log-density there (ContinuousBernoulli is); -inf outside [0, 1]. With validate_args on, any value
// but 0 and 1 raises tg::ValueError.
#pragma once
#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class Bernoulli : public Distribution {
 public:
  // Any real (or infinite) logits.
  static Bernoulli from_logits(Variable logits, std::optional<bool> validate_args = std::nullopt);
  // probs in [0, 1]; logits = log(p) - log1p(-p), which is -inf at p = 0 and +inf at p = 1 (no
  // clamping).
  static Bernoulli from_probs(Variable probs, std::optional<bool> validate_args = std::nullopt);

  std::string name() const override { return "Bernoulli"; }
  const Variable& logits() const { return logits_; }
  // sigmoid(logits), or the probs given to from_probs.
  Variable probs() const;

  Variable sample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  Variable log_prob(const Variable& value) const override;
  Variable entropy() const override;
  Variable mean() const override { return probs(); }
  Variable variance() const override;
  Support support() const override;
  std::vector<Variable> parameters() const override { return {logits_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  Bernoulli(Variable logits, Variable probs, std::optional<bool> validate_args);
  Variable logits_;
  Variable probs_;  // defined only when built from probs
};

// KL(Bern(p) || Bern(q)) = p log(p / q) + (1 - p) log((1 - p) / (1 - q)), from the logits; 0 log 0
// = 0, +inf where p puts mass where q has none. Registered with the KL registry.
Variable kl_bernoulli_bernoulli(const Bernoulli& p, const Bernoulli& q);

}  // namespace tg::dist
