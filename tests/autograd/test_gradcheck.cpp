// Tests for autograd/gradcheck.cpp: gradcheck and gradgradcheck must catch wrong backward functions
// (first and second order), accept right ones, and refuse inputs they cannot check.
#include <catch2/catch.hpp>
#include <vector>

#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace {

using Catch::Contains;
using tg::DType;
using tg::Tensor;
using tg::Variable;
using Vars = std::vector<Variable>;

Variable input(DType dtype = DType::f64) {
  return {Tensor::from_values({2, 3}, {0.5, -1.0, 1.5, 2.0, -0.3, 0.7}, dtype), true};
}

// cube: y = x^3 with a selectable backward.
enum class Backward { right, wrong_first, wrong_second };
Variable cube(const Variable& x, Backward kind) {
  return tg::record("cube", {x}, tg::mul(tg::square(x.value()), x.value()), tg::save(x),
                    [kind](tg::Grad& g) {
                      const Variable& X = g.saved(0);
                      switch (kind) {
                        case Backward::right:
                          g.accumulate(0, g.out() * 3.0 * tg::square(X));
                          break;
                        case Backward::wrong_first:
                          g.accumulate(0, g.out() * 2.0 * tg::square(X));
                          break;
                        // Right values, but x^2 enters as a constant, so the derivative of the
                        // gradient misses 6x.
                        case Backward::wrong_second:
                          g.accumulate(0, g.out() * 3.0 * Variable(tg::square(X.value())));
                          break;
                      }
                    });
}

TEST_CASE("gradcheck accepts a right backward and catches a wrong one", "[gradcheck]") {
  const tg::GradcheckFn right = [](const Vars& v) { return cube(v[0], Backward::right); };
  const tg::GradcheckFn wrong = [](const Vars& v) { return cube(v[0], Backward::wrong_first); };
  CHECK(tg::gradcheck(right, {input()}));
  CHECK_FALSE(tg::gradcheck(wrong, {input()}, {.raise = false}));
  CHECK_THROWS_AS(tg::gradcheck(wrong, {input()}), tg::AutogradError);
  CHECK_THROWS_WITH(tg::gradcheck(wrong, {input()}, {.raise = true}),
                    Contains("Jacobian mismatch") && Contains("(2, 3)"));
  // Inputs are left as they were, and the tape is left empty.
  const Variable x = input();
  tg::gradcheck(right, {x});
  CHECK(x.value().to_vector() == input().value().to_vector());
  CHECK(tg::tape().size() == 0);
}

TEST_CASE("gradcheck checks every input that requires a gradient, and only those", "[gradcheck]") {
  // mul with a wrong gradient for its second input only.
  auto bad_mul = [](const Vars& v) {
    return tg::record("bad_mul", {v[0], v[1]}, tg::mul(v[0].value(), v[1].value()),
                      tg::save(v[0], v[1]), [](tg::Grad& g) {
                        if (g.needs(0)) g.accumulate(0, g.out() * g.saved(1));
                        if (g.needs(1))
                          g.accumulate(1, g.out() * g.saved(1));  // should be saved(0)
                      });
  };
  const Variable a = input(), b(Tensor::full({2, 3}, 0.25, DType::f64), true);
  CHECK_FALSE(tg::gradcheck(bad_mul, {a, b}, {.raise = false}));
  CHECK_THROWS_WITH(tg::gradcheck(bad_mul, {a, b}), Contains("input 1"));
  CHECK(tg::gradcheck(bad_mul, {a, Variable(b.value())}));  // b is a constant: not checked
}

TEST_CASE("gradcheck refuses f32 inputs and functions with nothing to check", "[gradcheck]") {
  const tg::GradcheckFn right = [](const Vars& v) { return cube(v[0], Backward::right); };
  CHECK_THROWS_AS(tg::gradcheck(right, {input(DType::f32)}), tg::DTypeError);
  CHECK_THROWS_WITH(tg::gradcheck(right, {input(DType::f32)}), Contains("f64"));
  CHECK_THROWS_AS(tg::gradgradcheck(right, {input(DType::f32)}), tg::DTypeError);
  CHECK_THROWS_AS(tg::gradcheck(right, {Variable(input().value())}),
                  tg::AutogradError);  // no grads
  const tg::GradcheckFn constant = [](const Vars&) {
    return Variable(Tensor::ones({2}, DType::f64));
  };
  CHECK_FALSE(tg::gradcheck(constant, {input()}, {.raise = false}));
  tg::tape().clear();
}

TEST_CASE("gradcheck reports the worst mismatch, not the first", "[gradcheck]") {
  // y = x^3 with a backward off by (i + 1) / 10 at element i: the worst is the last, x[5].
  const tg::GradcheckFn off = [](const Vars& v) {
    return tg::record("off", {v[0]}, tg::mul(tg::square(v[0].value()), v[0].value()),
                      tg::save(v[0]), [](tg::Grad& g) {
                        const Tensor bump =
                            Tensor::from_values({2, 3}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, DType::f64);
                        g.accumulate(
                            0, g.out() * 3.0 * tg::square(g.saved(0)) + g.out() * Variable(bump));
                      });
  };
  CHECK_THROWS_WITH(tg::gradcheck(off, {input()}),
                    Contains("at 6 of 36 entries") && Contains("d out[5] / d x[5]"));
}

TEST_CASE("gradcheck and gradgradcheck work under NoGradGuard", "[gradcheck]") {
  const tg::GradcheckFn right = [](const Vars& v) { return cube(v[0], Backward::right); };
  tg::NoGradGuard no_grad;
  CHECK(tg::gradcheck(right, {input()}));
  CHECK(tg::gradgradcheck(right, {input()}));
  CHECK_FALSE(tg::grad_mode_enabled());  // the caller's mode is back
}

TEST_CASE("gradgradcheck catches a wrong second derivative that gradcheck misses", "[gradcheck]") {
  const tg::GradcheckFn right = [](const Vars& v) { return cube(v[0], Backward::right); };
  const tg::GradcheckFn wrong = [](const Vars& v) { return cube(v[0], Backward::wrong_second); };
  CHECK(tg::gradcheck(wrong, {input()}));  // the first derivative is right
  CHECK(tg::gradgradcheck(right, {input()}));
  CHECK_FALSE(tg::gradgradcheck(wrong, {input()}, {.raise = false}));
  CHECK_THROWS_AS(tg::gradgradcheck(wrong, {input()}), tg::AutogradError);
  tg::tape().clear();
}

}  // namespace
