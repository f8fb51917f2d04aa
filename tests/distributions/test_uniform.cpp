// Uniform: values against torch.distributions, -inf outside [low, high), gradients, conformance.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/testing.hpp"
#include "tapegrad/distributions/uniform.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

TEST_CASE("Uniform matches torch.distributions.Uniform", "[distributions][uniform]") {
  const auto& c = fixtures()["uniform"];
  const Uniform d(tgtest::var(c["low"]), tgtest::var(c["high"]));
  // the fixture's values include low (inside), high (outside) and points beyond both
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
  require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
}

TEST_CASE("Uniform validates when asked", "[distributions][uniform]") {
  CHECK_THROWS_AS(Uniform(f64({1.0}), f64({1.0}), true), ValueError);
  CHECK_THROWS_AS(Uniform(f64({0.0}), f64({1.0}), true).log_prob(f64({1.0})), ValueError);
  CHECK(Uniform(f64({0.0}), f64({1.0})).log_prob(f64({1.0})).item() ==
        -std::numeric_limits<double>::infinity());
}

TEST_CASE("Uniform gradients pass gradcheck", "[distributions][uniform]") {
  Variable low = f64({0.0, -2.0}, true), high = f64({1.0, 3.0}, true);
  const Variable x = f64({0.5, 0.1});
  gradcheck([&](const std::vector<Variable>& in) { return Uniform(in[0], in[1]).log_prob(x); },
            {low, high});
  gradcheck([](const std::vector<Variable>& in) { return Uniform(in[0], in[1]).entropy(); },
            {low, high});
  gradcheck(
      [](const std::vector<Variable>& in) {
        Generator g(2);
        return Uniform(in[0], in[1]).rsample({4}, &g);
      },
      {low, high});
}

TEST_CASE("Uniform passes the conformance kit", "[distributions][uniform][conformance]") {
  const Uniform d(Variable(Tensor::from_values({2}, {0.0, -2.0}, DType::f64)),
                  Variable(Tensor::from_values({2}, {1.0, 3.0}, DType::f64)));
  // q must contain p's support for a finite KL: a wider Uniform
  auto q = std::make_shared<Uniform>(Variable(Tensor::from_values({2}, {-1.0, -3.0}, DType::f64)),
                                     Variable(Tensor::from_values({2}, {2.0, 4.0}, DType::f64)));
  TG_REQUIRE_CONFORMS(d, {.q = q});
  const Uniform d32(Variable(Tensor::scalar(-0.5, DType::f32)),
                    Variable(Tensor::scalar(0.25, DType::f32)));
  TG_REQUIRE_CONFORMS(d32);
}

TEST_CASE("Uniform.cdf and icdf match torch, gradients included", "[distributions][uniform]") {
  require_cdf_matches(fixtures()["uniform_cdf"], {"low", "high"},
                      [](const std::vector<Variable>& p) { return Uniform(p[0], p[1]); });
  // 0 below the support, 1 above
  const Uniform d(f64({0.0}), f64({2.0}));
  CHECK(d.cdf(f64({-1.0})).item() == 0.0);
  CHECK(d.cdf(f64({3.0})).item() == 1.0);
}

TEST_CASE("an expanded Uniform passes the conformance kit",
          "[distributions][uniform][conformance]") {
  const Uniform d(f64({0.0, -1.0}), f64({1.0, 2.5}));
  TG_REQUIRE_CONFORMS(*d.expand({2, 2}));
}
