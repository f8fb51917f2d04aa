// The ops whose backward is a fused kernel (relu, bernoulli_log_prob): f64 gradcheck and
// gradgradcheck with broadcasting shapes and sizes that are not a multiple of any SIMD width, and
// the exact-zero contract of their fused backward (a zero incoming gradient gives 0, even where the
// formula would give NaN).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "support.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"

using namespace tg;
using Vars = std::vector<Variable>;

namespace {

Variable param(const Shape& shape, double lo, double hi, std::uint64_t seed,
               bool requires_grad = true) {
  tgtest::Rng rng{seed};
  std::vector<double> v(static_cast<std::size_t>(numel(shape)));
  for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
  return Variable(Tensor::from_values(shape, v, DType::f64), requires_grad);
}

}  // namespace

TEST_CASE("bernoulli_log_prob: x l - softplus(l), gradcheck with broadcasting") {
  const auto fn = [](const Vars& v) { return bernoulli_log_prob(v[0], v[1]); };
  for (const auto& [ls, xs] : std::vector<std::pair<Shape, Shape>>{
           {{3, 17}, {3, 17}}, {{3, 17}, {17}}, {{1, 5}, {4, 5}}, {{33}, {}}}) {
    CAPTURE(shape_str(ls), shape_str(xs));
    const Vars in{param(ls, -4, 4, 1), param(xs, 0.05, 0.95, 2)};
    CHECK(gradcheck(fn, in));
    CHECK(gradgradcheck(fn, in));
  }
}

TEST_CASE("bernoulli_log_prob: values match the op-by-op formula") {
  const Variable l = param({7, 9}, -30, 30, 3), x = param({7, 9}, 0, 1, 4, false);
  const Tensor want = (x * l - softplus(l)).value();
  CHECK(allclose(bernoulli_log_prob(l, x).value(), want, 1e-14, 1e-14));
}

TEST_CASE("fused backward: a zero incoming gradient stays an exact zero") {
  SECTION("bernoulli_log_prob at infinite logits") {
    Variable l(Tensor::from_values({3}, {INFINITY, -INFINITY, 2.0}, DType::f64), true);
    Variable x(Tensor::from_values({3}, {0.0, 1.0, 0.5}, DType::f64));
    Variable lp = bernoulli_log_prob(l, x);
    backward(lp, Variable(Tensor::zeros({3}, DType::f64)));
    for (double g : l.grad().value().to_vector()) CHECK(g == 0);
  }
  SECTION("relu where the output is 0 and the incoming gradient is NaN") {
    Variable x(Tensor::from_values({4}, {-1.0, 0.0, 2.0, 3.0}, DType::f64), true);
    Variable y = relu(x);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    backward(y, Variable(Tensor::from_values({4}, {nan, nan, 1.5, 0.0}, DType::f64)));
    const auto g = x.grad().value().to_vector();
    CHECK(g[0] == 0);
    CHECK(g[1] == 0);
    CHECK(g[2] == 1.5);
    CHECK(g[3] == 0);
  }
}

TEST_CASE("relu: gradcheck through the fused backward, sizes off the SIMD width") {
  const auto fn = [](const Vars& v) { return relu(v[0]) * v[1]; };
  // Away from the kink at 0.
  Variable x = param({5, 19}, 0.1, 2, 5);
  std::vector<double> signed_values = x.value().to_vector();
  for (std::size_t i = 0; i < signed_values.size(); i += 2) signed_values[i] = -signed_values[i];
  const Vars in{Variable(Tensor::from_values({5, 19}, signed_values, DType::f64), true),
                param({19}, -1, 1, 6)};
  CHECK(gradcheck(fn, in));
  CHECK(gradgradcheck(fn, in));
}
