// Bernoulli, stored as logits, and its KL closed form.
#include "tapegrad/distributions/bernoulli.hpp"

#include <cmath>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {
using detail::where;

Bernoulli::Bernoulli(Variable logits, Variable probs, std::optional<bool> validate_args)
    : Distribution(logits.shape(), {}, logits.dtype(), validate_args),
      logits_(std::move(logits)),
      probs_(std::move(probs)) {}

Bernoulli Bernoulli::from_logits(Variable logits, std::optional<bool> validate_args) {
  if (!logits.defined()) throw ValueError("Bernoulli::from_logits: logits are undefined");
  Bernoulli b(logits, {}, validate_args);
  if (b.validate_args()) {
    detail::require(detail::all_of(logits.value(), [](double l) { return !std::isnan(l); }),
                    "Bernoulli::from_logits", "logits must not be NaN");
  }
  return b;
}

// logits = log p - log(1 - p): -inf at p = 0, +inf at p = 1.
Bernoulli Bernoulli::from_probs(Variable probs, std::optional<bool> validate_args) {
  if (!probs.defined()) throw ValueError("Bernoulli::from_probs: probs are undefined");
  Bernoulli b(log(probs) - log1p(-probs), probs, validate_args);
  if (b.validate_args()) {
    detail::require(detail::all_of(probs.value(), [](double p) { return p >= 0 && p <= 1; }),
                    "Bernoulli::from_probs", "probs must be in [0, 1]");
  }
  return b;
}

Variable Bernoulli::probs() const { return probs_.defined() ? probs_ : sigmoid(logits_); }

Variable Bernoulli::sample(const Shape& sample_shape, Generator* gen) const {
  Generator& g = gen ? *gen : default_generator();
  const Tensor p = tg::sigmoid(logits_.value());  // exactly 0 and 1 at infinite logits
  Tensor out = Tensor::empty(extended_shape(sample_shape), dtype());
  const std::int64_t n = p.numel();
  visit_dtype(dtype(), [&]<class T>() {
    for (std::int64_t k = 0; k < out.numel() / std::max<std::int64_t>(n, 1); ++k)
      g.fill_bernoulli<T>(out.data<T>() + k * n, n, p.data<T>());
  });
  return Variable(out);
}

// log p(x) = x l - softplus(l)  (= -BCE_with_logits(l, x); docs/elbo.md, eq. 15).
// For x in {0, 1} this is the Bernoulli log-probability. For grey values x in (0, 1) it is the
// cross-entropy that PyTorch's Bernoulli computes when validate_args is off, and that PyTorch's VAE
// example (and `vae train --binarize none`) trains on: not a normalised density there
// (docs/elbo.md, section 7). Outside [0, 1] it is -inf; with validate_args, any value but 0 and 1
// is an error. Infinite logits (probs exactly 0 or 1) are replaced by 0 before the formula, so no
// inf * 0 reaches the tape, and their exact value is selected afterwards: 0 for the certain
// outcome, -inf otherwise.
Variable Bernoulli::log_prob(const Variable& value) const {
  const Tensor& x = value.value();
  if (validate_args())
    check_support("log_prob", x, detail::mask_of(x, [](double v) { return v == 0 || v == 1; }));
  const bool any_infinite = detail::any_of(logits_.value(), [](double v) { return std::isinf(v); });
  const Tensor infinite = any_infinite ? detail::isinf_mask(logits_.value()) : Tensor();
  const Variable l = any_infinite ? detail::where(infinite, 0.0, logits_) : logits_;
  Variable lp = bernoulli_log_prob(l, value);  // x l - softplus(l), fused
  if (any_infinite) {
    const Tensor& lv = logits_.value();
    const Tensor zero = Tensor::scalar(0, lv.dtype()), one = Tensor::scalar(1, lv.dtype());
    const Tensor certain = tg::where(gt(lv, zero), eq(x, one), eq(x, zero));
    const Tensor exact = tg::where(certain, zero, Tensor::scalar(-detail::inf, lv.dtype()));
    lp = detail::where(broadcast_to(infinite, lp.shape()), Variable(exact), lp);
  }
  const auto in_unit_interval = [](double v) { return v >= 0 && v <= 1; };
  if (!detail::all_of(x, in_unit_interval))
    lp = detail::outside_to_neg_inf(detail::mask_of(x, in_unit_interval), lp);
  return lp;
}

// H = softplus(l) - l sigmoid(l) = softplus(-|l|) + |l| sigmoid(-|l|) (both halves stay finite);
// 0 at l = +-inf, where the logits are replaced by 0 first so no inf * 0 reaches the tape.
Variable Bernoulli::entropy() const {
  const Tensor infinite = detail::isinf_mask(logits_.value());
  const Variable a = abs(where(infinite, 0.0, logits_));
  return where(infinite, 0.0, softplus(-a) + a * sigmoid(-a));
}

// Var = p (1 - p) = sigmoid(l) sigmoid(-l)
Variable Bernoulli::variance() const {
  if (probs_.defined()) return probs_ * (1.0 - probs_);
  return sigmoid(logits_) * sigmoid(-logits_);
}

Support Bernoulli::support() const {
  return {Support::Kind::integer, Tensor::scalar(0, dtype()), Tensor::scalar(1, dtype())};
}

std::shared_ptr<Distribution> Bernoulli::with_parameters(
    const std::vector<Variable>& params) const {
  return std::make_shared<Bernoulli>(Bernoulli(params.at(0), {}, validate_args()));
}

// KL = p (log p - log q) + (1 - p) (log(1 - p) - log(1 - q))
//    = s(lp) (ls(lp) - ls(lq)) + s(-lp) (ls(-lp) - ls(-lq)),  s = sigmoid, ls = log_sigmoid.
// A term whose weight s(+-lp) is 0 is 0 (0 log 0 = 0), selected with where after replacing the
// infinite logit by 0, so neither inf * 0 nor its NaN gradient appears. Where q = 0 (or 1) but p is
// not, ls(lq) = -inf and the term is +inf, as it should be.
Variable kl_bernoulli_bernoulli(const Bernoulli& p, const Bernoulli& q) {
  const Variable& lp = p.logits();
  const Variable& lq = q.logits();
  const Tensor p_zero = detail::mask_of(lp.value(), [](double l) { return l == -detail::inf; });
  const Tensor p_one = detail::mask_of(lp.value(), [](double l) { return l == detail::inf; });
  const Variable lp1 = where(p_zero, 0.0, lp);  // finite wherever the first term counts
  const Variable lp0 = where(p_one, 0.0, lp);   // finite wherever the second term counts
  const Variable t1 = where(p_zero, 0.0, sigmoid(lp1) * (log_sigmoid(lp1) - log_sigmoid(lq)));
  const Variable t0 = where(p_one, 0.0, sigmoid(-lp0) * (log_sigmoid(-lp0) - log_sigmoid(-lq)));
  return t1 + t0;
}

TG_REGISTER_KL(Bernoulli, Bernoulli, kl_bernoulli_bernoulli);

}  // namespace tg::dist
