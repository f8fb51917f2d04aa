// Independent(base, n): reinterprets the rightmost n batch dims of `base` as event dims, so
// log_prob and entropy sum over them. E.g. a VAE's posterior Normal(mu, sigma) with mu of shape
// (B, Z) has batch_shape (B, Z) and event_shape (); Independent(posterior, 1) has batch_shape (B)
// and event_shape (Z), and its log_prob(z) is the log density of the whole latent vector, shape
// (B).
#pragma once
#include <memory>

#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

class Independent : public Distribution {
 public:
  // 0 <= reinterpreted_batch_ndims <= base->batch_shape().size(). validate_args: the base's flag
  // when not given; when given, it is set on the base too (log_prob validates there).
  Independent(std::shared_ptr<Distribution> base, int reinterpreted_batch_ndims,
              std::optional<bool> validate_args = std::nullopt);

  std::string name() const override;  // "Independent(Normal, 1)"
  const Distribution& base() const { return *base_; }
  const std::shared_ptr<Distribution>& base_ptr() const { return base_; }
  int reinterpreted_batch_ndims() const { return ndims_; }

  Variable sample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  Variable rsample(const Shape& sample_shape = {}, Generator* gen = nullptr) const override;
  bool has_rsample() const override { return base_->has_rsample(); }
  Variable log_prob(const Variable& value) const override;  // base log_prob summed over the n dims
  Variable entropy() const override;                        // base entropy summed over the n dims
  Variable mean() const override { return base_->mean(); }
  Variable variance() const override { return base_->variance(); }
  Variable stddev() const override { return base_->stddev(); }
  Support support() const override { return base_->support(); }
  // Sets the flag on the base too (which log_prob consults); the base is shared with whoever made
  // it.
  void set_validate_args(bool validate) override;
  std::vector<Variable> parameters() const override { return base_->parameters(); }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& params) const override;

 private:
  std::shared_ptr<Distribution> base_;
  int ndims_;
};

// KL(Independent(p, n) || Independent(q, n)) = sum over the n reinterpreted dims of KL(p || q).
// Registered as a closed form that applies when (p.base, q.base) has one and n is the same.
Variable kl_independent_independent(const Independent& p, const Independent& q);

}  // namespace tg::dist
