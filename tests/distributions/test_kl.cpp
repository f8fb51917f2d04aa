// The KL registry: closed forms against torch.distributions, exact edge cases, gradients, the Monte
// Carlo fallback, one-line registration, and the audit of every registered closed form against its
// Monte Carlo estimate.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/distributions.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();

// A type of its own with a Normal's density: registered below with one line, as a user would.
class TwinNormal : public Normal {
 public:
  using Normal::Normal;
  std::string name() const override { return "TwinNormal"; }
  std::shared_ptr<Distribution> with_parameters(const std::vector<Variable>& p) const override {
    return std::make_shared<TwinNormal>(p.at(0), p.at(1));
  }
};
Variable kl_twin_normal(const TwinNormal& p, const Normal& q) { return kl_normal_normal(p, q); }
}  // namespace

namespace tg::dist {
TG_REGISTER_KL(TwinNormal, Normal, kl_twin_normal);
}

TEST_CASE("closed forms match torch.distributions.kl_divergence", "[distributions][kl]") {
  const auto& c = fixtures()["kl"];
  auto check = [](const Distribution& p, const Distribution& q, const tgtest::json& want,
                  const char* what) {
    const KLResult r = kl_divergence_ex(p, q);
    CHECK(r.method == KLMethod::closed_form);
    CHECK(r.samples == 0);
    require_close(r.value, want, 1e-12, 1e-12, what);
  };
  {
    const auto& k = c["normal_normal"];
    check(Normal(var(k["p_loc"]), var(k["p_scale"])), Normal(var(k["q_loc"]), var(k["q_scale"])),
          k["kl"], "Normal");
  }
  {
    const auto& k = c["bernoulli_bernoulli"];
    check(Bernoulli::from_logits(var(k["p_logits"])), Bernoulli::from_logits(var(k["q_logits"])),
          k["kl"], "Bernoulli");
  }
  {
    const auto& k = c["categorical_categorical"];
    check(Categorical(var(k["p_logits"])), Categorical(var(k["q_logits"])), k["kl"], "Categorical");
  }
  {
    const auto& k = c["laplace_laplace"];
    check(Laplace(var(k["p_loc"]), var(k["p_scale"])), Laplace(var(k["q_loc"]), var(k["q_scale"])),
          k["kl"], "Laplace");
  }
  {
    const auto& k = c["uniform_uniform"];
    check(Uniform(var(k["p_low"]), var(k["p_high"])), Uniform(var(k["q_low"]), var(k["q_high"])),
          k["kl"], "Uniform");
  }
  {
    const auto& k = c["continuous_bernoulli_continuous_bernoulli"];
    check(ContinuousBernoulli(var(k["p_logits"])), ContinuousBernoulli(var(k["q_logits"])), k["kl"],
          "ContinuousBernoulli");
  }
  {
    const auto& k = c["independent_independent"];
    check(Independent(std::make_shared<Normal>(var(k["p_loc"]), var(k["p_scale"])), 1),
          Independent(std::make_shared<Normal>(var(k["q_loc"]), var(k["q_scale"])), 1), k["kl"],
          "Independent");
  }
}

TEST_CASE("Bernoulli KL is exact at probabilities 0 and 1", "[distributions][kl]") {
  auto B = [](double p) { return Bernoulli::from_probs(f64s(p)); };
  CHECK(kl_divergence(B(0), B(0.3)).item() == Approx(-std::log(0.7)).epsilon(1e-15));
  CHECK(kl_divergence(B(1), B(0.3)).item() == Approx(-std::log(0.3)).epsilon(1e-15));
  CHECK(kl_divergence(B(0), B(0)).item() == 0.0);
  CHECK(kl_divergence(B(1), B(1)).item() == 0.0);
  CHECK(kl_divergence(B(0.3), B(0)).item() == inf);  // p puts mass on 1, q none
  CHECK(kl_divergence(B(0.3), B(1)).item() == inf);
  CHECK(kl_divergence(B(0), B(1)).item() == inf);
  CHECK(kl_divergence(B(1), B(0)).item() == inf);
  // the gradient with respect to q at p = 0 is finite: d/dl_q [-log(1 - sigmoid(l_q))] =
  // sigmoid(l_q)
  Variable lq = f64s(std::log(0.3 / 0.7), true);
  backward(kl_divergence(B(0), Bernoulli::from_logits(lq)));
  CHECK(lq.grad().item() == Approx(0.3).epsilon(1e-12));
}

TEST_CASE("Uniform and Categorical KL are +inf where q has no mass", "[distributions][kl]") {
  CHECK(kl_divergence(Uniform(f64s(0), f64s(2)), Uniform(f64s(0.5), f64s(3))).item() == inf);
  CHECK(kl_divergence(Uniform(f64s(0), f64s(2)), Uniform(f64s(-1), f64s(1.5))).item() == inf);
  CHECK(kl_divergence(Uniform(f64s(0), f64s(1)), Uniform(f64s(0), f64s(2))).item() ==
        Approx(std::log(2.0)));
  const Categorical p(f64({0.0, 0.0, -inf}));
  const Categorical q(f64({0.0, -inf, 0.0}));
  CHECK(kl_divergence(p, q).item() == inf);
  CHECK(kl_divergence(q, Categorical(f64({0.0, 0.0, 0.0}))).item() == Approx(std::log(1.5)));
}

TEST_CASE("KL gradients pass gradcheck", "[distributions][kl]") {
  auto two = [](std::initializer_list<double> a) { return f64(a, true); };
  SECTION("Normal") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(Normal(in[0], in[1]), Normal(in[2], in[3]));
        },
        {two({0.3, -1.0}), two({0.5, 1.5}), two({0.0, 1.0}), two({1.0, 0.7})});
  }
  SECTION("Bernoulli") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(Bernoulli::from_logits(in[0]), Bernoulli::from_logits(in[1]));
        },
        {two({-3.0, 0.5, 2.0}), two({0.2, -1.0, 2.5})});
  }
  SECTION("Categorical") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(Categorical(in[0]), Categorical(in[1]));
        },
        {two({0.1, -1.0, 2.0}), two({1.0, 0.0, -1.0})});
  }
  SECTION("Laplace") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(Laplace(in[0], in[1]), Laplace(in[2], in[3]));
        },
        {two({0.3, -1.0}), two({0.5, 1.5}), two({0.0, 1.0}), two({1.0, 0.7})});
  }
  SECTION("Uniform") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(Uniform(in[0], in[1]), Uniform(in[2], in[3]));
        },
        {two({0.0, -1.0}), two({1.0, 1.0}), two({-0.5, -1.5}), two({2.0, 1.5})});
  }
  SECTION("ContinuousBernoulli") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(ContinuousBernoulli(in[0]), ContinuousBernoulli(in[1]));
        },
        {two({-2.0, 0.0015, 1.0}), two({0.5, -0.3, 0.002})});
  }
  SECTION("Independent") {
    gradcheck(
        [](const std::vector<Variable>& in) {
          return kl_divergence(Independent(std::make_shared<Normal>(in[0], in[1]), 1),
                               Independent(std::make_shared<Normal>(in[2], in[3]), 1));
        },
        {two({0.3, -1.0}), two({0.5, 1.5}), two({0.0, 1.0}), two({1.0, 0.7})});
  }
}

TEST_CASE("a pair with no closed form falls back to Monte Carlo", "[distributions][kl]") {
  Variable loc = f64({0.3, -1.0}, true);
  const Normal p(loc, f64({0.8, 1.5}));
  const Laplace q(f64({0.0, 0.5}), f64({1.0, 2.0}));
  CHECK_FALSE(has_closed_form_kl(p, q));
  Generator g(17);
  KLOptions opts;
  opts.mc_samples = 20000;
  opts.generator = &g;
  const KLResult r = kl_divergence_ex(p, q, opts);
  CHECK(r.method == KLMethod::monte_carlo);
  CHECK(r.samples == 20000);
  CHECK(std::string(kl_method_name(r.method)) == "Monte Carlo");
  // KL(N(mu, s) || Laplace(m, b)) = -H(N) + log(2b) + E|x - m| / b,
  // E|x - m| = s sqrt(2/pi) exp(-d^2 / 2s^2) + d erf(d / (s sqrt 2)),  d = mu - m
  const double mu[] = {0.3, -1.0}, s[] = {0.8, 1.5}, m[] = {0.0, 0.5}, b[] = {1.0, 2.0};
  const auto est = r.value.value().to_vector();
  for (int i = 0; i < 2; ++i) {
    const double d = mu[i] - m[i];
    const double e_abs =
        s[i] * std::sqrt(2 / std::numbers::pi) * std::exp(-d * d / (2 * s[i] * s[i])) +
        d * std::erf(d / (s[i] * std::sqrt(2.0)));
    const double exact = -(0.5 + 0.5 * std::log(2 * std::numbers::pi * s[i] * s[i])) +
                         std::log(2 * b[i]) + e_abs / b[i];
    INFO("element " << i << ": Monte Carlo " << est[i] << ", exact " << exact);
    CHECK(std::abs(est[i] - exact) < 0.02);  // about 5 standard errors at 20000 samples
  }
  // p has rsample, so the estimate is differentiable in p's parameters
  REQUIRE(r.value.requires_grad());
  backward(sum(r.value));
  REQUIRE(loc.grad().defined());
  // refusing the fallback
  KLOptions strict;
  strict.allow_monte_carlo = false;
  CHECK_THROWS_WITH(kl_divergence(p, q, strict), Catch::Contains("(Normal, Laplace)"));
}

TEST_CASE("Monte Carlo through sample() when p has no rsample", "[distributions][kl]") {
  // Bernoulli || Independent-free Categorical-like pair with no closed form: a Bernoulli against a
  // Laplace has no closed form; log q of {0, 1} is finite, so the estimate is finite.
  const Bernoulli p = Bernoulli::from_logits(f64({0.4}));
  const Laplace q(f64({0.5}), f64({1.0}));
  Generator g(3);
  const KLResult r = kl_divergence_ex(p, q, {.mc_samples = 500, .generator = &g});
  CHECK(r.method == KLMethod::monte_carlo);
  CHECK(std::isfinite(r.value.item()));
}

TEST_CASE("Independent pairs use the base's closed form, else Monte Carlo", "[distributions][kl]") {
  auto n = std::make_shared<Normal>(Variable(Tensor::zeros({2, 3}, DType::f64)),
                                    Variable(Tensor::ones({2, 3}, DType::f64)));
  auto l = std::make_shared<Laplace>(Variable(Tensor::zeros({2, 3}, DType::f64)),
                                     Variable(Tensor::ones({2, 3}, DType::f64)));
  CHECK(has_closed_form_kl(Independent(n, 1), Independent(n, 1)));
  CHECK_FALSE(has_closed_form_kl(Independent(n, 1), Independent(l, 1)));
  const KLResult r = kl_divergence_ex(Independent(n, 1), Independent(l, 1), {.mc_samples = 100});
  CHECK(r.method == KLMethod::monte_carlo);
  CHECK(r.value.shape() == Shape{2});
  // different event shapes cannot be compared
  CHECK_THROWS_AS(kl_divergence(Independent(n, 1), Independent(n, 2)), ShapeError);
}

TEST_CASE("a pair registered with one line is used", "[distributions][kl]") {
  const TwinNormal p(f64({0.3}), f64({0.5}));
  const Normal q(f64({0.0}), f64({1.0}));
  REQUIRE(has_closed_form_kl(p, q));
  CHECK(kl_divergence(p, q).item() == Approx(kl_normal_normal(p, q).item()));
  // exact types: TwinNormal || TwinNormal has no entry (a subclass may change the density)
  CHECK_FALSE(has_closed_form_kl(p, TwinNormal(f64({0.0}), f64({1.0}))));
  // register_kl<P, Q>(fn) is the function form; re-registering replaces
  register_kl<TwinNormal, TwinNormal>(
      [](const TwinNormal& a, const TwinNormal& b) { return kl_normal_normal(a, b); });
  CHECK(has_closed_form_kl(p, TwinNormal(f64({0.0}), f64({1.0}))));
}

// The audit: every closed form in the registry against its own Monte Carlo estimate, within 5
// standard errors. A new pair must add an example here, or this test fails and says so.
TEST_CASE("audit: every registered closed form agrees with Monte Carlo",
          "[distributions][kl][audit]") {
  using Pair = std::pair<std::shared_ptr<Distribution>, std::shared_ptr<Distribution>>;
  auto v = [](std::initializer_list<double> x) { return f64(x); };
  std::vector<Pair> examples = {
      {std::make_shared<Normal>(v({0.3, -1.0, 2.0}), v({0.5, 1.5, 1.0})),
       std::make_shared<Normal>(v({0.0, 1.0, 2.0}), v({1.0, 0.7, 3.0}))},
      {std::make_shared<Bernoulli>(Bernoulli::from_logits(v({-3.0, -0.5, 0.0, 2.0}))),
       std::make_shared<Bernoulli>(Bernoulli::from_logits(v({0.2, 1.0, -2.0, 0.7})))},
      {std::make_shared<Categorical>(
           Variable(Tensor::from_values({2, 3}, {0.1, -1.0, 2.0, 0.0, 0.0, 0.0}, DType::f64))),
       std::make_shared<Categorical>(
           Variable(Tensor::from_values({2, 3}, {1.0, 0.0, -1.0, 2.0, -1.0, 0.5}, DType::f64)))},
      {std::make_shared<Laplace>(v({0.3, -1.0, 2.0}), v({0.5, 1.5, 1.0})),
       std::make_shared<Laplace>(v({0.0, 1.0, 2.0}), v({1.0, 0.7, 3.0}))},
      {std::make_shared<Uniform>(v({0.0, -1.0}), v({1.0, 1.0})),
       std::make_shared<Uniform>(v({-0.5, -1.0}), v({2.0, 1.5}))},
      {std::make_shared<ContinuousBernoulli>(v({-2.0, 0.0015, 1.0, 3.0})),
       std::make_shared<ContinuousBernoulli>(v({0.5, -0.3, 0.002, 2.0}))},
      {std::make_shared<Independent>(std::make_shared<Normal>(v({0.3, -1.0}), v({0.5, 1.5})), 1),
       std::make_shared<Independent>(std::make_shared<Normal>(v({0.0, 1.0}), v({1.0, 0.7})), 1)},
      {std::make_shared<TwinNormal>(v({0.3, -1.0}), v({0.5, 1.5})),
       std::make_shared<Normal>(v({0.0, 1.0}), v({1.0, 0.7}))},
      {std::make_shared<TwinNormal>(v({0.3}), v({0.5})),
       std::make_shared<TwinNormal>(v({0.0}), v({1.0}))},
  };
  // the test above registers TwinNormal || TwinNormal; make sure it is there whatever the test
  // order
  register_kl<TwinNormal, TwinNormal>(
      [](const TwinNormal& a, const TwinNormal& b) { return kl_normal_normal(a, b); });
  std::vector<KLExample> audit;
  for (const auto& [p, q] : examples) audit.push_back({p, q});
  const ConformanceReport r = audit_kl(audit);
  INFO(r.to_string());
  CHECK(r.checks.size() == registered_kl_pairs().size());
  CHECK(r.passed());
}
