// Bernoulli: values against torch.distributions, exact behaviour at probabilities 0 and 1,
// gradients, conformance.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/bernoulli.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
}

TEST_CASE("Bernoulli matches torch.distributions.Bernoulli", "[distributions][bernoulli]") {
  SECTION("from logits") {
    const auto& c = fixtures()["bernoulli_logits"];
    const Bernoulli d = Bernoulli::from_logits(tgtest::var(c["logits"]));
    require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
    require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
    require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
    require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
  }
  SECTION("from probs") {
    const auto& c = fixtures()["bernoulli_probs"];
    const Bernoulli d = Bernoulli::from_probs(tgtest::var(c["probs"]));
    require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
    require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
    require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
    require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
  }
}

TEST_CASE("Bernoulli is exact at probabilities 0 and 1", "[distributions][bernoulli]") {
  const Bernoulli p0 = Bernoulli::from_probs(f64s(0.0));
  const Bernoulli p1 = Bernoulli::from_probs(f64s(1.0));
  CHECK(p0.logits().item() == -inf);
  CHECK(p1.logits().item() == inf);
  CHECK(p0.log_prob(f64s(1.0)).item() == -inf);  // impossible: -inf, not a clamped number
  CHECK(p0.log_prob(f64s(0.0)).item() == 0.0);
  CHECK(p1.log_prob(f64s(1.0)).item() == 0.0);
  CHECK(p1.log_prob(f64s(0.0)).item() == -inf);
  CHECK(p0.entropy().item() == 0.0);
  CHECK(p1.entropy().item() == 0.0);
  CHECK(p0.mean().item() == 0.0);
  CHECK(p1.variance().item() == 0.0);
  // the same from infinite logits
  const Bernoulli l1 = Bernoulli::from_logits(f64s(inf));
  CHECK(l1.log_prob(f64s(1.0)).item() == 0.0);
  CHECK(l1.log_prob(f64s(0.0)).item() == -inf);
  CHECK(l1.entropy().item() == 0.0);
  CHECK(l1.mean().item() == 1.0);
  // sampling is certain
  Generator g(5);
  for (double v : p1.sample({100}, &g).value().to_vector()) REQUIRE(v == 1.0);
  for (double v : p0.sample({100}, &g).value().to_vector()) REQUIRE(v == 0.0);
}

TEST_CASE("Bernoulli stays finite at large finite logits", "[distributions][bernoulli]") {
  Variable logits = f64({-800.0, -40.0, 40.0, 800.0}, true);
  const Bernoulli d = Bernoulli::from_logits(logits);
  const Variable lp = d.log_prob(f64({1.0, 1.0, 0.0, 0.0}));
  require_close(lp, Tensor::from_values({4}, {-800.0, -40.0, -40.0, -800.0}, DType::f64), 1e-12,
                1e-12);
  backward(sum(lp) + sum(d.entropy()));
  for (double g : logits.grad().value().to_vector()) REQUIRE(std::isfinite(g));
}

TEST_CASE("Bernoulli scores grey values with the cross-entropy and rejects values outside [0, 1]",
          "[distributions][bernoulli]") {
  const Bernoulli d = Bernoulli::from_logits(f64({0.7}));
  const double l = 0.7;
  CHECK(d.log_prob(f64({0.3})).item() == Approx(0.3 * l - std::log1p(std::exp(l))).epsilon(1e-14));
  CHECK(d.log_prob(f64({-1.0})).item() == -inf);
  CHECK(d.log_prob(f64({2.0})).item() == -inf);
  const Bernoulli v = Bernoulli::from_logits(f64({0.7}), true);
  CHECK_THROWS_AS(v.log_prob(f64({0.3})), ValueError);
  CHECK_NOTHROW(v.log_prob(f64({1.0})));
  CHECK_THROWS_AS(Bernoulli::from_probs(f64({1.5}), true), ValueError);
}

TEST_CASE("Bernoulli has no rsample and says so", "[distributions][bernoulli]") {
  const Bernoulli d = Bernoulli::from_logits(f64({0.0}));
  CHECK_FALSE(d.has_rsample());
  try {
    d.rsample({3});
    FAIL("rsample did not throw");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("Bernoulli.rsample") != std::string::npos);
    CHECK(msg.find("sample()") != std::string::npos);
  }
}

TEST_CASE("Bernoulli gradients pass gradcheck", "[distributions][bernoulli]") {
  Variable logits = f64({-2.0, -0.3, 0.4, 3.0}, true);
  const Variable x = f64({1.0, 0.0, 1.0, 0.0});
  gradcheck(
      [&](const std::vector<Variable>& in) { return Bernoulli::from_logits(in[0]).log_prob(x); },
      {logits});
  gradcheck([](const std::vector<Variable>& in) { return Bernoulli::from_logits(in[0]).entropy(); },
            {logits});
  Variable probs = f64({0.1, 0.35, 0.6, 0.95}, true);
  gradcheck(
      [&](const std::vector<Variable>& in) { return Bernoulli::from_probs(in[0]).log_prob(x); },
      {probs});
  gradcheck([](const std::vector<Variable>& in) { return Bernoulli::from_probs(in[0]).variance(); },
            {probs});
}

TEST_CASE("Bernoulli passes the conformance kit", "[distributions][bernoulli][conformance]") {
  const Bernoulli d = Bernoulli::from_logits(
      Variable(Tensor::from_values({2, 2}, {-2.0, 0.3, 1.5, 0.0}, DType::f64)));
  TG_REQUIRE_CONFORMS(d);
  const Bernoulli d32 =
      Bernoulli::from_probs(Variable(Tensor::from_values({3}, {0.1, 0.5, 0.97}, DType::f32)));
  TG_REQUIRE_CONFORMS(d32);
}
