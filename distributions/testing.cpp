// The conformance kit (testing.hpp). Each check is a function that appends one CheckResult; the
// statistics are done in double on values pulled out of the tensors.
#include "distributions/testing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <sstream>
#include <typeinfo>

#include "autograd/gradcheck.hpp"
#include "distributions/detail.hpp"
#include "distributions/kl.hpp"

namespace tg::dist {
namespace {

using Status = CheckResult::Status;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> values(const Variable& v) { return v.value().to_vector(); }
std::vector<double> values_as(const Variable& v, const Shape& shape) {
  return v.shape() == shape ? v.value().to_vector() : broadcast_to(v.value(), shape).to_vector();
}

// Fresh leaves holding the parameters' values in `dtype` (through f32 first when round_f32, so the
// f64 version has exactly the f32 version's parameters).
std::vector<Variable> leaves(const std::vector<Variable>& params, DType dtype, bool requires_grad,
                             bool round_f32 = false) {
  std::vector<Variable> out;
  for (const auto& p : params) {
    Tensor t = round_f32 ? p.value().to(DType::f32).to(dtype) : p.value().to(dtype);
    out.emplace_back(t.clone(), requires_grad);
  }
  return out;
}

struct Stats {
  double mean = 0, var = 0, m4 = 0;  // var unbiased; m4 the fourth central moment
};
Stats stats(const std::vector<double>& x, std::size_t offset, std::size_t stride, std::size_t n) {
  Stats s;
  double acc = 0;
  for (std::size_t i = 0; i < n; ++i) acc += x[offset + i * stride];
  s.mean = acc / static_cast<double>(n);
  double a2 = 0, a4 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = x[offset + i * stride] - s.mean;
    a2 += d * d;
    a4 += d * d * d * d;
  }
  s.var = n > 1 ? a2 / static_cast<double>(n - 1) : 0;
  s.m4 = a4 / static_cast<double>(n);
  return s;
}

// |a - b| <= k se + atol, with NaN never passing.
bool within(double a, double b, double k, double se, double atol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= k * se + atol;
}

// Keeps the worst offender of a series of comparisons.
struct Worst {
  double score = -1;  // |difference| / allowed
  std::string what;
  bool ok = true;
  void add(bool pass, double s, std::string w) {
    if (std::isnan(s)) s = kInf;
    if (!pass) {
      if (ok || s >= score) score = s, what = std::move(w);
      ok = false;
    } else if (ok && s > score) {
      score = s;
      what = std::move(w);
    }
  }
};

class Kit {
 public:
  Kit(const Distribution& d, const ConformanceOptions& o) : d_(d), o_(o), gen_(o.seed) {
    report_.distribution = d.name();
  }

  ConformanceReport run() {
    run_check("with_parameters", [&] { return check_with_parameters(); });
    run_check("shapes", [&] { return check_shapes(); });
    run_check("sample_no_grad", [&] { return check_sample_no_grad(); });
    run_check("samples_in_support", [&] { return check_samples_in_support(); });
    run_check("support_edges", [&] { return check_support_edges(); });
    run_check("normalization", [&] { return check_normalization(); });
    run_moments();
    run_check("entropy", [&] { return check_entropy(); });
    run_check("gradcheck", [&] { return check_gradcheck(); });
    run_gradients();
    run_kl();
    run_check("dtype_agreement", [&] { return check_dtypes(); });
    return report_;
  }

 private:
  const Distribution& d_;
  const ConformanceOptions& o_;
  Generator gen_;
  ConformanceReport report_;
  bool rebuild_ok_ = true;  // with_parameters works: the checks that need it may run

  bool skipped(const std::string& name) const {
    return std::find(o_.skip.begin(), o_.skip.end(), name) != o_.skip.end();
  }
  void add(std::string name, Status s, std::string detail) {
    report_.checks.push_back({std::move(name), s, std::move(detail)});
  }
  // Runs one check; an exception is a failure that names it.
  void run_check(const std::string& name, const std::function<CheckResult()>& fn) {
    if (skipped(name)) return add(name, Status::skip, "skipped by options.skip");
    try {
      CheckResult r = fn();
      r.name = name;
      report_.checks.push_back(std::move(r));
    } catch (const std::exception& e) {
      add(name, Status::fail, fmt::format("threw: {}", e.what()));
    }
  }
  static CheckResult result(bool ok, std::string detail) {
    return {"", ok ? Status::pass : Status::fail, std::move(detail)};
  }
  static CheckResult skip(std::string why) { return {"", Status::skip, std::move(why)}; }

  Shape be_shape() const { return d_.extended_shape({}); }
  std::int64_t event_numel() const { return numel(d_.event_shape()); }
  bool is_f64() const { return d_.dtype() == DType::f64; }
  // Relative slack for comparisons that have no statistical error: rounding in d's dtype.
  double rounding() const { return is_f64() ? 1e-9 : 1e-5; }

  std::shared_ptr<Distribution> rebuild(const std::vector<Variable>& params) const {
    return d_.with_parameters(params);
  }
  std::shared_ptr<Distribution> f64_version(bool requires_grad,
                                            std::vector<Variable>* out_params = nullptr,
                                            bool round_f32 = false) const {
    auto params = leaves(d_.parameters(), DType::f64, requires_grad, round_f32);
    if (out_params) *out_params = params;
    return rebuild(params);
  }

  // E[f], f(x) = sum over the event of x^2: sum over event dims of variance + mean^2, batch-shaped.
  static Variable expected_f(const Distribution& d) {
    const Shape be = d.extended_shape({});
    Variable m = d.mean(), v = d.variance();
    if (m.shape() != be) m = broadcast_to(m, be);
    if (v.shape() != be) v = broadcast_to(v, be);
    return detail::sum_rightmost(v + square(m), static_cast<std::int64_t>(d.event_shape().size()));
  }

  // --- with_parameters ---------------------------------------------------------------------------
  CheckResult check_with_parameters() {
    auto r = rebuild(d_.parameters());
    const auto& a = d_;
    const auto& b = *r;
    std::vector<std::string> problems;
    if (typeid(a) != typeid(b)) {
      problems.push_back(fmt::format("returns a {} ({}), not a {} ({}): override with_parameters",
                                     b.name(), typeid(b).name(), a.name(), typeid(a).name()));
    }
    if (a.batch_shape() != b.batch_shape() || a.event_shape() != b.event_shape()) {
      problems.push_back(fmt::format("shapes differ: batch {} event {} vs batch {} event {}",
                                     shape_str(a.batch_shape()), shape_str(a.event_shape()),
                                     shape_str(b.batch_shape()), shape_str(b.event_shape())));
    }
    auto same = [&](const char* what, const Variable& x, const Variable& y) {
      if (x.shape() != y.shape() || !allclose(x.value(), y.value(), rounding(), rounding(), true))
        problems.push_back(fmt::format("{}() differs after rebuilding", what));
    };
    if (problems.empty()) {
      same("mean", a.mean(), b.mean());
      same("variance", a.variance(), b.variance());
      same("entropy", a.entropy(), b.entropy());
    }
    rebuild_ok_ = problems.empty();
    if (!rebuild_ok_) return result(false, fmt::format("{}", fmt::join(problems, "; ")));
    return result(
        true, fmt::format("{} parameter(s), same type, shapes and values", d_.parameters().size()));
  }

  // --- shapes ------------------------------------------------------------------------------------
  CheckResult check_shapes() {
    std::vector<std::string> problems;
    const Shape ss = {2, 3};
    const Shape ext = d_.extended_shape(ss);
    Shape lp_shape = ss;
    lp_shape.insert(lp_shape.end(), d_.batch_shape().begin(), d_.batch_shape().end());
    auto expect = [&](const char* what, const Shape& got, const Shape& want) {
      if (got != want)
        problems.push_back(
            fmt::format("{} has shape {}, expected {}", what, shape_str(got), shape_str(want)));
    };
    const Variable x = d_.sample(ss, &gen_);
    expect("sample({2, 3})", x.shape(), ext);
    if (x.dtype() != d_.dtype()) problems.push_back("sample has the wrong dtype");
    expect("log_prob(sample)", d_.log_prob(x).shape(), lp_shape);
    expect("entropy()", d_.entropy().shape(), d_.batch_shape());
    const Shape be = be_shape();
    auto broadcastable = [&](const char* what, const Shape& got) {
      if (broadcast_shapes(got, be, what) != be)
        problems.push_back(fmt::format("{} has shape {}, not broadcastable to {}", what,
                                       shape_str(got), shape_str(be)));
    };
    broadcastable("mean()", d_.mean().shape());
    broadcastable("variance()", d_.variance().shape());
    if (d_.has_rsample()) {
      expect("rsample({2, 3})", d_.rsample(ss, &gen_).shape(), ext);
    } else {
      try {
        d_.rsample(ss, &gen_);
        problems.push_back("has_rsample() is false but rsample() did not throw");
      } catch (const Error& e) {
        if (std::string(e.what()).find(d_.name()) == std::string::npos)
          problems.push_back(
              fmt::format("rsample's error does not name {}: {}", d_.name(), e.what()));
      }
    }
    if (!problems.empty()) return result(false, fmt::format("{}", fmt::join(problems, "; ")));
    return result(
        true, fmt::format("batch {}, event {}, sample({{2, 3}}) {}", shape_str(d_.batch_shape()),
                          shape_str(d_.event_shape()), shape_str(ext)));
  }

  // --- sample has no gradient --------------------------------------------------------------------
  CheckResult check_sample_no_grad() {
    if (!rebuild_ok_) return skip("needs with_parameters");
    auto params = leaves(d_.parameters(), d_.dtype(), true);
    auto d = rebuild(params);
    const Variable x = d->sample({4}, &gen_);
    if (x.requires_grad()) return result(false, "sample() returned a variable that requires grad");
    if (d->has_rsample()) {
      const Variable y = d->rsample({4}, &gen_);
      if (!y.requires_grad())
        return result(false, "rsample() of parameters that require grad does not require grad");
      return result(true, "sample() is detached, rsample() carries the gradient");
    }
    return result(true, "sample() is detached");
  }

  // --- samples are in the support ----------------------------------------------------------------
  CheckResult check_samples_in_support() {
    const Variable x = d_.sample({1000}, &gen_);
    const auto lp = values(d_.log_prob(x));
    std::size_t bad = 0, first = 0;
    for (std::size_t i = 0; i < lp.size(); ++i)
      if (!std::isfinite(lp[i]) && bad++ == 0) first = i;
    if (bad)
      return result(
          false, fmt::format("{} of {} log_prob values of samples are not finite (first: element "
                             "{}, log_prob {})",
                             bad, lp.size(), first, lp[first]));
    return result(true, fmt::format("{} log_prob values of samples, all finite", lp.size()));
  }

  // --- -inf outside the support ------------------------------------------------------------------
  CheckResult check_support_edges() {
    const Shape be = be_shape();
    const Support s = d_.support();
    std::vector<std::pair<std::string, Tensor>> points;
    const DType dt = d_.dtype();
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
    for (double v : o_.outside_support)
      points.emplace_back(fmt::format("{}", v), Tensor::full(be, v, dt));
    if (points.empty())
      return result(true, "the support is the real line: nothing outside to test");
    std::vector<std::string> problems;
    std::string names;
    for (const auto& [name, t] : points) {
      names += (names.empty() ? "" : ", ") + name;
      const auto lp = values(d_.log_prob(Variable(t)));
      for (std::size_t i = 0; i < lp.size(); ++i) {
        if (lp[i] != -kInf) {
          problems.push_back(
              fmt::format("log_prob({}) = {} at element {}, expected -inf", name, lp[i], i));
          break;
        }
      }
      if (rebuild_ok_) {
        auto dv = rebuild(d_.parameters());
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

  // --- normalization -----------------------------------------------------------------------------
  CheckResult check_normalization() {
    if (!d_.event_shape().empty())
      return skip(
          fmt::format("event shape {}: only scalar events are integrated (an Independent "
                      "normalizes when its base does)",
                      shape_str(d_.event_shape())));
    const Shape b = d_.batch_shape();
    const std::int64_t nb = numel(b);
    const Support s = d_.support();
    const auto lower = values_as(Variable(s.lower.to(DType::f64)), b);
    const auto upper = values_as(Variable(s.upper.to(DType::f64)), b);
    const auto mean = values_as(d_.mean(), b);
    const auto sd = values_as(d_.stddev(), b);
    const double tol = is_f64() ? 1e-6 : 1e-4;
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
          values_as(d_.log_prob(Variable(Tensor::from_values(shape, v, d_.dtype()))), shape);
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
    const std::int64_t M = std::max<std::int64_t>(2, o_.quadrature_panels / 2 * 2);
    std::vector<double> a(nb), h(nb);
    for (std::int64_t j = 0; j < nb; ++j) {
      double lo = lower[j], hi = upper[j];
      if (o_.integration_range) {
        lo = std::max(lo, o_.integration_range->first);
        hi = std::min(hi, o_.integration_range->second);
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
        values_as(d_.log_prob(Variable(Tensor::from_values(shape, v, d_.dtype()))), shape);
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

  // --- moments -----------------------------------------------------------------------------------
  void run_moments() {
    const bool want_mean = !skipped("mean"), want_var = !skipped("variance");
    if (!want_mean) add("mean", Status::skip, "skipped by options.skip");
    if (!want_var) add("variance", Status::skip, "skipped by options.skip");
    if (!want_mean && !want_var) return;
    try {
      const Shape be = be_shape();
      const std::size_t m = static_cast<std::size_t>(numel(be));
      const std::size_t n = static_cast<std::size_t>(o_.samples);
      const auto x = values(d_.sample({o_.samples}, &gen_));
      const auto mu = values_as(d_.mean(), be);
      const auto var = values_as(d_.variance(), be);
      Worst wm, wv;
      const double k = o_.sigmas;
      for (std::size_t j = 0; j < m; ++j) {
        const Stats s = stats(x, j, m, n);
        const double se_m = std::sqrt(s.var / static_cast<double>(n));
        const double atol = rounding() * (1 + std::abs(mu[j]));
        const bool okm = within(s.mean, mu[j], k, se_m, atol);
        wm.add(okm, std::abs(s.mean - mu[j]) / (se_m + atol),
               fmt::format("element {}: sample mean {:.6g} vs mean() {:.6g}, {:.2f} standard "
                           "errors (bound {})",
                           j, s.mean, mu[j], std::abs(s.mean - mu[j]) / (se_m + atol), k));
        // Var(s^2) = mu4 / n - sigma^4 (n - 3) / (n (n - 1))  (exact for i.i.d. draws; the second
        // term matters when mu4 = sigma^4, e.g. a Bernoulli(1/2))
        const double nn = static_cast<double>(n);
        // floored at its smallest possible value, 2 sigma^4 / (n (n - 1)) (as mu4 >= sigma^4),
        // which the plug-in estimate can undershoot when mu4 ~ sigma^4
        const double se_v =
            std::sqrt(std::max(s.m4 / nn - s.var * s.var * (nn - 3) / (nn * (nn - 1)),
                               2 * s.var * s.var / (nn * (nn - 1))));
        const double atol_v = rounding() * (1 + std::abs(var[j]));
        const bool okv = within(s.var, var[j], k, se_v, atol_v);
        wv.add(okv, std::abs(s.var - var[j]) / (se_v + atol_v),
               fmt::format("element {}: sample variance {:.6g} vs variance() {:.6g}, {:.2f} "
                           "standard errors (bound {})",
                           j, s.var, var[j], std::abs(s.var - var[j]) / (se_v + atol_v), k));
      }
      if (want_mean)
        add("mean", wm.ok ? Status::pass : Status::fail, wm.what + fmt::format(" [{} samples]", n));
      if (want_var)
        add("variance", wv.ok ? Status::pass : Status::fail,
            wv.what + fmt::format(" [{} samples]", n));
    } catch (const std::exception& e) {
      if (want_mean) add("mean", Status::fail, fmt::format("threw: {}", e.what()));
      if (want_var) add("variance", Status::fail, fmt::format("threw: {}", e.what()));
    }
  }

  // --- entropy -----------------------------------------------------------------------------------
  CheckResult check_entropy() {
    const Shape b = d_.batch_shape();
    const std::size_t m = static_cast<std::size_t>(numel(b));
    const std::size_t n = static_cast<std::size_t>(o_.samples);
    const Variable x = d_.sample({o_.samples}, &gen_);
    Shape lp_shape = {o_.samples};
    lp_shape.insert(lp_shape.end(), b.begin(), b.end());
    const auto lp = values_as(d_.log_prob(x), lp_shape);  // (a wrong shape throws: a failure)
    const auto h = values_as(d_.entropy(), b);
    Worst w;
    for (std::size_t j = 0; j < m; ++j) {
      const Stats s = stats(lp, j, m, n);
      const double se = std::sqrt(s.var / static_cast<double>(n));
      const double atol = rounding() * (1 + std::abs(h[j]));
      const bool ok = within(-s.mean, h[j], o_.sigmas, se, atol);
      w.add(ok, std::abs(-s.mean - h[j]) / (se + atol),
            fmt::format("element {}: -E[log_prob] {:.6g} vs entropy() {:.6g}, {:.2f} standard "
                        "errors (bound {})",
                        j, -s.mean, h[j], std::abs(-s.mean - h[j]) / (se + atol), o_.sigmas));
    }
    return result(w.ok, w.what + fmt::format(" [{} samples]", n));
  }

  // --- gradcheck ---------------------------------------------------------------------------------
  CheckResult check_gradcheck() {
    if (!rebuild_ok_) return skip("needs with_parameters");
    std::vector<Variable> params;
    auto d64 = f64_version(true, &params);
    const Variable x = d64->sample({3}, &gen_);
    GradcheckOptions go;
    go.raise = false;
    std::vector<std::string> failed;
    auto run = [&](const char* what, const std::function<Variable(const Distribution&)>& f) {
      const bool ok =
          gradcheck([&](const std::vector<Variable>& in) { return f(*rebuild(in)); }, params, go);
      if (!ok) failed.push_back(what);
    };
    run("log_prob", [&](const Distribution& d) { return d.log_prob(x); });
    run("entropy", [&](const Distribution& d) { return d.entropy(); });
    run("mean", [&](const Distribution& d) { return d.mean(); });
    run("variance", [&](const Distribution& d) { return d.variance(); });
    if (!failed.empty()) {
      return result(false, fmt::format("gradcheck failed for: {} (analytical vs central "
                                       "differences, f64)",
                                       fmt::join(failed, ", ")));
    }
    return result(
        true,
        "log_prob, entropy, mean, variance: analytical gradients match central differences (f64)");
  }

  // --- the three gradient estimates --------------------------------------------------------------
  struct Estimate {
    std::vector<double> mean, se;  // per parameter element, all parameters flattened
    bool available = false;
    std::string why;
  };

  static std::vector<double> flatten_grads(const std::vector<Variable>& grads,
                                           const std::vector<Variable>& params) {
    std::vector<double> out;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (grads[i].defined()) {
        auto v = values_as(grads[i], params[i].shape());
        out.insert(out.end(), v.begin(), v.end());
      } else {
        out.insert(out.end(), static_cast<std::size_t>(params[i].numel()), 0.0);
      }
    }
    return out;
  }

  Estimate batched(
      const std::function<Variable(const Distribution&, const std::vector<Variable>&)>& loss) {
    Estimate e;
    std::vector<Variable> params = leaves(d_.parameters(), DType::f64, true);
    std::vector<std::vector<double>> g;
    for (std::int64_t k = 0; k < o_.gradient_batches; ++k) {
      GradModeGuard on(true);
      // rebuilt every time: a distribution may record ops on its parameters when constructed (a
      // broadcast, normalized logits), and each backward releases what it walked through
      const auto d64 = rebuild(params);
      const Variable L = loss(*d64, params);
      g.push_back(flatten_grads(tg::grad({L}, params), params));
    }
    const std::size_t p = g[0].size(), K = g.size();
    e.mean.assign(p, 0);
    e.se.assign(p, 0);
    for (std::size_t j = 0; j < p; ++j) {
      std::vector<double> col(K);
      for (std::size_t k = 0; k < K; ++k) col[k] = g[k][j];
      const Stats s = stats(col, 0, 1, K);
      e.mean[j] = s.mean;
      e.se[j] = std::sqrt(s.var / static_cast<double>(K));
    }
    e.available = true;
    return e;
  }

  // d/dtheta E[f] through rsample: the mean of df(x)/dtheta over the batch.
  Estimate pathwise() {
    if (!d_.has_rsample()) return {{}, {}, false, "no rsample"};
    return batched([&](const Distribution& d, const std::vector<Variable>&) {
      const Variable x = d.rsample({o_.gradient_batch_size}, &gen_);
      return sum(square(x)) / static_cast<double>(o_.gradient_batch_size);
    });
  }

  // E[(f(x) - b) d log p(x)/dtheta], x from sample(), b = E[f] (a baseline: it lowers the variance
  // and, as E[d log p / dtheta] = 0, adds no bias).
  Estimate score() {
    if (d_.support().depends_on_parameters)
      return {{},
              {},
              false,
              "the support depends on the parameters: the score-function estimator misses the "
              "boundary term"};
    return batched([&](const Distribution& d, const std::vector<Variable>&) {
      const Variable x = d.sample({o_.gradient_batch_size}, &gen_);
      const Variable fx =
          detail::sum_rightmost(square(x), static_cast<std::int64_t>(d.event_shape().size()));
      const Variable base = expected_f(d).detach();
      const Variable weight = (fx - base).detach();
      return sum(weight * d.log_prob(x)) / static_cast<double>(o_.gradient_batch_size);
    });
  }

  // Central differences of the closed form E[f] = sum(variance + mean^2), f64.
  std::vector<double> finite_differences() {
    std::vector<Variable> params = leaves(d_.parameters(), DType::f64, false);
    std::vector<double> out;
    auto value = [&]() { return sum(expected_f(*rebuild(params))).item(); };
    for (auto& p : params) {
      Tensor& t = p.mutable_value();
      double* data = t.data<double>();
      for (std::int64_t j = 0; j < t.numel(); ++j) {
        const double x0 = data[j];
        const double h = 1e-6 * std::max(1.0, std::abs(x0));
        data[j] = x0 + h;
        const double fp = value();
        data[j] = x0 - h;
        const double fm = value();
        data[j] = x0;
        out.push_back((fp - fm) / (2 * h));
      }
    }
    return out;
  }

  void compare(const std::string& name, const Estimate& a, const char* an, const Estimate* b,
               const char* bn, const std::vector<double>* fd) {
    if (skipped(name)) return add(name, Status::skip, "skipped by options.skip");
    if (!a.available) return add(name, Status::skip, fmt::format("{}: {}", an, a.why));
    if (b && !b->available) return add(name, Status::skip, fmt::format("{}: {}", bn, b->why));
    Worst w;
    for (std::size_t j = 0; j < a.mean.size(); ++j) {
      const double other = b ? b->mean[j] : (*fd)[j];
      const double se = b ? std::hypot(a.se[j], b->se[j]) : a.se[j];
      const double atol = 1e-6 * (1 + std::abs(other));
      const bool ok = within(a.mean[j], other, o_.sigmas, se, atol);
      w.add(ok, std::abs(a.mean[j] - other) / (o_.sigmas * se + atol),
            fmt::format("parameter element {}: {} {:.6g} +- {:.2g} vs {} {:.6g}{}, {:.2f} standard "
                        "errors (bound {})",
                        j, an, a.mean[j], a.se[j], b ? bn : "finite differences of E[f]", other,
                        b ? fmt::format(" +- {:.2g}", b->se[j]) : std::string(),
                        std::abs(a.mean[j] - other) / (se + atol), o_.sigmas));
    }
    add(name, w.ok ? Status::pass : Status::fail,
        w.what + fmt::format(" [d/dtheta E[sum x^2], {} x {} samples]", o_.gradient_batches,
                             o_.gradient_batch_size));
  }

  void run_gradients() {
    const char* names[] = {"grad_pathwise_vs_fd", "grad_score_vs_fd", "grad_pathwise_vs_score"};
    if (!rebuild_ok_) {
      for (auto n : names) add(n, Status::skip, "needs with_parameters");
      return;
    }
    try {
      const Estimate path = pathwise();
      const Estimate sf = score();
      const std::vector<double> fd = finite_differences();
      compare(names[0], path, "pathwise", nullptr, nullptr, &fd);
      compare(names[1], sf, "score function", nullptr, nullptr, &fd);
      compare(names[2], path, "pathwise", &sf, "score function", nullptr);
    } catch (const std::exception& e) {
      for (auto n : names) add(n, Status::fail, fmt::format("threw: {}", e.what()));
    }
  }

  // --- KL ----------------------------------------------------------------------------------------
  std::shared_ptr<const Distribution> make_q() const {
    if (o_.q) return o_.q;
    std::vector<Variable> params;
    for (const auto& p : d_.parameters()) params.emplace_back(p.value() * 1.1 + 0.05);
    return rebuild(params);
  }

  void run_kl() {
    const char* names[] = {"kl_self_zero", "kl_nonnegative", "kl_closed_form_vs_mc"};
    std::shared_ptr<const Distribution> q;
    try {
      if (!o_.q && !rebuild_ok_) {
        for (auto n : names) add(n, Status::skip, "needs with_parameters or options.q");
        return;
      }
      q = make_q();
    } catch (const std::exception& e) {
      for (auto n : names) add(n, Status::fail, fmt::format("making q threw: {}", e.what()));
      return;
    }
    const double atol = rounding();
    run_check(names[0], [&] {
      const KLResult r = kl_divergence_ex(d_, d_);
      double worst = 0;
      for (double v : values(r.value)) worst = std::isnan(v) ? kInf : std::max(worst, std::abs(v));
      return result(worst <= atol, fmt::format("max |KL(d, d)| = {:.3g} ({}, tolerance {:g})",
                                               worst, kl_method_name(r.method), atol));
    });
    // Per-sample log p(x) - log q(x): the Monte Carlo estimate and its standard error.
    auto mc = [&](std::vector<double>& mean, std::vector<double>& se) {
      const Variable x = d_.sample({o_.samples}, &gen_);
      Variable diff = d_.log_prob(x) - q->log_prob(x);
      const Shape b = broadcast_shapes(d_.batch_shape(), q->batch_shape(), "kl");
      Shape full = {o_.samples};
      full.insert(full.end(), b.begin(), b.end());
      const auto v = values_as(diff, full);
      const std::size_t m = static_cast<std::size_t>(numel(b));
      for (std::size_t j = 0; j < m; ++j) {
        const Stats s = stats(v, j, m, static_cast<std::size_t>(o_.samples));
        mean.push_back(s.mean);
        se.push_back(std::sqrt(s.var / static_cast<double>(o_.samples)));
      }
    };
    run_check(names[1], [&] {
      const bool closed = has_closed_form_kl(d_, *q);
      std::vector<double> kl, se;
      if (closed) {
        kl = values(kl_divergence(d_, *q));
        se.assign(kl.size(), 0);
      } else {
        mc(kl, se);
      }
      Worst w;
      for (std::size_t j = 0; j < kl.size(); ++j) {
        const bool ok = !std::isnan(kl[j]) && kl[j] >= -(o_.sigmas * se[j] + atol);
        w.add(ok, kl[j] < 0 ? -kl[j] / (o_.sigmas * se[j] + atol) : 0,
              fmt::format("element {}: KL(d, q) = {:.6g} ({})", j, kl[j],
                          closed ? "closed form" : "Monte Carlo"));
      }
      return result(w.ok, w.what + fmt::format(", q = {}", q->name()));
    });
    run_check(names[2], [&] {
      if (!has_closed_form_kl(d_, *q))
        return skip(fmt::format("no closed form registered for ({}, {})", d_.name(), q->name()));
      const auto kl = values(kl_divergence(d_, *q));
      std::vector<double> est, se;
      mc(est, se);
      Worst w;
      for (std::size_t j = 0; j < kl.size(); ++j) {
        const double tol = rounding() * (1 + std::abs(kl[j]));
        bool ok = within(est[j], kl[j], o_.sigmas, se[j], tol);
        // A closed form of +inf: Monte Carlo sees it only if a draw lands where q has no mass.
        if (kl[j] == kInf && std::isfinite(est[j])) ok = true;
        w.add(ok, std::abs(est[j] - kl[j]) / (o_.sigmas * se[j] + tol),
              fmt::format(
                  "element {}: closed form {:.6g} vs Monte Carlo {:.6g} +- {:.3g} ({} samples)", j,
                  kl[j], est[j], se[j], o_.samples));
      }
      return result(w.ok, w.what);
    });
  }

  // --- f32 vs f64 --------------------------------------------------------------------------------
  CheckResult check_dtypes() {
    if (!rebuild_ok_) return skip("needs with_parameters");
    auto p64 = leaves(d_.parameters(), DType::f64, false, true);
    auto p32 = leaves(d_.parameters(), DType::f32, false);
    auto d64 = rebuild(p64);
    auto d32 = rebuild(p32);
    if (d64->dtype() != DType::f64 || d32->dtype() != DType::f32)
      return result(false, "with_parameters does not follow the parameters' dtype");
    const Variable x32 = d32->sample({16}, &gen_);
    const Variable x64(x32.value().to(DType::f64));
    Worst w;
    auto cmp = [&](const char* what, const Variable& a32, const Variable& a64) {
      const auto a = values(a32), b = values(a64);
      if (a.size() != b.size()) {
        w.add(false, kInf,
              fmt::format("{}: {} f32 values vs {} f64 values", what, a.size(), b.size()));
        return;
      }
      for (std::size_t j = 0; j < a.size(); ++j) {
        const double allowed = o_.dtype_atol + o_.dtype_rtol * std::abs(b[j]);
        const bool ok = (a[j] == b[j]) || std::abs(a[j] - b[j]) <= allowed;
        w.add(ok, std::isinf(b[j]) ? (a[j] == b[j] ? 0 : kInf) : std::abs(a[j] - b[j]) / allowed,
              fmt::format("{} element {}: f32 {:.8g} vs f64 {:.8g}", what, j, a[j], b[j]));
      }
    };
    cmp("log_prob", d32->log_prob(x32), d64->log_prob(x64));
    cmp("mean", d32->mean(), d64->mean());
    cmp("variance", d32->variance(), d64->variance());
    cmp("entropy", d32->entropy(), d64->entropy());
    if (has_closed_form_kl(*d64, *d64)) {
      // q: the perturbed parameters rounded to f32, so both versions perturb the same values
      std::vector<Variable> q32, q64;
      for (const auto& p : p64) {
        const Tensor t = (p.value() * 1.1 + 0.05).to(DType::f32);
        q32.emplace_back(t);
        q64.emplace_back(t.to(DType::f64));
      }
      cmp("KL(d, perturbed d)", kl_divergence(*d32, *rebuild(q32)),
          kl_divergence(*d64, *rebuild(q64)));
    }
    return result(
        w.ok, w.what + fmt::format(" (worst; rtol {:g}, atol {:g})", o_.dtype_rtol, o_.dtype_atol));
  }
};

}  // namespace

bool ConformanceReport::passed() const {
  return std::none_of(checks.begin(), checks.end(),
                      [](const CheckResult& c) { return c.status == CheckResult::Status::fail; });
}

const CheckResult* ConformanceReport::find(const std::string& name) const {
  for (const auto& c : checks)
    if (c.name == name) return &c;
  return nullptr;
}

bool ConformanceReport::failed(const std::string& name) const {
  const CheckResult* c = find(name);
  return c && c->status == CheckResult::Status::fail;
}

namespace {
std::string line(const CheckResult& c) {
  const char* tag = c.status == CheckResult::Status::pass   ? "PASS"
                    : c.status == CheckResult::Status::fail ? "FAIL"
                                                            : "SKIP";
  return fmt::format("  [{}] {}: {}\n", tag, c.name, c.detail);
}
}  // namespace

std::string ConformanceReport::to_string() const {
  std::string s = fmt::format("conformance of {}: {}\n", distribution,
                              passed() ? "all checks passed" : "FAILED");
  for (const auto& c : checks) s += line(c);
  return s;
}

std::string ConformanceReport::failures() const {
  std::string s;
  for (const auto& c : checks)
    if (c.status == CheckResult::Status::fail) s += line(c);
  return s;
}

ConformanceReport check_distribution(const Distribution& d, const ConformanceOptions& options) {
  return Kit(d, options).run();
}

}  // namespace tg::dist
