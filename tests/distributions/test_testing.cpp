// The conformance kit itself: it must fail a distribution that is wrong, and say which check caught
// it.
#include <catch2/catch.hpp>
#include <limits>

#include "tapegrad/distributions/laplace.hpp"
#include "tapegrad/distributions/normal.hpp"
#include "tapegrad/distributions/testing.hpp"
#include "tapegrad/distributions/uniform.hpp"

using namespace tg;
using namespace tg::dist;

namespace {

Variable f64v(std::initializer_list<double> v) {
  return Variable(Tensor::from_values({static_cast<std::int64_t>(v.size())}, v, DType::f64));
}

// Broken Normals, each with one deliberate mistake (and a with_parameters that keeps its type).
template <class Self>
class BrokenNormal : public Normal {
 public:
  using Normal::Normal;
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& p) const override {
    return std::make_shared<Self>(p.at(0), p.at(1));
  }
};
class VarianceOff : public BrokenNormal<VarianceOff> {  // variance() 10% too large
 public:
  using BrokenNormal::BrokenNormal;
  std::string name() const override { return "VarianceOff"; }
  Variable variance() const override { return Normal::variance() * 1.1; }
  Variable stddev() const override { return sqrt(variance()); }
};
class Unnormalized : public BrokenNormal<Unnormalized> {  // log_prob + 0.1: integrates to 1.105
 public:
  using BrokenNormal::BrokenNormal;
  std::string name() const override { return "Unnormalized"; }
  Variable log_prob(const Variable& x) const override { return Normal::log_prob(x) + 0.1; }
};
class EntropyOff : public BrokenNormal<EntropyOff> {  // entropy forgets log(scale)
 public:
  using BrokenNormal::BrokenNormal;
  std::string name() const override { return "EntropyOff"; }
  Variable entropy() const override { return Normal::entropy() - log(scale()); }
};
class DetachedScale : public BrokenNormal<DetachedScale> {  // rsample cuts the gradient to scale
 public:
  using BrokenNormal::BrokenNormal;
  std::string name() const override { return "DetachedScale"; }
  Variable rsample(const Shape& s, Generator* g) const override {
    const Variable eps(Tensor::randn(extended_shape(s), dtype(), g));
    return loc() + eps * scale().detach();
  }
};
class NoRebuild : public Normal {  // forgets to override with_parameters: the kit cannot trust it
 public:
  using Normal::Normal;
  std::string name() const override { return "NoRebuild"; }
};
// A Uniform whose log_prob clamps instead of giving -inf outside [low, high).
class ClampedUniform : public Uniform {
 public:
  using Uniform::Uniform;
  std::string name() const override { return "ClampedUniform"; }
  Variable log_prob(const Variable&) const override { return -log(high() - low()); }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& p) const override {
    return std::make_shared<ClampedUniform>(p.at(0), p.at(1));
  }
};

template <class D>
ConformanceReport check(const ConformanceOptions& o = {}) {
  return check_distribution(D(f64v({0.3, -1.0}), f64v({0.8, 2.0})), o);
}

}  // namespace

TEST_CASE("the kit passes a correct distribution and reports every check", "[distributions][kit]") {
  const ConformanceReport r = check<Normal>();
  INFO(r.to_string());
  CHECK(r.passed());
  for (const char* name :
       {"with_parameters", "shapes", "sample_no_grad", "samples_in_support", "support_edges",
        "normalization", "mean", "variance", "entropy", "gradcheck", "grad_pathwise_vs_fd",
        "grad_score_vs_fd", "grad_pathwise_vs_score", "kl_self_zero", "kl_nonnegative",
        "kl_closed_form_vs_mc", "dtype_agreement"}) {
    INFO(name);
    REQUIRE(r.find(name) != nullptr);
    CHECK(r.find(name)->status == CheckResult::Status::pass);
  }
  CHECK(r.to_string().find("[PASS] normalization") != std::string::npos);
}

TEST_CASE("the kit catches a variance that is 10% off", "[distributions][kit]") {
  const ConformanceReport r = check<VarianceOff>();
  INFO(r.to_string());
  CHECK_FALSE(r.passed());
  CHECK(r.failed("variance"));
  CHECK_FALSE(r.failed("mean"));
  CHECK(r.failed("grad_pathwise_vs_fd"));  // E[x^2] = var + mean^2 disagrees with the sampler too
  CHECK(r.failures().find("variance()") != std::string::npos);
}

TEST_CASE("the kit catches an unnormalized log_prob", "[distributions][kit]") {
  const ConformanceReport r = check<Unnormalized>();
  INFO(r.to_string());
  CHECK(r.failed("normalization"));
  CHECK(r.failed("entropy"));
  CHECK(r.find("normalization")->detail.find("1.105") != std::string::npos);
}

TEST_CASE("the kit catches a wrong entropy", "[distributions][kit]") {
  const ConformanceReport r = check<EntropyOff>();
  INFO(r.to_string());
  CHECK(r.failed("entropy"));
  CHECK_FALSE(r.failed("normalization"));
}

TEST_CASE("the kit catches a reparameterized sampler that loses a gradient",
          "[distributions][kit]") {
  const ConformanceReport r = check<DetachedScale>();
  INFO(r.to_string());
  CHECK(r.failed("grad_pathwise_vs_fd"));
  CHECK(r.failed("grad_pathwise_vs_score"));
  CHECK_FALSE(r.failed("grad_score_vs_fd"));
}

TEST_CASE("the kit refuses a with_parameters that changes the type", "[distributions][kit]") {
  const ConformanceReport r = check<NoRebuild>();
  INFO(r.to_string());
  CHECK(r.failed("with_parameters"));
  CHECK(r.find("with_parameters")->detail.find("override with_parameters") != std::string::npos);
  CHECK(r.find("grad_pathwise_vs_fd")->status == CheckResult::Status::skip);
}

TEST_CASE("the kit catches a clamped log_prob outside the support", "[distributions][kit]") {
  const ConformanceReport r = check_distribution(ClampedUniform(f64v({0.0}), f64v({1.0})));
  INFO(r.to_string());
  CHECK(r.failed("support_edges"));
  CHECK(r.find("support_edges")->detail.find("expected -inf") != std::string::npos);
}

TEST_CASE("options: skipping a check and extra outside points", "[distributions][kit]") {
  const ConformanceReport r = check<VarianceOff>(
      {.skip = {"variance", "grad_pathwise_vs_fd", "grad_score_vs_fd", "grad_pathwise_vs_score"}});
  INFO(r.to_string());
  CHECK(r.find("variance")->status == CheckResult::Status::skip);
  const ConformanceReport l =
      check_distribution(Laplace(f64v({0.0}), f64v({1.0})), {.outside_support = {0.5}});
  CHECK(l.failed("support_edges"));  // 0.5 is inside the Laplace's support: the kit says so
}
