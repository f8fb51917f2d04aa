// Independent: batch dims reinterpreted as event dims; values against torch.distributions,
// conformance.
#include <catch2/catch.hpp>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/bernoulli.hpp"
#include "tapegrad/distributions/independent.hpp"
#include "tapegrad/distributions/normal.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

TEST_CASE("Independent(Normal, 1) matches torch.distributions.Independent",
          "[distributions][independent]") {
  const auto& c = fixtures()["independent_normal"];
  const Independent d(std::make_shared<Normal>(tgtest::var(c["loc"]), tgtest::var(c["scale"])), 1);
  CHECK(d.batch_shape() == Shape{2});
  CHECK(d.event_shape() == Shape{3});
  CHECK(d.name() == "Independent(Normal, 1)");
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
  require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
}

TEST_CASE("Independent shapes", "[distributions][independent]") {
  auto base = std::make_shared<Normal>(Variable(Tensor::zeros({4, 2, 3}, DType::f64)),
                                       Variable(Tensor::ones({4, 2, 3}, DType::f64)));
  const Independent d(base, 2);
  CHECK(d.batch_shape() == Shape{4});
  CHECK(d.event_shape() == Shape{2, 3});
  Generator g(1);
  const Variable x = d.rsample({5}, &g);
  CHECK(x.shape() == Shape{5, 4, 2, 3});
  CHECK(d.log_prob(x).shape() == Shape{5, 4});
  CHECK(d.entropy().shape() == Shape{4});
  CHECK(Independent(base, 0).batch_shape() == Shape{4, 2, 3});
  CHECK_THROWS_AS(Independent(base, 4), ShapeError);
  // no rsample in the base: a named error
  const Independent b(
      std::make_shared<Bernoulli>(Bernoulli::from_logits(Variable(Tensor::zeros({3}, DType::f64)))),
      1);
  CHECK_FALSE(b.has_rsample());
  CHECK_THROWS_WITH(b.rsample({2}), Catch::Contains("Independent(Bernoulli, 1).rsample"));
}

TEST_CASE("Independent gradients pass gradcheck", "[distributions][independent]") {
  Variable loc(Tensor::from_values({2, 2}, {0.3, -1.0, 2.0, 0.0}, DType::f64), true);
  Variable scale(Tensor::from_values({2, 2}, {0.5, 1.5, 1.0, 0.7}, DType::f64), true);
  const Variable x(Tensor::from_values({2, 2}, {0.1, 0.5, 3.0, -1.0}, DType::f64));
  gradcheck(
      [&](const std::vector<Variable>& in) {
        return Independent(std::make_shared<Normal>(in[0], in[1]), 1).log_prob(x);
      },
      {loc, scale});
}

TEST_CASE("Independent passes the conformance kit", "[distributions][independent][conformance]") {
  const Independent d(
      std::make_shared<Normal>(
          Variable(Tensor::from_values({2, 3}, {0.3, -1.2, 2.0, 0.0, 0.5, -0.7}, DType::f64)),
          Variable(Tensor::from_values({3}, {0.8, 1.7, 0.25}, DType::f64))),
      1);
  TG_REQUIRE_CONFORMS(d);
  const Independent b(std::make_shared<Bernoulli>(Bernoulli::from_logits(Variable(
                          Tensor::from_values({2, 2}, {-1.0, 0.5, 2.0, 0.0}, DType::f64)))),
                      2);
  TG_REQUIRE_CONFORMS(b);
}
