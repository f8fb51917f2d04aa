// The conformance kit: the test a new distribution's author runs to learn whether it is right.
//
//   TEST_CASE("Laplace conforms") {
//     Laplace d(Variable(Tensor::from_values({2}, {0.3, -1.0}, DType::f64)),
//               Variable(Tensor::from_values({2}, {0.7, 2.0}, DType::f64)));
//     TG_REQUIRE_CONFORMS(d);  // or TG_REQUIRE_CONFORMS(d, options)
//   }
//
// check_distribution runs every check below on `d` and returns a report (one line per check: PASS,
// FAIL or SKIP, with the numbers). Statistical checks use a fixed-seed Generator and a CLT bound of
// `sigmas` standard errors, so a correct distribution passes every time and a wrong one fails every
// time, given the same seed. The checks:
//   with_parameters    d.with_parameters(d.parameters()) rebuilds the same type with the same
//                      values (the kit relies on it to differentiate, perturb and convert d)
//   shapes             sample/rsample/log_prob/entropy/mean/variance shapes; rsample raises a
//                      tg::Error naming the distribution when has_rsample() is false
//   sample_no_grad     sample() never requires grad; rsample() does when the parameters do
//   samples_in_support log_prob of samples is finite
//   support_edges      log_prob is -inf (not NaN, not a clamped number) at points outside the
//                      support (made from support() plus options.outside_support), and raises
//                      tg::ValueError there with validate_args on
//   normalization      the density integrates to 1 (Gauss-Legendre over the bounded support or over
//                      mean +- 20 sd, the mean being a panel edge); the mass sums to 1 for discrete
//                      ones
//   cdf                (when has_cdf()) cdf(icdf(u)) = u, d cdf/dx = exp(log_prob), and the
//                      fraction of draws below icdf(u) is u within sigmas binomial standard errors
//   expand             d.expand(2 + batch_shape) is the same type, its values d's broadcast; an
//                      incompatible batch shape raises ShapeError
//   mean, variance     sample moments agree with mean() and variance() (variance-of-variance from
//                      the sample's fourth moment)
//   entropy            entropy() agrees with -E[log_prob] (Monte Carlo)
//   gradcheck          log_prob, entropy, mean, variance (and cdf, icdf) pass tg::gradcheck in f64;
//   a failure
//                      names the function, the Jacobian element and both derivatives
//   rsample_gradcheck  rsample is an exact, differentiable function of the parameters:
//   tg::gradcheck
//                      of rsample(sample_shape) with a Generator re-seeded before every evaluation
//                      (so the noise is the same each time), in f64; catches a detached,
//                      sign-flipped or slightly scaled reparameterization that the statistical
//                      checks miss
//   grad_*             d/dtheta E[f(x)], f(x) = sum over the event of x^2, three ways: pathwise
//                      (through rsample), score function (E[(f(x) - b) d log p(x)/dtheta],
//                      b = E[f], through sample) and central differences of the closed form
//                      E[f] = sum(variance + mean^2); every available pair must agree. Each
//                      estimator is computed on its own: one that throws fails only its own pairs
//   kl_*               KL(d, d) = 0; KL(d, q) >= 0 and KL(q, d) >= 0; a registered closed form
//   agrees
//                      with its Monte Carlo estimate in both directions, KL(d, q) from draws of d
//                      and KL(q, d) from draws of q. q: options.q, or d with its parameters
//                      perturbed, theta -> a theta + b for each (a, b) of options.kl_perturbations
//                      (a near one, a narrowing one and a far one by default: a closed form with p
//                      and q swapped agrees with the truth when q is close to d)
//   dtype_agreement    the f32 and f64 versions agree on log_prob, mean, variance, entropy and KL
// Every failing line names the element, both values and, for the statistical checks, the distance
// in standard errors and its bound.
//
// audit_kl checks every closed form of the KL registry against its Monte Carlo estimate, given one
// example pair per registered type pair; a registered pair with no example is a failure.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

struct ConformanceOptions {
  std::uint64_t seed = 12345;
  double sigmas = 5.0;                 // CLT bound, in standard errors
  std::int64_t samples = 20000;        // for the moments, entropy and KL Monte Carlo checks
  std::int64_t gradient_batches = 40;  // gradient estimates: batches whose spread gives the error
  std::int64_t gradient_batch_size = 500;
  std::int64_t rsample_gradcheck_samples = 3;  // sample_shape {n} of the rsample gradcheck
  std::int64_t quadrature_panels = 2000;  // Gauss-Legendre panels (5 nodes each), an even number
  std::optional<std::pair<double, double>> integration_range{};  // override mean +- 20 sd
  // Scalars outside the support (each broadcast over batch + event shape) that must get -inf, in
  // addition to those derived from support().
  std::vector<double> outside_support{};
  // The second distribution of the KL checks; default: d with perturbed parameters, one q per
  // (a, b) below: theta -> a theta + b for every parameter (a, b > 0 keep positive parameters
  // positive).
  std::shared_ptr<const Distribution> q{};
  std::vector<std::pair<double, double>> kl_perturbations{{1.1, 0.05}, {0.5, 0.05}, {2.0, 1.0}};
  double dtype_rtol = 2e-4, dtype_atol = 2e-5;  // f32 vs f64
  std::vector<std::string> skip{};              // names of checks not to run (reported as SKIP)
};

struct CheckResult {
  enum class Status { pass, fail, skip };
  std::string name;
  Status status;
  std::string detail;  // the numbers
};

struct ConformanceReport {
  std::string distribution;
  std::vector<CheckResult> checks;
  bool passed() const;                                     // no check failed
  const CheckResult* find(const std::string& name) const;  // null when absent
  bool failed(const std::string& name) const;              // present and failed
  std::string to_string() const;                           // one line per check
  std::string failures() const;                            // the failed lines only
};

ConformanceReport check_distribution(const Distribution& d, const ConformanceOptions& options = {});

// The KL audit: for every pair in registered_kl_pairs(), the example whose dynamic types match it
// (a missing one is a failure that names the pair), its closed form against the Monte Carlo
// estimate of n draws from p, element by element within `sigmas` standard errors. One check per
// registered pair, named "P || Q"; examples for unregistered pairs are reported as failures too.
struct KLExample {
  std::shared_ptr<const Distribution> p, q;
};
struct KLAuditOptions {
  std::uint64_t seed = 2024;
  std::int64_t samples = 20000;
  double sigmas = 5.0;
};
ConformanceReport audit_kl(const std::vector<KLExample>& examples,
                           const KLAuditOptions& options = {});

}  // namespace tg::dist

// For Catch2 tests (include <catch2/catch.hpp> first): runs the kit and REQUIREs every check
// passed, printing the whole report when one did not. TG_REQUIRE_CONFORMS(d) or
// TG_REQUIRE_CONFORMS(d, options), options a ConformanceOptions or a braced list such as {.samples
// = 5000}.
#define TG_REQUIRE_CONFORMS(distribution_, ...)                                    \
  do {                                                                             \
    const ::tg::dist::ConformanceReport tg_conformance_report_ =                   \
        ::tg::dist::check_distribution((distribution_)__VA_OPT__(, ) __VA_ARGS__); \
    INFO(tg_conformance_report_.to_string());                                      \
    REQUIRE(tg_conformance_report_.passed());                                      \
  } while (0)
