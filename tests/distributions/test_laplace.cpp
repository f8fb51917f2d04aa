// Laplace: values against torch.distributions, the inverse-CDF sampler, gradients, conformance.
// Also the worked example of docs/distributions.md.
#include <catch2/catch.hpp>
#include <cmath>

#include "distributions/fixture_json.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/laplace.hpp"
#include "tapegrad/distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

TEST_CASE("Laplace matches torch.distributions.Laplace", "[distributions][laplace]") {
  const auto& c = fixtures()["laplace"];
  const Laplace d(tgtest::var(c["loc"]), tgtest::var(c["scale"]));
  CHECK(d.batch_shape() == Shape{2, 3});
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(d.mean(), c["mean"], 1e-12, 1e-12, "mean");
  require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
  require_close(d.stddev(), c["stddev"], 1e-12, 1e-12, "stddev");
}

TEST_CASE("Laplace gradients pass gradcheck", "[distributions][laplace]") {
  Variable loc = f64({0.3, -1.0, 2.0}, true), scale = f64({0.5, 1.5, 1.0}, true);
  const Variable x = f64({0.1, 0.5, 3.0});
  gradcheck([&](const std::vector<Variable>& in) { return Laplace(in[0], in[1]).log_prob(x); },
            {loc, scale});
  gradcheck([](const std::vector<Variable>& in) { return Laplace(in[0], in[1]).entropy(); },
            {loc, scale});
  gradcheck(
      [](const std::vector<Variable>& in) {
        Generator g(4);
        return Laplace(in[0], in[1]).rsample({5}, &g);
      },
      {loc, scale});
}

TEST_CASE("Laplace validates its scale when asked", "[distributions][laplace]") {
  CHECK_THROWS_AS(Laplace(f64({0.0}), f64({0.0}), true), ValueError);
  CHECK_NOTHROW(Laplace(f64({0.0}), f64({0.0})));
}

TEST_CASE("Laplace passes the conformance kit", "[distributions][laplace][conformance]") {
  const Laplace d(Variable(Tensor::from_values({3}, {0.3, -1.0, 2.0}, DType::f64)),
                  Variable(Tensor::from_values({3}, {0.5, 1.5, 1.0}, DType::f64)));
  TG_REQUIRE_CONFORMS(d);
  const Laplace d32(Variable(Tensor::scalar(1.0, DType::f32)),
                    Variable(Tensor::scalar(0.3, DType::f32)));
  TG_REQUIRE_CONFORMS(d32);
}

TEST_CASE("Laplace.cdf and icdf match torch, gradients included", "[distributions][laplace]") {
  require_cdf_matches(fixtures()["laplace_cdf"], {"loc", "scale"},
                      [](const std::vector<Variable>& p) { return Laplace(p[0], p[1]); });
}

TEST_CASE("an expanded Laplace passes the conformance kit",
          "[distributions][laplace][conformance]") {
  const Laplace d(f64({0.3, -1.0}), f64({0.5, 1.5}));
  const auto e = d.expand({3, 2});
  CHECK(e->batch_shape() == Shape{3, 2});
  TG_REQUIRE_CONFORMS(*e);
}
