// Private to the conformance kit (testing.hpp): what every check shares — the distribution under
// test with its options and generator (Kit), the statistics, and the worst-offender bookkeeping —
// and the checks themselves, one function each, grouped by the file that defines them:
//   testing_interface.cpp  with_parameters, shapes, sample_no_grad, dtype_agreement
//   testing_support.cpp    samples_in_support, support_edges, normalization, cdf, expand
//   testing_moments.cpp    mean, variance, entropy
//   testing_gradients.cpp  gradcheck, rsample_gradcheck, grad_pathwise_vs_fd, grad_score_vs_fd,
//                          grad_pathwise_vs_score
//   testing_kl.cpp         kl_self_zero, kl_nonnegative, kl_closed_form_vs_mc, and audit_kl
// testing.cpp runs them in that order and builds the report.
#pragma once
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/distributions/distribution.hpp"
#include "tapegrad/distributions/testing.hpp"

namespace tg::dist::kit {

using Status = CheckResult::Status;
inline constexpr double kInf = std::numeric_limits<double>::infinity();

inline CheckResult result(bool ok, std::string detail) {
  return {"", ok ? Status::pass : Status::fail, std::move(detail)};
}
inline CheckResult skip(std::string why) { return {"", Status::skip, std::move(why)}; }

std::vector<double> values(const Variable& v);
// v's values broadcast to `shape` first.
std::vector<double> values_as(const Variable& v, const Shape& shape);
// Fresh leaves holding the parameters' values in `dtype` (through f32 first when round_f32, so the
// f64 version has exactly the f32 version's parameters).
std::vector<Variable> leaves(const std::vector<Variable>& params, DType dtype, bool requires_grad,
                             bool round_f32 = false);

// Sample statistics of x[offset + i stride], i < n.
struct Stats {
  double mean = 0, var = 0, m4 = 0;  // var unbiased; m4 the fourth central moment
};
Stats stats(const std::vector<double>& x, std::size_t offset, std::size_t stride, std::size_t n);

// |a - b| <= k se + atol, with NaN never passing and infinities passing only when equal.
bool within(double a, double b, double k, double se, double atol);

// Keeps the worst offender of a series of comparisons: the first failure with the largest score
// (|difference| / allowed), or the closest call when all passed.
struct Worst {
  double score = -1;
  std::string what;
  bool ok = true;
  void add(bool pass, double s, std::string w);
  CheckResult result(const std::string& suffix = "") const {
    return kit::result(ok, what + suffix);
  }
};

// One estimate of d/dtheta E[f] per parameter element (all parameters flattened), with its
// standard error; or why there is none (unavailable: a skip; failed: the estimator threw).
struct Estimate {
  std::vector<double> mean, se;
  bool available = false;
  bool failed = false;
  std::string why;
};

// The distribution under test and what the checks share.
class Kit {
 public:
  Kit(const Distribution& d, const ConformanceOptions& o) : d(d), o(o), gen(o.seed) {}

  const Distribution& d;
  const ConformanceOptions& o;
  Generator gen;           // every draw of every check, in order: a fixed seed, a fixed outcome
  bool rebuild_ok = true;  // with_parameters works: the checks that need it may run

  Shape be_shape() const { return d.extended_shape({}); }
  bool is_f64() const { return d.dtype() == DType::f64; }
  // Relative slack for comparisons that have no statistical error: rounding in d's dtype.
  double rounding() const { return is_f64() ? 1e-9 : 1e-5; }
  std::shared_ptr<Distribution> rebuild(const std::vector<Variable>& params) const {
    return d.with_parameters(params);
  }

  // E[f], f(x) = sum over the event of x^2: sum over event dims of variance + mean^2.
  static Variable expected_f(const Distribution& d);

  // Computed once, on first use, by the checks that share them (testing_gradients.cpp,
  // testing_kl.cpp).
  const Estimate& pathwise();
  const Estimate& score();
  const Estimate& finite_differences();
  struct KLPartner {
    std::string name;  // "q = options.q", "q1 (theta -> 1.1 theta + 0.05)"
    std::shared_ptr<const Distribution> q;
  };
  const std::vector<KLPartner>& kl_partners();

 private:
  Estimate batched(const std::function<Variable(const Distribution&)>& loss);
  std::optional<Estimate> pathwise_, score_, fd_;
  std::optional<std::vector<KLPartner>> partners_;
};

// The checks, in the order testing.cpp runs them. Each returns its result (the name is filled in
// by the caller); an exception is a failure that names the check.
CheckResult check_with_parameters(Kit& k);
CheckResult check_shapes(Kit& k);
CheckResult check_sample_no_grad(Kit& k);
CheckResult check_samples_in_support(Kit& k);
CheckResult check_support_edges(Kit& k);
CheckResult check_normalization(Kit& k);
CheckResult check_cdf(Kit& k);
CheckResult check_expand(Kit& k);
CheckResult check_mean(Kit& k);
CheckResult check_variance(Kit& k);
CheckResult check_entropy(Kit& k);
CheckResult check_gradcheck(Kit& k);
CheckResult check_rsample_gradcheck(Kit& k);
CheckResult check_grad_pathwise_vs_fd(Kit& k);
CheckResult check_grad_score_vs_fd(Kit& k);
CheckResult check_grad_pathwise_vs_score(Kit& k);
CheckResult check_kl_self_zero(Kit& k);
CheckResult check_kl_nonnegative(Kit& k);
CheckResult check_kl_closed_form_vs_mc(Kit& k);
CheckResult check_dtype_agreement(Kit& k);

// "  [FAIL] name: detail\n"
std::string report_line(const CheckResult& c);

}  // namespace tg::dist::kit
