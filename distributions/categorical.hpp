// Categorical(logits): one of K categories, logits over the last axis (unnormalized
// log-probabilities; -inf for an impossible category). batch_shape = logits.shape[:-1], event_shape
// = (); a value is a category index stored as a float of the logits' dtype. log_prob of anything
// but an integer in [0, K) is -inf.
#pragma once
#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class Categorical : public Distribution {
 public:
  explicit Categorical(Variable logits, std::optional<bool> validate_args = std::nullopt);
  // From probabilities over the last axis (>= 0, normalized here, as torch does): logits = log
  // probs. Unlike torch, which clamps probs to [eps, 1 - eps] first, a probability of 0 gives
  // logits -inf, so that category's log_prob is -inf (an impossible value), as for
  // Bernoulli::from_probs.
  static Categorical from_probs(Variable probs, std::optional<bool> validate_args = std::nullopt);
  static Categorical from_logits(Variable logits,
                                 std::optional<bool> validate_args = std::nullopt) {
    return Categorical(std::move(logits), validate_args);
  }

  std::string name() const override { return "Categorical"; }
  // Normalized: logits - logsumexp(logits), i.e. log-probabilities (as torch's .logits).
  const Variable& logits() const { return log_probs_; }
  Variable probs() const;  // softmax(logits)
  std::int64_t num_categories() const { return k_; }

  Variable sample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  Variable log_prob(const Variable& value) const override;
  Variable entropy() const override;
  // The moments of the index: sum_k k p_k and sum_k k^2 p_k - mean^2 (torch returns NaN here).
  Variable mean() const override;
  Variable variance() const override;
  Support support() const override;
  std::vector<Variable> parameters() const override { return {raw_logits_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  Variable raw_logits_, log_probs_;
  std::int64_t k_;
};

// KL = sum_k p_k (log p_k - log q_k), with 0 log 0 = 0 and +inf where p_k > 0 = q_k.
Variable kl_categorical_categorical(const Categorical& p, const Categorical& q);

}  // namespace tg::dist
