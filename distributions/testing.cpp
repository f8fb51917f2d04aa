// The conformance kit (testing.hpp): the list of checks, the helpers they share, and the report.
// The checks themselves are in testing_<part>.cpp (see testing_kit.hpp).
#include "tapegrad/distributions/testing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/testing_kit.hpp"

namespace tg::dist {
namespace kit {

std::vector<double> values(const Variable& v) { return v.value().to_vector(); }
std::vector<double> values_as(const Variable& v, const Shape& shape) {
  return v.shape() == shape ? v.value().to_vector() : broadcast_to(v.value(), shape).to_vector();
}

std::vector<Variable> leaves(const std::vector<Variable>& params, DType dtype, bool requires_grad,
                             bool round_f32) {
  std::vector<Variable> out;
  for (const auto& p : params) {
    Tensor t = round_f32 ? p.value().to(DType::f32).to(dtype) : p.value().to(dtype);
    out.emplace_back(t.clone(), requires_grad);
  }
  return out;
}

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

bool within(double a, double b, double k, double se, double atol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= k * se + atol;
}

void Worst::add(bool pass, double s, std::string w) {
  if (std::isnan(s)) s = kInf;
  if (!pass) {
    if (ok || s >= score) score = s, what = std::move(w);
    ok = false;
  } else if (ok && s > score) {
    score = s;
    what = std::move(w);
  }
}

Variable Kit::expected_f(const Distribution& d) {
  const Shape be = d.extended_shape({});
  Variable m = d.mean(), v = d.variance();
  if (m.shape() != be) m = broadcast_to(m, be);
  if (v.shape() != be) v = broadcast_to(v, be);
  return detail::sum_rightmost(v + square(m), static_cast<std::int64_t>(d.event_shape().size()));
}

std::string report_line(const CheckResult& c) {
  const char* tag = c.status == Status::pass ? "PASS" : c.status == Status::fail ? "FAIL" : "SKIP";
  return fmt::format("  [{}] {}: {}\n", tag, c.name, c.detail);
}

namespace {

struct Check {
  const char* name;
  CheckResult (*run)(Kit&);
};

// In this order: with_parameters first (the others rely on it), then what a distribution must get
// right before its statistics mean anything, then the statistics, the gradients, KL and dtypes.
constexpr Check checks[] = {
    {"with_parameters", check_with_parameters},
    {"shapes", check_shapes},
    {"sample_no_grad", check_sample_no_grad},
    {"samples_in_support", check_samples_in_support},
    {"support_edges", check_support_edges},
    {"normalization", check_normalization},
    {"cdf", check_cdf},
    {"expand", check_expand},
    {"mean", check_mean},
    {"variance", check_variance},
    {"entropy", check_entropy},
    {"gradcheck", check_gradcheck},
    {"rsample_gradcheck", check_rsample_gradcheck},
    {"grad_pathwise_vs_fd", check_grad_pathwise_vs_fd},
    {"grad_score_vs_fd", check_grad_score_vs_fd},
    {"grad_pathwise_vs_score", check_grad_pathwise_vs_score},
    {"kl_self_zero", check_kl_self_zero},
    {"kl_nonnegative", check_kl_nonnegative},
    {"kl_closed_form_vs_mc", check_kl_closed_form_vs_mc},
    {"dtype_agreement", check_dtype_agreement},
};

}  // namespace
}  // namespace kit

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

std::string ConformanceReport::to_string() const {
  std::string s = fmt::format("conformance of {}: {}\n", distribution,
                              passed() ? "all checks passed" : "FAILED");
  for (const auto& c : checks) s += kit::report_line(c);
  return s;
}

std::string ConformanceReport::failures() const {
  std::string s;
  for (const auto& c : checks)
    if (c.status == CheckResult::Status::fail) s += kit::report_line(c);
  return s;
}

ConformanceReport check_distribution(const Distribution& d, const ConformanceOptions& options) {
  kit::Kit k(d, options);
  ConformanceReport report;
  report.distribution = d.name();
  for (const kit::Check& c : kit::checks) {
    CheckResult r;
    if (std::find(options.skip.begin(), options.skip.end(), c.name) != options.skip.end()) {
      r = kit::skip("skipped by options.skip");
    } else {
      try {
        r = c.run(k);
      } catch (const std::exception& e) {
        r = {"", CheckResult::Status::fail, fmt::format("threw: {}", e.what())};
      }
    }
    r.name = c.name;
    report.checks.push_back(std::move(r));
  }
  return report;
}

}  // namespace tg::dist
