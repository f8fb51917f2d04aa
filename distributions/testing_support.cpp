// The conformance kit's checks of the support and the normalization: samples have a finite
// log_prob, points outside the support get -inf (and raise with validation), and the density
// integrates to 1 (testing_kit.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <typeinfo>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/testing_kit.hpp"

namespace tg::dist::kit {

// log_prob of 1000 draws is finite: sample() stays inside the support.
CheckResult check_samples_in_support(Kit& k) {
  const Variable x = k.d.sample({1000}, &k.gen);
  const auto lp = values(k.d.log_prob(x));
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < lp.size(); ++i)
    if (!std::isfinite(lp[i]) && bad++ == 0) first = i;
  if (bad) {
    // log_prob's shape is sample + batch: element `first` of it is the first event of the draw
    // there
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
      s.lower.defined() && detail::all_of(s.lower, [](double v) { return std::isfinite(v); });
  const bool upper_finite =
      s.upper.defined() && detail::all_of(s.upper, [](double v) { return std::isfinite(v); });
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
  if (points.empty()) return result(true, "the support is the real line: nothing outside to test");
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
      hi = std::max(hi, std::isfinite(upper[j]) ? upper[j] : std::ceil(mean[j] + 20 * sd[j] + 20));
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
      worst.add(
          std::abs(total - 1) <= tol, std::abs(total - 1) / tol,
          fmt::format("batch element {}: the mass over {}..{} sums to {:.10g}", j, lo, hi, total));
    }
    return result(worst.ok, worst.what + fmt::format(" (tolerance {:g})", tol));
  }
  // Gauss-Legendre, 5 nodes on each of M panels of [a, b].
  static const double node[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831,
                                 0.9061798459386640};
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
          false, fmt::format("batch element {}: no integration range ([{}, {}]; mean {}, sd {})", j,
                             lo, hi, mean[j], sd[j]));
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
        fmt::format("batch element {}: the density integrates to {:.10g} over [{:.6g}, {:.6g}]", j,
                    total, a[j], a[j] + h[j] * static_cast<double>(M)));
  }
  return result(worst.ok,
                worst.what + fmt::format(" (tolerance {:g}, {} Gauss-Legendre panels)", tol, M));
}

}  // namespace tg::dist::kit

namespace tg::dist::kit {

// cdf and icdf, when the distribution has them: F(F^-1(u)) = u on a grid of u, dF/dx =
// exp(log_prob(x)) at draws, and the fraction of draws at or below F^-1(u) is u within sigmas
// binomial standard errors sqrt(u (1 - u) / n).
CheckResult check_cdf(Kit& k) {
  const Distribution& d = k.d;
  if (!d.has_cdf()) return skip("no cdf (has_cdf() is false)");
  if (!d.event_shape().empty()) return skip("only scalar events have a cdf");
  const Shape b = d.batch_shape();
  const std::size_t m = static_cast<std::size_t>(numel(b));
  const std::vector<double> us = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99};
  Shape grid = {static_cast<std::int64_t>(us.size())};
  grid.insert(grid.end(), b.begin(), b.end());
  std::vector<double> u;
  for (double v : us) u.insert(u.end(), m, v);
  const Variable uv(Tensor::from_values(grid, u, d.dtype()));
  const auto q = values_as(d.icdf(uv), grid);
  const auto back = values_as(d.cdf(Variable(Tensor::from_values(grid, q, d.dtype()))), grid);
  Worst w;
  const double tol = k.is_f64() ? 1e-9 : 1e-5;
  for (std::size_t i = 0; i < u.size(); ++i)
    w.add(std::abs(back[i] - u[i]) <= tol, std::abs(back[i] - u[i]) / tol,
          fmt::format("batch element {}: cdf(icdf({})) = {:.10g} (icdf {:.10g}; tolerance {:g})",
                      i % m, u[i], back[i], q[i], tol));
  // dF/dx against the density, at draws
  {
    GradModeGuard on(true);
    const Variable x(d.sample({50}, &k.gen).value(), true);
    const auto g = tg::grad({sum(d.cdf(x))}, {x});
    const auto dens = values(exp(d.log_prob(x)));
    const auto dx = values_as(g[0], x.shape());
    const auto xs = values(x);
    const double rtol = k.is_f64() ? 1e-6 : 1e-3;
    for (std::size_t i = 0; i < dens.size(); ++i) {
      const double allowed = rtol * (1 + std::abs(dens[i]));
      w.add(std::abs(dx[i] - dens[i]) <= allowed, std::abs(dx[i] - dens[i]) / allowed,
            fmt::format("element {} (x = {:.8g}): dcdf/dx {:.10g} vs exp(log_prob) {:.10g} "
                        "(rtol {:g})",
                        i, xs[i], dx[i], dens[i], rtol));
    }
  }
  // the empirical cdf of draws at the quantiles
  const std::int64_t n = k.o.samples;
  const auto x = values(d.sample({n}, &k.gen));
  for (std::size_t i = 0; i < u.size(); ++i) {
    const std::size_t j = i % m;
    std::int64_t below = 0;
    for (std::int64_t s = 0; s < n; ++s) below += x[static_cast<std::size_t>(s) * m + j] <= q[i];
    const double frac = static_cast<double>(below) / static_cast<double>(n);
    const double se = std::sqrt(u[i] * (1 - u[i]) / static_cast<double>(n));
    const double z = std::abs(frac - u[i]) / se;
    w.add(z <= k.o.sigmas, z / k.o.sigmas,
          fmt::format("batch element {}: a fraction {:.6g} of the draws is <= icdf({}) = {:.6g}, "
                      "{:.2f} standard errors (bound {}) [{} samples]",
                      j, frac, u[i], q[i], z, k.o.sigmas, n));
  }
  return w.result();
}

// d.expand(2 + batch) is the same type and distribution, repeated: its log_prob, mean, variance
// and entropy are d's, broadcast; a batch shape that does not broadcast raises ShapeError.
CheckResult check_expand(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  const Distribution& d = k.d;
  Shape nb = {2};
  nb.insert(nb.end(), d.batch_shape().begin(), d.batch_shape().end());
  const auto e = d.expand(nb);
  if (typeid(*e) != typeid(d))
    return result(false, fmt::format("expand returns a {}, not a {}", e->name(), d.name()));
  if (e->batch_shape() != nb || e->event_shape() != d.event_shape())
    return result(
        false, fmt::format("expand({}) has batch {} and event {}, expected batch {} "
                           "and event {}",
                           shape_str(nb), shape_str(e->batch_shape()), shape_str(e->event_shape()),
                           shape_str(nb), shape_str(d.event_shape())));
  Worst w;
  auto same = [&](const char* what, const Variable& got, const Variable& want, const Shape& s) {
    const auto a = values_as(got, s), b = values_as(want, s);
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double allowed = k.rounding() * (1 + std::abs(b[i]));
      const bool ok = a[i] == b[i] || std::abs(a[i] - b[i]) <= allowed;
      w.add(ok, ok ? 0 : kInf,
            fmt::format("{} element {}: expanded {:.10g} vs {:.10g}", what, i, a[i], b[i]));
    }
  };
  Shape ext = nb;
  ext.insert(ext.end(), d.event_shape().begin(), d.event_shape().end());
  same("mean", e->mean(), d.mean(), ext);
  same("variance", e->variance(), d.variance(), ext);
  same("entropy", e->entropy(), d.entropy(), nb);
  const Variable x = e->sample({3}, &k.gen);  // (3, 2) + batch + event
  Shape lp = {3};
  lp.insert(lp.end(), nb.begin(), nb.end());
  same("log_prob", e->log_prob(x), d.log_prob(x), lp);
  if (e->sample({4}, &k.gen).shape() != e->extended_shape({4}))
    w.add(false, kInf, "the expanded sample has the wrong shape");
  if (!d.batch_shape().empty()) {
    Shape bad = d.batch_shape();
    bad.back() += 1;
    try {
      d.expand(bad);
      w.add(false, kInf,
            fmt::format("expand({}) of batch {} did not raise ShapeError", shape_str(bad),
                        shape_str(d.batch_shape())));
    } catch (const ShapeError&) {
    }
  }
  return w.result(fmt::format(" (expand({}))", shape_str(nb)));
}

}  // namespace tg::dist::kit
