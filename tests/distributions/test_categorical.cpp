// Categorical: values against torch.distributions, impossible categories, sampling, gradients,
// conformance.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/categorical.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
}

TEST_CASE("Categorical matches torch.distributions.Categorical", "[distributions][categorical]") {
  const auto& c = fixtures()["categorical"];
  const Categorical d(tgtest::var(c["logits"]));
  CHECK(d.batch_shape() == Shape{3});
  CHECK(d.num_categories() == 4);
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.probs(), c["probs"], 1e-12, 1e-12, "probs");
}

TEST_CASE("Categorical log_prob outside the support is -inf", "[distributions][categorical]") {
  const Categorical d(Variable(Tensor::from_values({3}, {0.0, -inf, 1.0}, DType::f64)));
  CHECK(d.log_prob(f64({1.0})).item() == -inf);  // an impossible category
  CHECK(d.log_prob(f64({-1.0})).item() == -inf);
  CHECK(d.log_prob(f64({3.0})).item() == -inf);
  CHECK(d.log_prob(f64({0.5})).item() == -inf);
  CHECK(std::isfinite(d.entropy().item()));
  CHECK_THROWS_AS(Categorical(f64({0.0, 1.0}), true).log_prob(f64({2.0})), ValueError);
  CHECK_THROWS_AS(Categorical(Variable(Tensor::scalar(1.0, DType::f64))), ShapeError);
}

TEST_CASE("Categorical samples follow the probabilities", "[distributions][categorical]") {
  const Categorical d(
      Variable(Tensor::from_values({2, 3}, {0.0, -inf, 1.0, 2.0, 0.0, -1.0}, DType::f64)));
  Generator g(3);
  const Variable x = d.sample({20000}, &g);
  REQUIRE(x.shape() == Shape{20000, 2});
  const auto v = x.value().to_vector();
  const auto p = d.probs().value().to_vector();
  for (int b = 0; b < 2; ++b) {
    for (int k = 0; k < 3; ++k) {
      double count = 0;
      for (std::size_t i = b; i < v.size(); i += 2) count += v[i] == k;
      const double pk = p[b * 3 + k];
      const double freq = count / 20000;
      if (pk == 0) {
        REQUIRE(count == 0);
      } else {
        REQUIRE(std::abs(freq - pk) <= 5 * std::sqrt(pk * (1 - pk) / 20000));
      }
    }
  }
}

TEST_CASE("Categorical gradients pass gradcheck", "[distributions][categorical]") {
  Variable logits(Tensor::from_values({2, 3}, {0.1, -1.0, 2.0, 0.5, 0.0, -0.3}, DType::f64), true);
  const Variable x = f64({2.0, 0.0});
  gradcheck([&](const std::vector<Variable>& in) { return Categorical(in[0]).log_prob(x); },
            {logits});
  gradcheck([](const std::vector<Variable>& in) { return Categorical(in[0]).entropy(); }, {logits});
  gradcheck([](const std::vector<Variable>& in) { return Categorical(in[0]).variance(); },
            {logits});
}

TEST_CASE("Categorical passes the conformance kit", "[distributions][categorical][conformance]") {
  const Categorical d(Variable(
      Tensor::from_values({2, 4}, {0.1, -1.0, 2.0, 0.5, 0.0, 0.3, -0.5, 1.0}, DType::f64)));
  TG_REQUIRE_CONFORMS(d, {.outside_support = {0.5, 2.5}});
  const Categorical d32(Variable(Tensor::from_values({3}, {0.2, -0.4, 1.1}, DType::f32)));
  TG_REQUIRE_CONFORMS(d32, {.outside_support = {1.5}});
}

TEST_CASE("Categorical::from_probs matches torch's Categorical(probs=...)",
          "[distributions][categorical]") {
  const auto& c = fixtures()["categorical_probs"];
  const Categorical d = Categorical::from_probs(tgtest::var(c["probs"]));
  CHECK(d.batch_shape() == Shape{2});
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.probs(), c["normalized"], 1e-12, 1e-12, "probs");
  // a zero probability is an impossible category: -inf, not torch's clamped log(eps)
  const Categorical z = Categorical::from_probs(f64({0.5, 0.5, 0.0}));
  CHECK(z.log_prob(f64s(2)).item() == -std::numeric_limits<double>::infinity());
  CHECK(z.log_prob(f64s(0)).item() == Approx(std::log(0.5)));
  CHECK_THROWS_AS(Categorical::from_probs(f64({0.5, -0.1}), true), ValueError);
  // the gradient reaches the probs: d/dp_k log(p_k / sum p) = 1/p_k - 1/sum p
  Variable p = f64({1.0, 3.0}, true);
  backward(Categorical::from_probs(p).log_prob(f64s(0)));
  require_close(p.grad(), Tensor::from_values({2}, {1.0 - 0.25, -0.25}, DType::f64));
}

TEST_CASE("Categorical.expand matches torch's expand", "[distributions][categorical]") {
  const auto& c = fixtures()["categorical_expand"];
  const Categorical d(tgtest::var(c["logits"]));
  const auto e = d.expand(c["batch_shape"].get<Shape>());
  CHECK(e->batch_shape() == Shape{3, 2});
  require_close(e->log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(e->entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
}

TEST_CASE("Categorical from probs, and expanded, pass the conformance kit",
          "[distributions][categorical][conformance]") {
  const Categorical d = Categorical::from_probs(
      Variable(Tensor::from_values({2, 3}, {0.2, 0.5, 0.3, 0.6, 0.3, 0.1}, DType::f64)));
  TG_REQUIRE_CONFORMS(d, {.outside_support = {0.5, 2.5}});
  TG_REQUIRE_CONFORMS(*d.expand({2, 2}), {.outside_support = {1.5}});
}
