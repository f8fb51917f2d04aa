// The conformance kit against the planted bugs of issue 11: an Exponential written here, as an
// extender would write a new distribution, and copies of it with one mistake each. The correct copy
// must pass every check; each broken one must fail the check named in the table below, with a
// failure line that keeps the element, both values and (for the statistical checks) the standard
// errors. The test prints the table as the kit reports it (run with -s, or see
// docs/distributions.md).
#include <catch2/catch.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;

namespace {

enum class Bug {
  none,
  wrong_normalizer,      // log_prob forgets log(rate)
  rsample_detached,      // x = e / rate.detach()
  rsample_sign_flipped,  // the right value, the gradient negated
  rsample_grad_5pct,     // the right value, the gradient 5% too large
  kl_swapped,            // the closed form computes KL(q || p)
  kl_times_1_5,          // the closed form is 1.5 times too large
  entropy_grad_wrong,    // entropy's value right, its gradient 0 (rate detached)
};

// Exponential(rate): density rate e^(-rate x) on [0, inf).
template <Bug bug>
class Exponential : public Distribution {
 public:
  explicit Exponential(Variable rate)
      : Distribution(rate.shape(), {}, rate.dtype(), std::nullopt), rate_(std::move(rate)) {}
  std::string name() const override { return "Exponential"; }
  const Variable& rate() const { return rate_; }

  // x = -log(1 - u) / rate,  u ~ U[0, 1):  dx/drate = -x / rate
  Variable rsample(const Shape& sample_shape, Generator* gen) const override {
    const Variable e(
        -log1p(-dist::detail::uniform(extended_shape(sample_shape), dtype(), gen, 0, 1)));
    if constexpr (bug == Bug::rsample_detached) return e / rate_.detach();
    const Variable x = e / rate_;
    if constexpr (bug == Bug::rsample_sign_flipped) return 2.0 * x.detach() - x;
    if constexpr (bug == Bug::rsample_grad_5pct) return x + 0.05 * (x - x.detach());
    return x;
  }
  bool has_rsample() const override { return true; }
  // log p(x) = log rate - rate x for x >= 0, -inf below
  Variable log_prob(const Variable& value) const override {
    const Tensor inside = ge(value.value(), Tensor::scalar(0, dtype()));
    check_support("log_prob", value.value(), inside);
    if constexpr (bug == Bug::wrong_normalizer)
      return dist::detail::outside_to_neg_inf(inside, -rate_ * value);
    return dist::detail::outside_to_neg_inf(inside, log(rate_) - rate_ * value);
  }
  // H = 1 - log rate
  Variable entropy() const override {
    if constexpr (bug == Bug::entropy_grad_wrong) return 1.0 - log(rate_.detach());
    return 1.0 - log(rate_);
  }
  // F(x) = 1 - e^(-rate x) for x >= 0, 0 below;  F^-1(u) = -log(1 - u) / rate
  Variable cdf(const Variable& value) const override {
    return -expm1(-rate_ * clamp(value, 0.0, dist::detail::inf));
  }
  Variable icdf(const Variable& u) const override { return -log1p(-u) / rate_; }
  bool has_cdf() const override { return true; }
  Variable mean() const override { return 1.0 / rate_; }
  Variable variance() const override { return 1.0 / square(rate_); }
  Support support() const override {
    return {Support::Kind::interval, Tensor::scalar(0, dtype()),
            Tensor::scalar(dist::detail::inf, dtype())};
  }
  std::vector<Variable> parameters() const override { return {rate_}; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& p) const override {
    return std::make_shared<Exponential>(p.at(0));
  }

 private:
  Variable rate_;
};

// KL(Exp(a) || Exp(b)) = log(a / b) + b / a - 1
template <Bug bug>
Variable kl_exponential(const Exponential<bug>& p, const Exponential<bug>& q) {
  const Variable& a = p.rate();
  const Variable& b = q.rate();
  if constexpr (bug == Bug::kl_swapped) return log(b / a) + a / b - 1.0;
  if constexpr (bug == Bug::kl_times_1_5) return 1.5 * (log(a / b) + b / a - 1.0);
  return log(a / b) + b / a - 1.0;
}

struct Planted {
  std::string bug;
  std::vector<std::string> must_fail;  // the checks that must catch it
  ConformanceReport report;
};

template <Bug bug>
Planted run(std::string what, std::vector<std::string> must_fail,
            const ConformanceOptions& options = {}) {
  register_kl<Exponential<bug>, Exponential<bug>>(kl_exponential<bug>, "Exponential",
                                                  "Exponential");
  const Exponential<bug> d(Variable(Tensor::from_values({2}, {1.5, 0.7}, DType::f64)));
  return {std::move(what), std::move(must_fail), check_distribution(d, options)};
}

std::vector<std::string> failed_checks(const ConformanceReport& r) {
  std::vector<std::string> out;
  for (const auto& c : r.checks)
    if (c.status == CheckResult::Status::fail) out.push_back(c.name);
  return out;
}

}  // namespace

TEST_CASE("the kit catches every planted bug of an extender's Exponential",
          "[distributions][kit]") {
  const Planted correct = run<Bug::none>("none (the correct copy)", {});
  INFO(correct.report.to_string());
  REQUIRE(correct.report.passed());
  for (const auto& c : correct.report.checks) {
    INFO(c.name);
    CHECK(c.status == CheckResult::Status::pass);  // nothing skipped either
  }

  const std::vector<Planted> planted = {
      run<Bug::wrong_normalizer>("wrong normalizer in log_prob", {"normalization"}),
      run<Bug::rsample_detached>("rsample detached", {"sample_no_grad", "rsample_gradcheck"}),
      run<Bug::rsample_sign_flipped>("rsample gradient sign flipped", {"rsample_gradcheck"}),
      run<Bug::rsample_grad_5pct>("rsample gradient 5% off", {"rsample_gradcheck"}),
      run<Bug::kl_swapped>("closed-form KL with p and q swapped", {"kl_closed_form_vs_mc"}),
      run<Bug::kl_times_1_5>("KL x 1.5", {"kl_closed_form_vs_mc"}),
      run<Bug::entropy_grad_wrong>("entropy gradient wrong", {"gradcheck"}),
  };
  std::string table = "| planted bug | checks that fail |\n|---|---|\n";
  for (const Planted& p : planted) {
    const auto failed = failed_checks(p.report);
    table += fmt::format("| {} | {} |\n", p.bug, fmt::join(failed, ", "));
  }
  std::cout << table << "\n";
  for (const Planted& p : planted) std::cout << p.bug << ":\n" << p.report.failures();
  for (const Planted& p : planted) {
    INFO(p.bug << "\n" << p.report.to_string());
    CHECK_FALSE(p.report.passed());
    for (const std::string& name : p.must_fail) {
      INFO("expected to fail: " << name);
      REQUIRE(p.report.failed(name));
      // the failing line keeps the element and both values
      const std::string& detail = p.report.find(name)->detail;
      if (name == "normalization") CHECK_THAT(detail, Catch::Contains("batch element"));
      if (name == "kl_closed_form_vs_mc") {
        CHECK_THAT(detail, Catch::Contains("element") && Catch::Contains("closed form") &&
                               Catch::Contains("Monte Carlo") &&
                               Catch::Contains("standard errors"));
      }
      if (name == "gradcheck" || name == "rsample_gradcheck")
        CHECK_THAT(detail, Catch::Contains("analytically") && Catch::Contains("numerically"));
    }
  }
  // Each gradient estimator is judged on its own: with rsample detached the pathwise estimate
  // cannot be taken, but the score-function estimator is right and passes.
  const Planted& detached = planted[1];
  CHECK(detached.report.find("grad_score_vs_fd")->status == CheckResult::Status::pass);
  // Why the far q: with only the old near perturbation, the swapped closed form passes.
  const Planted near_only =
      run<Bug::kl_swapped>("swapped, near q only", {}, {.kl_perturbations = {{1.1, 0.05}}});
  CHECK(near_only.report.find("kl_closed_form_vs_mc")->status == CheckResult::Status::pass);
  // The entropy's line names the function, the element and both derivatives.
  CHECK_THAT(planted[6].report.find("gradcheck")->detail,
             Catch::Contains("entropy") && Catch::Contains("is 0 analytically but"));
}
