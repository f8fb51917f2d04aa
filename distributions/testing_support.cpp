// The conformance kit's checks of the support and the normalization: samples have a finite
// log_prob, points outside the support get -inf (and raise with validation), and the density
// integrates to 1 (testing_kit.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "distributions/detail.hpp"
#include "distributions/testing_kit.hpp"

namespace tg::dist::kit {

// log_prob of 1000 draws is finite: sample() stays inside the support.
CheckResult check_samples_in_support(Kit& k) {
  const Variable x = k.d.sample({1000}, &k.gen);
  const auto lp = values(k.d.log_prob(x));
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < lp.size(); ++i)
    if (!std::isfinite(lp[i]) && bad++ == 0) first = i;
  if (bad) {
    // log_prob's shape is sample + batch: element `first` of it is the first event of the draw there
    const auto xs = values(x);
    const std::size_t per = xs.size() / lp.size();
    return result(false, fmt::format("{} of {} log_prob values of samples are not finite (first: "
                                     "element {}, sample {:.10g}, log_prob {})",
                                     bad, lp.size(), first, xs[first * per], lp[first]));
  }
  return result(true, fmt::format("{} log_prob values of samples, all finite", lp.size()));
}

// log_prob is -inf (not NaN, not a clamped number) just outside the support and at the extra points
// of options.outside_support, and raises ValueError there with validate_args on.
CheckResult check_support_edges(Kit& k) {
  const Shape be = k.be_shape();
  const Support s = k.d.support();
  std::vector<std::pair<std::string, Tensor>> points;
  const DType dt = k.d.dtype();
  auto bt = [&](const Tensor& t) { return broadcast_to(t.to(dt), be); };
  const bool lower_finite =
      s.lower.defined() &&
      detail::all_of(s.lower, [](double v) { return std::isfinite(v); });
  const bool upper_finite =
      s.upper.defined() &&
      detail::all_of(s.upper, [](double v) { return std::isfinite(v); });
  if (s.kind != Support::Kind::real) {
    if (lower_finite) {
      points.emplace_back("lower - 1", bt(s.lower) - 1.0);
      if (s.lower_open) points.emplace_back("lower (open)", bt(s.lower));
    }
    if (upper_finite) {
      points.emplace_back("upper + 1", bt(s.upper) + 1.0);
      if (s.upper_open) points.emplace_back("upper (open)", bt(s.upper));
    }
  }
  for (double v : k.o.outside_support)
    points.emplace_back(fmt::format("{}", v), Tensor::full(be, v, dt));
  if (points.empty())
    return result(true, "the support is the real line: nothing outside to test");
  std::vector<std::string> problems;
  std::string names;
  for (const auto& [name, t] : points) {
    names += (names.empty() ? "" : ", ") + name;
    const auto lp = values(k.d.log_prob(Variable(t)));
    for (std::size_t i = 0; i < lp.size(); ++i) {
      if (lp[i] != -kInf) {
        problems.push_back(
            fmt::format("log_prob({}) = {} at element {}, expected -inf", name, lp[i], i));
        break;
      }
    }
    if (k.rebuild_ok) {
      auto dv = k.rebuild(k.d.parameters());
      dv->set_validate_args(true);
      try {
        dv->log_prob(Variable(t));
        problems.push_back(
            fmt::format("with validate_args on, log_prob({}) did not raise ValueError", name));
      } catch (const ValueError&) {
      }
    }
  }
  if (!problems.empty()) return result(false, fmt::format("{}", fmt::join(problems, "; ")));
  return result(true, fmt::format("-inf (and ValueError when validating) at: {}", names));
}

// The density integrates to 1: Gauss-Legendre over the bounded support or over mean +- 20 sd (the
// mean a panel edge, where a kink such as the Laplace's may sit); the mass sums to 1 over an
// integer support.
CheckResult check_normalization(Kit& k) {
  if (!k.d.event_shape().empty())
    return skip(
        fmt::format("event shape {}: only scalar events are integrated (an Independent "
                    "normalizes when its base does)",
                    shape_str(k.d.event_shape())));
  const Shape b = k.d.batch_shape();
  const std::int64_t nb = numel(b);
  const Support s = k.d.support();
  const auto lower = values_as(Variable(s.lower.to(DType::f64)), b);
  const auto upper = values_as(Variable(s.upper.to(DType::f64)), b);
  const auto mean = values_as(k.d.mean(), b);
  const auto sd = values_as(k.d.stddev(), b);
  const double tol = k.is_f64() ? 1e-6 : 1e-4;
  Worst worst;
  if (s.kind == Support::Kind::integer) {
    double lo = kInf, hi = -kInf;
    for (std::int64_t j = 0; j < nb; ++j) {
      lo = std::min(lo, lower[j]);
      hi =
          std::max(hi, std::isfinite(upper[j]) ? upper[j] : std::ceil(mean[j] + 20 * sd[j] + 20));
    }
    if (!std::isfinite(lo)) lo = -1e5;  // not expected: integer supports are bounded below
    const std::int64_t count = static_cast<std::int64_t>(hi - lo) + 1;
    if (count > 1000000) return skip(fmt::format("support of {} values: too many to sum", count));
    Shape shape = {count};
    shape.insert(shape.end(), b.begin(), b.end());
    std::vector<double> v(static_cast<std::size_t>(count * nb));
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t j = 0; j < nb; ++j) v[k * nb + j] = lo + static_cast<double>(k);
    const auto lp =
        values_as(k.d.log_prob(Variable(Tensor::from_values(shape, v, k.d.dtype()))), shape);
    for (std::int64_t j = 0; j < nb; ++j) {
      double total = 0;
      for (std::int64_t k = 0; k < count; ++k) total += std::exp(lp[k * nb + j]);
      worst.add(std::abs(total - 1) <= tol, std::abs(total - 1) / tol,
                fmt::format("batch element {}: the mass over {}..{} sums to {:.10g}", j, lo, hi,
                            total));
    }
    return result(worst.ok, worst.what + fmt::format(" (tolerance {:g})", tol));
  }
  // Gauss-Legendre, 5 nodes on each of M panels of [a, b].
  static const double node[5] = {-0.9061798459386640, -0.5384693101056831, 0.0,
                                 0.5384693101056831, 0.9061798459386640};
  static const double weight[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889,
                                   0.4786286704993665, 0.2369268850561891};
  const std::int64_t M = std::max<std::int64_t>(2, k.o.quadrature_panels / 2 * 2);
  std::vector<double> a(nb), h(nb);
  for (std::int64_t j = 0; j < nb; ++j) {
    double lo = lower[j], hi = upper[j];
    if (k.o.integration_range) {
      lo = std::max(lo, k.o.integration_range->first);
      hi = std::min(hi, k.o.integration_range->second);
    } else if (!std::isfinite(lo) && !std::isfinite(hi)) {
      lo = mean[j] - 20 * sd[j];  // symmetric about the mean: a kink there is a panel edge
      hi = mean[j] + 20 * sd[j];
    } else if (!std::isfinite(lo)) {
      lo = std::min(hi, mean[j]) - 20 * sd[j];
    } else if (!std::isfinite(hi)) {
      hi = std::max(lo, mean[j]) + 20 * sd[j];
    }
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi))
      return result(
          false, fmt::format("batch element {}: no integration range ([{}, {}]; mean {}, sd {})",
                             j, lo, hi, mean[j], sd[j]));
    a[j] = lo;
    h[j] = (hi - lo) / static_cast<double>(M);
  }
  Shape shape = {M * 5};
  shape.insert(shape.end(), b.begin(), b.end());
  std::vector<double> v(static_cast<std::size_t>(M * 5 * nb));
  for (std::int64_t m = 0; m < M; ++m)
    for (int k = 0; k < 5; ++k)
      for (std::int64_t j = 0; j < nb; ++j)
        v[(m * 5 + k) * nb + j] = a[j] + (static_cast<double>(m) + (node[k] + 1) / 2) * h[j];
  const auto lp =
      values_as(k.d.log_prob(Variable(Tensor::from_values(shape, v, k.d.dtype()))), shape);
  for (std::int64_t j = 0; j < nb; ++j) {
    double total = 0;
    for (std::int64_t m = 0; m < M; ++m)
      for (int k = 0; k < 5; ++k) total += weight[k] * std::exp(lp[(m * 5 + k) * nb + j]);
    total *= h[j] / 2;
    worst.add(
        std::abs(total - 1) <= tol, std::abs(total - 1) / tol,
        fmt::format("batch element {}: the density integrates to {:.10g} over [{:.6g}, {:.6g}]",
                    j, total, a[j], a[j] + h[j] * static_cast<double>(M)));
  }
  return result(worst.ok,
                worst.what + fmt::format(" (tolerance {:g}, {} Gauss-Legendre panels)", tol, M));
}

}  // namespace tg::dist::kit
