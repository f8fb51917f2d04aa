// ContinuousBernoulli(logits) (Loaiza-Ganem & Cunningham 2019): the density on [0, 1]
//   p(x | lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x),  lambda = sigmoid(logits),
//   C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda)  (C = 2 at lambda = 1/2),
// the normalized version of the "Bernoulli likelihood of grey-scale pixels" of VAEs. Its formulas
// follow torch.distributions.ContinuousBernoulli exactly, including its unstable window
// lims = (0.499, 0.501) around lambda = 1/2, where log C, the mean and the variance switch to
// Taylor expansions in (lambda - 1/2), and lambda clamped to [eps, 1 - eps] (eps the dtype's
// epsilon). rsample inverts the CDF, so it is differentiable. One deliberate difference from torch:
// inside the window, cdf and icdf use second-order Taylor expansions in the logits where torch uses
// the identity (so torch's rsample has a zero gradient there, which the conformance kit reports).
#pragma once
#include <utility>

#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class ContinuousBernoulli : public Distribution {
 public:
  explicit ContinuousBernoulli(Variable logits, std::optional<bool> validate_args = std::nullopt,
                               std::pair<double, double> lims = {0.499, 0.501});

  // From lambda in [0, 1], clamped to [eps, 1 - eps] first (as torch does: the density is
  // degenerate at 0 and 1), then logits = log lambda - log1p(-lambda).
  static ContinuousBernoulli from_probs(Variable probs,
                                        std::optional<bool> validate_args = std::nullopt,
                                        std::pair<double, double> lims = {0.499, 0.501});
  static ContinuousBernoulli from_logits(Variable logits,
                                         std::optional<bool> validate_args = std::nullopt,
                                         std::pair<double, double> lims = {0.499, 0.501}) {
    return ContinuousBernoulli(std::move(logits), validate_args, lims);
  }

  std::string name() const override { return "ContinuousBernoulli"; }
  const Variable& logits() const { return logits_; }
  // lambda = clamp(sigmoid(logits), eps, 1 - eps)
  Variable probs() const;
  // log C(lambda), the log-normalizer
  Variable log_normalizer() const;

  Variable rsample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  bool has_rsample() const override { return true; }
  Variable log_prob(const Variable& value) const override;
  Variable entropy() const override;
  Variable mean() const override;
  Variable variance() const override;
  // F(x) = (lambda^x (1 - lambda)^(1 - x) + lambda - 1) / (2 lambda - 1) on [0, 1]; 0 below, 1
  // above
  Variable cdf(const Variable& value) const override;
  // F^-1(u) = (log1p(-lambda + u (2 lambda - 1)) - log1p(-lambda)) / (log lambda - log1p(-lambda))
  Variable icdf(const Variable& u) const override;
  bool has_cdf() const override { return true; }
  Support support() const override;
  std::vector<Variable> parameters() const override { return {logits_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  // lambda, the 0/1 mask of where it lies outside the unstable window, and lambda cut to the
  // window's edge inside it (continuous_bernoulli.cpp).
  struct Window {
    Variable probs;
    Tensor outside;
    Variable cut;
  };
  Window window() const;
  Variable logits_;
  std::pair<double, double> lims_;
};

// KL(p || q) = mean_p (l_p - l_q) + log C(lambda_p) + log(1 - lambda_p) - log C(lambda_q)
// - log(1 - lambda_q), as torch computes it. Registered with the KL registry.
Variable kl_continuous_bernoulli(const ContinuousBernoulli& p, const ContinuousBernoulli& q);

}  // namespace tg::dist
