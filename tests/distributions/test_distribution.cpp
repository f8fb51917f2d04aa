// The Distribution base class: shapes, the default sample(), validation defaults.
#include <catch2/catch.hpp>

#include "tapegrad/distributions/bernoulli.hpp"
#include "tapegrad/distributions/normal.hpp"

using namespace tg;
using namespace tg::dist;

TEST_CASE("extended_shape is sample + batch + event", "[distributions][base]") {
  const Normal d(Variable(Tensor::zeros({2, 3}, DType::f64)),
                 Variable(Tensor::ones({3}, DType::f64)));
  CHECK(d.extended_shape() == Shape{2, 3});
  CHECK(d.extended_shape({4, 5}) == Shape{4, 5, 2, 3});
}

TEST_CASE("the default sample() is rsample() without a gradient", "[distributions][base]") {
  Variable loc(Tensor::zeros({3}, DType::f64), true);
  const Normal d(loc, Variable(Tensor::ones({3}, DType::f64)));
  Generator g1(9), g2(9);
  const Variable s = d.sample({2}, &g1);
  const Variable r = d.rsample({2}, &g2);
  CHECK_FALSE(s.requires_grad());
  CHECK(r.requires_grad());
  CHECK(allclose(s.value(), r.value(), 0, 0));
}

TEST_CASE("validate_args defaults to off and follows set_default_validate_args",
          "[distributions][base]") {
  const Variable bad_scale(Tensor::from_values({1}, {-1.0}, DType::f64));
  const Variable zero(Tensor::zeros({1}, DType::f64));
  CHECK_FALSE(default_validate_args());
  CHECK_NOTHROW(Normal(zero, bad_scale));
  set_default_validate_args(true);
  CHECK_THROWS_AS(Normal(zero, bad_scale), ValueError);
  CHECK_NOTHROW(Normal(zero, bad_scale, false));  // the constructor's flag wins
  set_default_validate_args(false);
  Normal d(zero, bad_scale);
  CHECK_FALSE(d.validate_args());
  d.set_validate_args(true);
  CHECK(d.validate_args());
}

TEST_CASE("support errors name the distribution and the value", "[distributions][base]") {
  const Bernoulli d = Bernoulli::from_logits(Variable(Tensor::zeros({2}, DType::f64)), true);
  CHECK_THROWS_WITH(
      d.log_prob(Variable(Tensor::from_values({2}, {1.0, 3.0}, DType::f64))),
      Catch::Contains("Bernoulli.log_prob: value 3") && Catch::Contains("outside the support"));
}
