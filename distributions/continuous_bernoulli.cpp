// ContinuousBernoulli, with torch.distributions' formulas (continuous_bernoulli.py), and its KL.
#include "tapegrad/distributions/continuous_bernoulli.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {
using detail::mask_of;
using detail::where;

ContinuousBernoulli::ContinuousBernoulli(Variable logits, std::optional<bool> validate_args,
                                         std::pair<double, double> lims)
    : Distribution(logits.shape(), {}, logits.dtype(), validate_args),
      logits_(std::move(logits)),
      lims_(lims) {
  if (this->validate_args()) {
    detail::require(detail::all_of(logits_.value(), [](double l) { return !std::isnan(l); }),
                    "ContinuousBernoulli(logits)", "logits must not be NaN");
  }
}

// logits = log c - log1p(-c),  c = clamp(lambda, eps, 1 - eps)
ContinuousBernoulli ContinuousBernoulli::from_probs(Variable probs,
                                                    std::optional<bool> validate_args,
                                                    std::pair<double, double> lims) {
  if (!probs.defined()) throw ValueError("ContinuousBernoulli::from_probs: probs are undefined");
  if (validate_args.value_or(default_validate_args())) {
    detail::require(detail::all_of(probs.value(), [](double p) { return p >= 0 && p <= 1; }),
                    "ContinuousBernoulli::from_probs", "probs must be in [0, 1]");
  }
  const double eps = probs.dtype() == DType::f32 ? std::numeric_limits<float>::epsilon()
                                                 : std::numeric_limits<double>::epsilon();
  const Variable c = clamp(probs, eps, 1 - eps);
  return ContinuousBernoulli(log(c) - log1p(-c), validate_args, lims);
}

// lambda = clamp(sigmoid(l), eps, 1 - eps), as torch's clamp_probs
Variable ContinuousBernoulli::probs() const {
  const double eps = dtype() == DType::f32 ? std::numeric_limits<float>::epsilon()
                                           : std::numeric_limits<double>::epsilon();
  return clamp(sigmoid(logits_), eps, 1 - eps);
}

// outside: lambda <= lims.first or lambda > lims.second, where the closed forms are used (else
// Taylor); cut: lambda outside the window, lims.first inside it (the closed forms are evaluated
// there harmlessly).
ContinuousBernoulli::Window ContinuousBernoulli::window() const {
  const double lo = lims_.first,
               hi = lims_.second;  // not a structured binding: clang 14 cannot capture one
  Variable p = probs();
  Tensor outside = mask_of(p.value(), [lo, hi](double v) { return v <= lo || v > hi; });
  Variable cut = where(outside, p, lo);
  return {std::move(p), std::move(outside), std::move(cut)};
}

// log C(lambda) = log |log(1 - lambda) - log lambda| - log |1 - 2 lambda|, split at lambda = 1/2
// into log1p(-2 lambda) and log(2 lambda - 1); inside the window the Taylor expansion around 1/2:
// log C = log 2 + (4/3 + 104/45 x) x,  x = (lambda - 1/2)^2.
Variable ContinuousBernoulli::log_normalizer() const {
  const auto [p, outside, cut] = window();
  const Tensor below = mask_of(cut.value(), [](double c) { return c <= 0.5; });
  const Tensor above = mask_of(cut.value(), [](double c) { return c >= 0.5; });
  const Variable cut_below = where(below, cut, 0.0);
  const Variable cut_above = where(above, cut, 1.0);
  const Variable log_norm = log(abs(log1p(-cut) - log(cut))) -
                            where(below, log1p(-2.0 * cut_below), log(2.0 * cut_above - 1.0));
  const Variable x = square(p - 0.5);
  const Variable taylor = std::numbers::ln2 + (4.0 / 3.0 + (104.0 / 45.0) * x) * x;
  return where(outside, log_norm, taylor);
}

// mean = lambda / (2 lambda - 1) + 1 / (log(1 - lambda) - log lambda);
// Taylor: 1/2 + (1/3 + 16/45 x^2) x,  x = lambda - 1/2
Variable ContinuousBernoulli::mean() const {
  const auto [p, outside, cut] = window();
  const Variable mus = cut / (2.0 * cut - 1.0) + 1.0 / (log1p(-cut) - log(cut));
  const Variable x = p - 0.5;
  const Variable taylor = 0.5 + (1.0 / 3.0 + (16.0 / 45.0) * square(x)) * x;
  return where(outside, mus, taylor);
}

// var = lambda (lambda - 1) / (1 - 2 lambda)^2 + 1 / (log(1 - lambda) - log lambda)^2;
// Taylor: 1/12 - (1/15 - 128/945 x) x,  x = (lambda - 1/2)^2
Variable ContinuousBernoulli::variance() const {
  const auto [p, outside, cut] = window();
  const Variable vars =
      cut * (cut - 1.0) / square(1.0 - 2.0 * cut) + 1.0 / square(log1p(-cut) - log(cut));
  const Variable x = square(p - 0.5);
  const Variable taylor = 1.0 / 12.0 - (1.0 / 15.0 - (128.0 / 945.0) * x) * x;
  return where(outside, vars, taylor);
}

// log p(x) = x l - softplus(l) + log C(lambda) on [0, 1] (-BCE-with-logits plus the normalizer);
// -inf outside [0, 1].
Variable ContinuousBernoulli::log_prob(const Variable& value) const {
  const Tensor inside = mask_of(value.value(), [](double v) { return v >= 0 && v <= 1; });
  check_support("log_prob", value.value(), inside);
  const Variable lp = value * logits_ - softplus(logits_) + log_normalizer();
  const Shape shape =
      broadcast_shapes(value.shape(), batch_shape(), "ContinuousBernoulli.log_prob");
  return detail::outside_to_neg_inf(broadcast_to(inside, shape), lp);
}

// H = mean (log(1 - lambda) - log lambda) - log C(lambda) - log(1 - lambda)
Variable ContinuousBernoulli::entropy() const {
  const Variable p = probs();
  const Variable log_p0 = log1p(-p);
  const Variable log_p1 = log(p);
  return mean() * (log_p0 - log_p1) - log_normalizer() - log_p0;
}

// In the natural parameter eta = logits, F(x) = (e^(eta x) - 1) / (e^eta - 1) and
// F^-1(u) = log(1 + u (e^eta - 1)) / eta. Outside the window: torch's formulas in lambda. Inside it
// torch returns x itself (F of a U(0, 1)), whose derivative in the logits is 0, so rsample's
// pathwise gradient would vanish there; we use the Taylor expansions in eta instead (error
// O(eta^3), under 1e-9 in the window), which keep the value within 1e-3 of torch's and give the
// right gradient:
//   F(x)    = x + eta x (x - 1) / 2 + eta^2 x (x - 1) (2x - 1) / 12
//   F^-1(u) = u + eta u (1 - u) / 2 + eta^2 u (1 - u) (1 - 2u) / 6
Variable ContinuousBernoulli::cdf(const Variable& value) const {
  const auto [p, outside, cut] = window();
  const Variable cdfs =
      (pow(cut, value) * pow(1.0 - cut, 1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0);
  const Variable eta = where(outside, 0.0, logits_);  // as in icdf
  const Variable w = value * (value - 1.0);
  const Variable taylor = value + eta * w * 0.5 + square(eta) * w * (2.0 * value - 1.0) / 12.0;
  const Shape shape = broadcast_shapes(value.shape(), batch_shape(), "ContinuousBernoulli.cdf");
  const Variable unbounded = where(broadcast_to(outside, shape), cdfs, taylor);
  const Tensor le0 = mask_of(value.value(), [](double v) { return v <= 0; });
  const Tensor ge1 = mask_of(value.value(), [](double v) { return v >= 1; });
  return where(le0, 0.0, where(ge1, 1.0, unbounded));
}

Variable ContinuousBernoulli::icdf(const Variable& u) const {
  const auto [p, outside, cut] = window();
  const Variable x = (log1p(-cut + u * (2.0 * cut - 1.0)) - log1p(-cut)) / (log(cut) - log1p(-cut));
  // inside the window |eta| < 0.004; elsewhere eta is replaced by 0 so the unused branch stays
  // finite
  const Variable eta = where(outside, 0.0, logits_);
  const Variable w = u * (1.0 - u);
  const Variable taylor = u + eta * w * 0.5 + square(eta) * w * (1.0 - 2.0 * u) / 6.0;
  const Shape shape = broadcast_shapes(u.shape(), batch_shape(), "ContinuousBernoulli.icdf");
  return where(broadcast_to(outside, shape), x, taylor);
}

// x = F^-1(u), u ~ U[0, 1): differentiable in the logits through icdf.
Variable ContinuousBernoulli::rsample(const Shape& sample_shape, Generator* gen) const {
  return icdf(Variable(detail::uniform(extended_shape(sample_shape), dtype(), gen, 0, 1)));
}

Support ContinuousBernoulli::support() const {
  return {Support::Kind::interval, Tensor::scalar(0, dtype()), Tensor::scalar(1, dtype())};
}

std::shared_ptr<Distribution> ContinuousBernoulli::with_parameters(
    const std::vector<Variable>& params) const {
  return std::make_shared<ContinuousBernoulli>(params.at(0), validate_args(), lims_);
}

// KL = mean_p (l_p - l_q) + log C_p + log(1 - lambda_p) - log C_q - log(1 - lambda_q)
Variable kl_continuous_bernoulli(const ContinuousBernoulli& p, const ContinuousBernoulli& q) {
  const Variable t1 = p.mean() * (p.logits() - q.logits());
  const Variable t2 = p.log_normalizer() + log1p(-p.probs());
  const Variable t3 = -q.log_normalizer() - log1p(-q.probs());
  return t1 + t2 + t3;
}

TG_REGISTER_KL(ContinuousBernoulli, ContinuousBernoulli, kl_continuous_bernoulli);

}  // namespace tg::dist
