// The conformance kit's KL checks (testing_kit.hpp) and the audit of the whole KL registry
// (audit_kl in testing.hpp): closed forms against Monte Carlo estimates, in both directions, with q
// near d and far from it.
#include <fmt/format.h>

#include <algorithm>
#include <typeindex>

#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/testing_kit.hpp"

namespace tg::dist {
namespace kit {
namespace {

// The Monte Carlo estimate of KL(p || q) from n draws of p, per element of the broadcast batch
// shape: the mean of log p(x) - log q(x) and its standard error.
struct MonteCarlo {
  std::vector<double> mean, se;
};
MonteCarlo monte_carlo(const Distribution& p, const Distribution& q, std::int64_t n,
                       Generator& gen) {
  NoGradGuard no_grad;
  const Variable x = p.sample({n}, &gen);
  const Variable diff = p.log_prob(x) - q.log_prob(x);
  const Shape b = broadcast_shapes(p.batch_shape(), q.batch_shape(), "kl");
  Shape full = {n};
  full.insert(full.end(), b.begin(), b.end());
  const auto v = values_as(diff, full);
  const std::size_t m = static_cast<std::size_t>(numel(b));
  MonteCarlo out;
  for (std::size_t j = 0; j < m; ++j) {
    const Stats s = stats(v, j, m, static_cast<std::size_t>(n));
    out.mean.push_back(s.mean);
    out.se.push_back(std::sqrt(s.var / static_cast<double>(n)));
  }
  return out;
}

// Closed form against Monte Carlo for one ordered pair, into w. `what` names the pair.
void closed_vs_mc(const Distribution& p, const Distribution& q, const std::string& what,
                  std::int64_t n, double sigmas, double rounding, Generator& gen, Worst& w) {
  const auto kl = values(kl_divergence(p, q));
  const MonteCarlo mc = monte_carlo(p, q, n, gen);
  for (std::size_t j = 0; j < kl.size(); ++j) {
    const double tol = rounding * (1 + std::abs(kl[j]));
    const double se = mc.se[j], est = mc.mean[j];
    bool ok = within(est, kl[j], sigmas, se, tol);
    // A closed form of +inf: Monte Carlo sees it only if a draw lands where q has no mass.
    if (kl[j] == kInf && std::isfinite(est)) ok = true;
    const double z = std::abs(est - kl[j]) / (se + tol);
    w.add(ok, z / sigmas,
          fmt::format("{}: element {}: closed form {:.6g} vs Monte Carlo {:.6g} +- {:.3g}, {:.2f} "
                      "standard errors (bound {}) [{} samples]",
                      what, j, kl[j], est, se, z, sigmas, n));
  }
}

// The two ordered pairs of a partner: (d, q) and (q, d).
struct Direction {
  const Distribution& p;
  const Distribution& q;
  std::string what;
};
std::vector<Direction> directions(const Kit& k, const Kit::KLPartner& partner) {
  return {{k.d, *partner.q, fmt::format("KL(d, {})", partner.name)},
          {*partner.q, k.d, fmt::format("KL({}, d)", partner.name)}};
}

}  // namespace

const std::vector<Kit::KLPartner>& Kit::kl_partners() {
  if (partners_) return *partners_;
  std::vector<KLPartner> out;
  if (o.q) {
    out.push_back({"q", o.q});
  } else {
    if (!rebuild_ok) throw Error("the KL checks need with_parameters or options.q");
    for (std::size_t i = 0; i < o.kl_perturbations.size(); ++i) {
      const auto [a, b] = o.kl_perturbations[i];
      std::vector<Variable> params;
      for (const auto& p : d.parameters()) params.emplace_back(p.value() * a + b);
      out.push_back(
          {fmt::format("q{} = d(theta -> {:g} theta + {:g})", i + 1, a, b), rebuild(params)});
    }
  }
  partners_ = std::move(out);
  return *partners_;
}

// KL(d, d) = 0 up to rounding.
CheckResult check_kl_self_zero(Kit& k) {
  const KLResult r = kl_divergence_ex(k.d, k.d);
  const auto v = values(r.value);
  const double atol = k.rounding();
  Worst w;
  for (std::size_t j = 0; j < v.size(); ++j)
    w.add(std::abs(v[j]) <= atol, std::abs(v[j]) / atol,
          fmt::format("element {}: KL(d, d) = {:.3g} ({}, tolerance {:g})", j, v[j],
                      kl_method_name(r.method), atol));
  return w.result();
}

// KL >= 0 in both directions: the closed form when registered, else the Monte Carlo estimate
// within sigmas standard errors of being nonnegative.
CheckResult check_kl_nonnegative(Kit& k) {
  const double atol = k.rounding();
  Worst w;
  for (const auto& partner : k.kl_partners()) {
    for (const Direction& dir : directions(k, partner)) {
      const bool closed = has_closed_form_kl(dir.p, dir.q);
      MonteCarlo kl;
      if (closed) {
        kl.mean = values(kl_divergence(dir.p, dir.q));
        kl.se.assign(kl.mean.size(), 0);
      } else {
        kl = monte_carlo(dir.p, dir.q, k.o.samples, k.gen);
      }
      for (std::size_t j = 0; j < kl.mean.size(); ++j) {
        const double v = kl.mean[j], se = kl.se[j];
        const bool ok = !std::isnan(v) && v >= -(k.o.sigmas * se + atol);
        const double z = v < 0 ? -v / (se + atol) : 0;
        w.add(ok, z / k.o.sigmas,
              closed ? fmt::format("{}: element {} = {:.6g} (closed form, tolerance {:g})",
                                   dir.what, j, v, atol)
                     : fmt::format("{}: element {} = {:.6g} +- {:.3g} (Monte Carlo), {:.2f} "
                                   "standard errors below 0 (bound {})",
                                   dir.what, j, v, se, z, k.o.sigmas));
      }
    }
  }
  return w.result();
}

// Every registered closed form, both directions, every q, against its Monte Carlo estimate.
CheckResult check_kl_closed_form_vs_mc(Kit& k) {
  Worst w;
  std::vector<std::string> missing;
  for (const auto& partner : k.kl_partners()) {
    for (const Direction& dir : directions(k, partner)) {
      if (!has_closed_form_kl(dir.p, dir.q)) {
        missing.push_back(fmt::format("{} ({}, {})", dir.what, dir.p.name(), dir.q.name()));
        continue;
      }
      closed_vs_mc(dir.p, dir.q, dir.what, k.o.samples, k.o.sigmas, k.rounding(), k.gen, w);
    }
  }
  if (w.score < 0 && w.ok)
    return skip(fmt::format("no closed form registered for {}", fmt::join(missing, ", ")));
  std::string suffix;
  if (!missing.empty()) suffix = fmt::format("; no closed form for {}", fmt::join(missing, ", "));
  return w.result(suffix);
}

}  // namespace kit

ConformanceReport audit_kl(const std::vector<KLExample>& examples, const KLAuditOptions& o) {
  ConformanceReport report;
  report.distribution = "the KL registry";
  Generator gen(o.seed);
  auto matches = [](const KLExample& e, const KLEntry& entry) {
    return std::type_index(typeid(*e.p)) == entry.p && std::type_index(typeid(*e.q)) == entry.q;
  };
  const auto entries = registered_kl_pairs();
  for (const KLEntry& entry : entries) {
    CheckResult r;
    r.name = fmt::format("{} || {}", entry.p_name, entry.q_name);
    const KLExample* ex = nullptr;
    for (const auto& e : examples)
      if (matches(e, entry)) ex = &e;
    try {
      if (!ex) {
        r = kit::result(false,
                        "no example for this registered pair: give audit_kl one (the "
                        "project's list is in tests/distributions/test_kl.cpp)");
      } else if (!has_closed_form_kl(*ex->p, *ex->q)) {
        r = kit::result(false,
                        "the example's closed form does not apply to it (its applies() "
                        "predicate said no): choose an example it covers");
      } else {
        kit::Worst w;
        kit::closed_vs_mc(*ex->p, *ex->q, fmt::format("KL({}, {})", ex->p->name(), ex->q->name()),
                          o.samples, o.sigmas, 1e-12, gen, w);
        r = w.result();
      }
    } catch (const std::exception& e) {
      r = kit::result(false, fmt::format("threw: {}", e.what()));
    }
    r.name = fmt::format("{} || {}", entry.p_name, entry.q_name);
    report.checks.push_back(std::move(r));
  }
  for (const auto& e : examples) {
    if (std::none_of(entries.begin(), entries.end(),
                     [&](const KLEntry& entry) { return matches(e, entry); }))
      report.checks.push_back({fmt::format("{} || {}", e.p->name(), e.q->name()),
                               CheckResult::Status::fail,
                               "an example for a pair that is not registered"});
  }
  return report;
}

}  // namespace tg::dist
