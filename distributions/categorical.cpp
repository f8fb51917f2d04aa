// Categorical(logits) and its KL closed form.
#include "tapegrad/distributions/categorical.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {
using detail::mask_of;
using detail::where;

namespace {
Shape batch_of(const Variable& logits) {
  if (!logits.defined() || logits.dim() < 1) {
    throw ShapeError(
        fmt::format("Categorical(logits): logits need at least one axis (the categories), "
                    "got shape {}",
                    logits.defined() ? shape_str(logits.shape()) : "undefined"));
  }
  return Shape(logits.shape().begin(), logits.shape().end() - 1);
}
}  // namespace

// log p_k = l_k - logsumexp_j l_j
Categorical::Categorical(Variable logits, std::optional<bool> validate_args)
    : Distribution(batch_of(logits), {}, logits.dtype(), validate_args),
      raw_logits_(logits),
      log_probs_(logits - logsumexp(logits, {-1}, true)),
      k_(logits.size(-1)) {
  if (this->validate_args()) {
    detail::require(detail::all_of(log_probs_.value(), [](double l) { return !std::isnan(l); }),
                    "Categorical(logits)",
                    "logits must not be NaN, nor all -inf along the last axis");
  }
}

// logits = log p (the constructor normalizes: log p_k - log sum_j p_j)
Categorical Categorical::from_probs(Variable probs, std::optional<bool> validate_args) {
  if (!probs.defined()) throw ValueError("Categorical::from_probs: probs are undefined");
  if (validate_args.value_or(default_validate_args())) {
    detail::require(
        detail::all_of(probs.value(), [](double p) { return p >= 0 && std::isfinite(p); }),
        "Categorical::from_probs", "probs must be finite and >= 0");
  }
  return Categorical(log(probs), validate_args);
}

// p_k = exp(log p_k) = softmax(logits)_k
Variable Categorical::probs() const { return exp(log_probs_); }

// Inversion: the first k with u < p_0 + ... + p_k, u ~ U[0, 1).
Variable Categorical::sample(const Shape& sample_shape, Generator* gen) const {
  const Shape shape = extended_shape(sample_shape);
  const Tensor u = detail::uniform(shape, DType::f64, gen, 0, 1);
  const std::vector<double> p = tg::exp(log_probs_.value()).to_vector();
  const std::vector<double> uu = u.to_vector();
  const std::int64_t rows = static_cast<std::int64_t>(p.size()) / k_;
  std::vector<double> out(uu.size());
  for (std::size_t i = 0; i < uu.size(); ++i) {
    const double* pr =
        p.data() + (static_cast<std::int64_t>(i) % std::max<std::int64_t>(rows, 1)) * k_;
    double c = 0;
    std::int64_t k = 0;
    for (; k < k_ - 1; ++k) {
      c += pr[k];
      if (uu[i] < c) break;
    }
    // skip categories of probability 0 that rounding might land on at the end
    while (k > 0 && pr[k] == 0) --k;
    out[i] = static_cast<double>(k);
  }
  return Variable(Tensor::from_values(shape, out, dtype()));
}

// log p(x) = log p_x, picked with a one-hot selection (not a product, so -inf log-probabilities of
// the other categories do not make 0 * -inf); -inf unless x is an integer in [0, K).
Variable Categorical::log_prob(const Variable& value) const {
  const Tensor& v = value.value();
  const double kmax = static_cast<double>(k_ - 1);
  const Tensor inside =
      mask_of(v, [kmax](double x) { return x >= 0 && x <= kmax && x == std::floor(x); });
  check_support("log_prob", v, inside);
  const Tensor onehot =
      eq(unsqueeze(v, -1), Tensor::arange(0, static_cast<double>(k_), 1, dtype()));
  const Variable lp = sum(where(onehot, log_probs_, 0.0), {-1});
  return detail::outside_to_neg_inf(inside, lp);
}

// H = -sum_k p_k log p_k  (0 log 0 = 0)
Variable Categorical::entropy() const {
  const Tensor positive = mask_of(log_probs_.value(), [](double l) { return l > -detail::inf; });
  return -sum(probs() * where(positive, log_probs_, 0.0), {-1});
}

// E[k] = sum_k k p_k
Variable Categorical::mean() const {
  const Variable k(Tensor::arange(0, static_cast<double>(k_), 1, dtype()));
  return sum(probs() * k, {-1});
}

// Var[k] = sum_k k^2 p_k - (sum_k k p_k)^2
Variable Categorical::variance() const {
  const Variable k(Tensor::arange(0, static_cast<double>(k_), 1, dtype()));
  const Variable p = probs();
  return sum(p * square(k), {-1}) - square(sum(p * k, {-1}));
}

Support Categorical::support() const {
  return {Support::Kind::integer, Tensor::scalar(0, dtype()),
          Tensor::scalar(static_cast<double>(k_ - 1), dtype())};
}

std::shared_ptr<Distribution> Categorical::with_parameters(
    const std::vector<Variable>& params) const {
  return std::make_shared<Categorical>(params.at(0), validate_args());
}

// KL = sum_k p_k (log p_k - log q_k); terms with p_k = 0 are 0 (the -inf log p_k replaced by 0
// first).
Variable kl_categorical_categorical(const Categorical& p, const Categorical& q) {
  if (p.num_categories() != q.num_categories()) {
    throw ShapeError(fmt::format("kl_divergence(Categorical, Categorical): {} vs {} categories",
                                 p.num_categories(), q.num_categories()));
  }
  const Tensor p_zero = mask_of(p.logits().value(), [](double l) { return l == -detail::inf; });
  const Variable lp = where(p_zero, 0.0, p.logits());
  return sum(where(p_zero, 0.0, exp(lp) * (lp - q.logits())), {-1});
}

TG_REGISTER_KL(Categorical, Categorical, kl_categorical_categorical);

}  // namespace tg::dist
