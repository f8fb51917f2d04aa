// Normal: values against torch.distributions, the reparameterized sampler, gradients, conformance.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/gradcheck.hpp"
#include "distributions/fixture_json.hpp"
#include "distributions/kl.hpp"
#include "distributions/normal.hpp"
#include "distributions/testing.hpp"

using namespace tg;
using namespace tg::dist;
using namespace tgtest;

TEST_CASE("Normal matches torch.distributions.Normal", "[distributions][normal]") {
  const auto& c = fixtures()["normal"];
  Normal d(tgtest::var(c["loc"]), tgtest::var(c["scale"]));
  CHECK(d.batch_shape() == Shape{2, 3});
  CHECK(d.event_shape().empty());
  require_close(d.log_prob(tgtest::var(c["value"])), c["log_prob"], 1e-12, 1e-12, "log_prob");
  require_close(d.entropy(), c["entropy"], 1e-12, 1e-12, "entropy");
  require_close(broadcast_to(d.mean(), d.batch_shape()), c["mean"], 1e-12, 1e-12, "mean");
  require_close(d.variance(), c["variance"], 1e-12, 1e-12, "variance");
  require_close(d.stddev(), c["stddev"], 1e-12, 1e-12, "stddev");
}

TEST_CASE("Normal.rsample is loc + eps * scale and carries gradients", "[distributions][normal]") {
  Variable loc = f64({0.5, -1.0}, true), scale = f64({2.0, 0.25}, true);
  Normal d(loc, scale);
  Generator g1(7), g2(7);
  const Variable x = d.rsample({1000}, &g1);
  REQUIRE(x.shape() == Shape{1000, 2});
  REQUIRE(x.requires_grad());
  // the same generator state gives the same eps
  const Tensor eps = Tensor::randn({1000, 2}, DType::f64, &g2);
  REQUIRE(allclose(x.value(), loc.value() + eps * scale.value(), 1e-15, 1e-15));
  backward(sum(x));
  // d/dloc sum x = n; d/dscale sum x = sum eps
  require_close(loc.grad(), Tensor::from_values({2}, {1000, 1000}, DType::f64));
  require_close(scale.grad(), sum(eps, {0}), 1e-12, 1e-12);
}

TEST_CASE("Normal.sample has no gradient", "[distributions][normal]") {
  Normal d(f64({0.0}, true), f64({1.0}, true));
  Generator g(1);
  const Variable x = d.sample({5}, &g);
  CHECK_FALSE(x.requires_grad());
  CHECK(x.shape() == Shape{5, 1});
}

TEST_CASE("Normal gradients pass gradcheck", "[distributions][normal]") {
  Variable loc = f64({0.3, -1.0, 2.0}, true), scale = f64({0.7, 1.5, 0.4}, true);
  Variable value = f64({0.1, 0.0, 2.5}, true);
  gradcheck([](const std::vector<Variable>& in) { return Normal(in[0], in[1]).log_prob(in[2]); },
            {loc, scale, value});
  gradcheck([](const std::vector<Variable>& in) { return Normal(in[0], in[1]).entropy(); },
            {loc, scale});
  // the reparameterized sample, with the generator reset so eps is the same every call
  gradcheck(
      [](const std::vector<Variable>& in) {
        Generator g(3);
        return Normal(in[0], in[1]).rsample({4}, &g);
      },
      {loc, scale});
}

TEST_CASE("Normal validates its arguments only when asked", "[distributions][normal]") {
  REQUIRE_NOTHROW(Normal(f64({0.0}), f64({-1.0})));
  REQUIRE_THROWS_AS(Normal(f64({0.0}), f64({-1.0}), true), ValueError);
  REQUIRE_THROWS_AS(Normal(f64({0.0, 1.0}), f64({1.0, 2.0, 3.0})), ShapeError);
  REQUIRE_THROWS_AS(Normal(f64({0.0}), Variable(Tensor::ones({1}, DType::f32))), DTypeError);
}

TEST_CASE("Normal's KL registration is linked with the class", "[distributions][normal]") {
  // This program names no KL function, only the Normal class: its registration (in normal.cpp,
  // beside the constructor) must still have been linked from the static library.
  const Normal p(f64({0.0}), f64({1.0})), q(f64({1.0}), f64({2.0}));
  const KLResult r = kl_divergence_ex(p, q);
  CHECK(r.method == KLMethod::closed_form);
  CHECK(r.value.item() == Approx(std::log(2.0) + 2.0 / 8.0 - 0.5).epsilon(1e-14));
}

TEST_CASE("Normal passes the conformance kit", "[distributions][normal][conformance]") {
  Normal d(Variable(Tensor::from_values({2, 2}, {0.3, -1.2, 4.0, 0.0}, DType::f64)),
           Variable(Tensor::from_values({2}, {0.8, 2.5}, DType::f64)));
  TG_REQUIRE_CONFORMS(d);
  Normal d32(Variable(Tensor::from_values({3}, {0.3, -1.2, 1.0}, DType::f32)),
             Variable(Tensor::scalar(0.6, DType::f32)));
  TG_REQUIRE_CONFORMS(d32, {.seed = 99});
}
