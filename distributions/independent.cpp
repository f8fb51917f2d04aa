// Independent(base, n) and its KL.
#include "tapegrad/distributions/independent.hpp"

#include <fmt/format.h>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"

namespace tg::dist {
namespace {

const Distribution& checked(const std::shared_ptr<Distribution>& base, int n) {
  if (!base) throw ValueError("Independent: base distribution is null");
  if (n < 0 || n > static_cast<int>(base->batch_shape().size())) {
    throw ShapeError(
        fmt::format("Independent: reinterpreted_batch_ndims = {} must be in [0, {}] for a "
                    "base {} of batch shape {}",
                    n, base->batch_shape().size(), base->name(), shape_str(base->batch_shape())));
  }
  return *base;
}

// (Both check first: the order in which the constructor's arguments are evaluated is unspecified.)
Shape outer_batch(const std::shared_ptr<Distribution>& base, int n) {
  const Shape& b = checked(base, n).batch_shape();
  return Shape(b.begin(), b.end() - n);
}

Shape inner_event(const std::shared_ptr<Distribution>& base, int n) {
  const Distribution& d = checked(base, n);
  const Shape& b = d.batch_shape();
  Shape e(b.end() - n, b.end());
  e.insert(e.end(), d.event_shape().begin(), d.event_shape().end());
  return e;
}

}  // namespace

Independent::Independent(std::shared_ptr<Distribution> base, int n,
                         std::optional<bool> validate_args)
    : Distribution(outer_batch(base, n), inner_event(base, n), checked(base, n).dtype(),
                   validate_args.has_value()
                       ? validate_args
                       : std::optional<bool>(checked(base, n).validate_args())),
      base_(std::move(base)),
      ndims_(n) {
  if (validate_args) base_->set_validate_args(*validate_args);  // log_prob validates in the base
}

void Independent::set_validate_args(bool validate) {
  Distribution::set_validate_args(validate);
  base_->set_validate_args(validate);
}

std::string Independent::name() const {
  return fmt::format("Independent({}, {})", base_->name(), ndims_);
}

Variable Independent::sample(const Shape& sample_shape, Generator* gen) const {
  return base_->sample(sample_shape, gen);
}

Variable Independent::rsample(const Shape& sample_shape, Generator* gen) const {
  if (!base_->has_rsample()) return Distribution::rsample(sample_shape, gen);  // the named error
  return base_->rsample(sample_shape, gen);
}

// log p(x) = sum over the reinterpreted dims of log p_base(x)
Variable Independent::log_prob(const Variable& value) const {
  return detail::sum_rightmost(base_->log_prob(value), ndims_);
}

// H = sum over the reinterpreted dims of H_base
Variable Independent::entropy() const { return detail::sum_rightmost(base_->entropy(), ndims_); }

std::shared_ptr<Distribution> Independent::with_parameters(
    const std::vector<Variable>& params) const {
  return std::make_shared<Independent>(base_->with_parameters(params), ndims_, validate_args());
}

// KL(prod_i p_i || prod_i q_i) = sum_i KL(p_i || q_i)
Variable kl_independent_independent(const Independent& p, const Independent& q) {
  return detail::sum_rightmost(kl_divergence(p.base(), q.base()), p.reinterpreted_batch_ndims());
}

[[maybe_unused]] static const bool tg_kl_registered_independent =
    register_kl<Independent, Independent>(kl_independent_independent, "Independent", "Independent",
                                          [](const Distribution& p, const Distribution& q) {
                                            const auto& ip = static_cast<const Independent&>(p);
                                            const auto& iq = static_cast<const Independent&>(q);
                                            return ip.reinterpreted_batch_ndims() ==
                                                       iq.reinterpreted_batch_ndims() &&
                                                   has_closed_form_kl(ip.base(), iq.base());
                                          });

}  // namespace tg::dist
