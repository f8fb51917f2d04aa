// ContinuousBernoulli: values against torch.distributions (inside and outside its Taylor window),
// the inverse-CDF sampler, gradients, conformance.
#include <catch2/catch.hpp>
#include <cmath>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/continuous_bernoulli.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

TEST_CASE("ContinuousBernoulli matches torch.distributions.ContinuousBernoulli",
          "[distributions][cb]") {
  const auto& c = fixtures()["continuous_bernoulli"];
  const ContinuousBernoulli d(tgtest::var(c["logits"]));
  // torch's own formulas, window included: we match them to rounding
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.log_normalizer(), c["log_normalizer"], 1e-12, 1e-12, "log_normalizer");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
  require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
}

TEST_CASE("ContinuousBernoulli cdf and icdf: torch outside the window, exact inside",
          "[distributions][cb]") {
  const auto& c = fixtures()["continuous_bernoulli"];
  const ContinuousBernoulli d(tgtest::var(c["logits"]));
  const auto in_window = tgtest::tensor(c["in_window"]).to_vector();
  const std::int64_t k = static_cast<std::int64_t>(in_window.size());
  const auto check = [&](const Variable& got, const char* torch_key, const char* exact_key) {
    const auto g = got.value().to_vector();
    const auto t = tgtest::tensor(c[torch_key]).to_vector();
    const auto e = tgtest::tensor(c[exact_key]).to_vector();
    for (std::size_t i = 0; i < g.size(); ++i) {
      const bool window = in_window[i % static_cast<std::size_t>(k)] != 0;
      INFO(fmt::format("{} element {} ({}): got {:.17g}, torch {:.17g}, exact {:.17g}", torch_key,
                       i, window ? "in the window" : "outside", g[i], t[i], e[i]));
      if (window) {
        REQUIRE(std::abs(g[i] - e[i]) <= 1e-8);  // the Taylor expansion of the exact inverse
        REQUIRE(std::abs(g[i] - t[i]) <= 1e-3);  // torch's identity is its zeroth-order term
      } else {
        REQUIRE(std::abs(g[i] - t[i]) <= 1e-12 + 1e-12 * std::abs(t[i]));
        REQUIRE(std::abs(g[i] - e[i]) <= 1e-9);
      }
    }
  };
  check(d.cdf(tgtest::var(c["value"])), "cdf", "cdf_exact");
  check(d.icdf(tgtest::var(c["u"])), "icdf", "icdf_exact");
}

TEST_CASE("ContinuousBernoulli log_prob is -inf outside [0, 1]", "[distributions][cb]") {
  const ContinuousBernoulli d(f64({0.3, -2.0}));
  for (double v : d.log_prob(f64({-0.01, 1.01})).value().to_vector())
    CHECK(v == -std::numeric_limits<double>::infinity());
  for (double v : d.log_prob(f64({0.0, 1.0})).value().to_vector()) CHECK(std::isfinite(v));
  CHECK_THROWS_AS(ContinuousBernoulli(f64({0.3}), true).log_prob(f64({1.5})), ValueError);
}

TEST_CASE("ContinuousBernoulli gradients pass gradcheck", "[distributions][cb]") {
  // outside the window, inside it, and on both sides of lambda = 1/2
  Variable logits = f64({-3.0, -0.2, 0.0015, 0.7, 2.5}, true);
  const Variable x = f64({0.1, 0.9, 0.5, 0.33, 0.999});
  auto cb = [](const std::vector<Variable>& in) { return ContinuousBernoulli(in[0]); };
  gradcheck([&](const std::vector<Variable>& in) { return cb(in).log_prob(x); }, {logits});
  gradcheck([&](const std::vector<Variable>& in) { return cb(in).entropy(); }, {logits});
  gradcheck([&](const std::vector<Variable>& in) { return cb(in).mean(); }, {logits});
  gradcheck([&](const std::vector<Variable>& in) { return cb(in).variance(); }, {logits});
  gradcheck([&](const std::vector<Variable>& in) { return cb(in).cdf(x); }, {logits});
  gradcheck(
      [&](const std::vector<Variable>& in) {
        Generator g(11);
        return cb(in).rsample({3}, &g);
      },
      {logits});
}

TEST_CASE("ContinuousBernoulli passes the conformance kit", "[distributions][cb][conformance]") {
  // two batch elements inside the Taylor window (|logits| < 0.004), the others well outside
  const ContinuousBernoulli d(
      Variable(Tensor::from_values({5}, {-3.0, -0.002, 0.001, 0.6, 4.0}, DType::f64)));
  TG_REQUIRE_CONFORMS(d);
  const ContinuousBernoulli d32(Variable(Tensor::from_values({2}, {-1.2, 2.0}, DType::f32)));
  TG_REQUIRE_CONFORMS(d32);
}

TEST_CASE("ContinuousBernoulli::from_probs matches torch's ContinuousBernoulli(probs=...)",
          "[distributions][cb]") {
  const auto& c = fixtures()["continuous_bernoulli_probs"];
  const ContinuousBernoulli d = ContinuousBernoulli::from_probs(tgtest::var(c["probs"]));
  require_close(d.logits(), c["logits"], 1e-12, 1e-12, "logits");
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
  require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
  // probs 0 and 1 are clamped (the density degenerates there), so everything stays finite
  const ContinuousBernoulli edge = ContinuousBernoulli::from_probs(f64({0.0, 1.0}));
  CHECK(std::isfinite(edge.log_prob(f64({0.5, 0.5})).value().to_vector()[0]));
  CHECK(std::isfinite(edge.entropy().value().to_vector()[1]));
  CHECK_THROWS_AS(ContinuousBernoulli::from_probs(f64({1.5}), true), ValueError);
}

TEST_CASE("ContinuousBernoulli from probs, and expanded, pass the conformance kit",
          "[distributions][cb][conformance]") {
  const ContinuousBernoulli d = ContinuousBernoulli::from_probs(f64({0.1, 0.4995, 0.7}));
  TG_REQUIRE_CONFORMS(d);
  TG_REQUIRE_CONFORMS(*d.expand({2, 3}));
}
