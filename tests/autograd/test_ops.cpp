// Tests for autograd/ops.cpp: every differentiable op of ops.hpp against central differences
// (gradcheck) and, where its second derivative exists, gradgradcheck; all in f64, at broadcasting
// shapes and at sizes that are not a multiple of the SIMD width (7, 17, 33), with inputs kept away
// from kinks. Forward values are checked against the tensor library (and std:: where it has the
// function), and the promises ops.hpp makes (where's untaken branch, ties, stable BCE) are checked
// directly.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/tensor/random.hpp"

namespace {

using tg::DType;
using tg::Shape;
using tg::Tensor;
using tg::Variable;
using Vars = std::vector<Variable>;

// Inputs from a fixed stream per test case, so every run (and every ctest process) sees the same.
struct Rand {
  explicit Rand(std::uint64_t seed) : gen(seed) {}
  // Uniform in [lo, hi), f64.
  Tensor uniform(const Shape& shape, double lo, double hi) {
    return Tensor::rand(shape, DType::f64, &gen) * (hi - lo) + lo;
  }
  // A parameter: uniform in [lo, hi), requires a gradient.
  Variable param(const Shape& shape, double lo, double hi) {
    return {uniform(shape, lo, hi), true};
  }
  tg::Generator gen;
};

// Moves every element closer than `margin` to a kink (or to any value in `kinks`) 2 * margin above
// it, so that no central difference straddles a point where the op is not differentiable.
Tensor away_from(const Tensor& x, const std::vector<double>& kinks, double margin = 0.02) {
  Tensor y = x.clone();
  double* p = y.data<double>();
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    for (bool moved = true; moved;) {  // moving only ever goes up, so this ends
      moved = false;
      for (double k : kinks)
        if (std::abs(p[i] - k) < margin) {
          p[i] = k + 2 * margin;
          moved = true;
        }
    }
  }
  return y;
}

// Same values, same shape (bitwise, up to rtol for ops composed differently in the two layers).
bool same_values(const Tensor& a, const Tensor& b, double rtol = 0) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && tg::allclose(a, b, rtol, 0, true);
}

std::string shapes_str(const Vars& xs) {
  std::string s;
  for (const auto& x : xs) s += (s.empty() ? "" : " & ") + tg::shape_str(x.shape());
  return s;
}

// gradcheck, then gradgradcheck when `second`; each throws with the worst mismatch on failure.
void check_grads(const tg::GradcheckFn& fn, const Vars& inputs, bool second = true) {
  INFO("inputs " << shapes_str(inputs));
  CHECK(tg::gradcheck(fn, inputs));
  if (second) CHECK(tg::gradgradcheck(fn, inputs));
}

const std::vector<Shape> kUnaryShapes = {{}, {7}, {17}, {33}, {2, 3}};
// Pairs that broadcast every way: equal, both sides stretched, a trailing vector, a scalar either
// side.
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{7}, {7}}, {{3, 1}, {1, 4}}, {{2, 3, 5}, {5}},   {{}, {7}},
    {{17}, {}}, {{33}, {1}},      {{4, 1, 3}, {2, 1}}};

// --- element-wise, unary -------------------------------------------------------------------------

struct UnaryCase {
  const char* name;
  Variable (*op)(const Variable&);
  Tensor (*forward)(const Tensor&);
  double (*reference)(double);  // an independent scalar formula, or null
  double lo, hi;                // the domain the inputs are drawn from
  std::vector<double> kinks;
  // Where the op or its derivative is infinite or undefined (besides NaN and +-inf, which every row
  // tries): the branch not taken by where must still get an exact 0 there.
  std::vector<double> singular;
  bool second = true;  // does the second derivative exist (gradgradcheck)?
};

double ref_sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
double ref_softplus(double x) { return std::log1p(std::exp(x)); }
double ref_log_sigmoid(double x) { return -std::log1p(std::exp(-x)); }

// clang-format off
const std::vector<UnaryCase> kUnary = {
    {"neg", [](const Variable& x) { return tg::neg(x); },
     [](const Tensor& x) { return tg::neg(x); },
     [](double x) { return -x; }, -2, 2, {}, {}},
    {"exp", [](const Variable& x) { return tg::exp(x); },
     [](const Tensor& x) { return tg::exp(x); },
     [](double x) { return std::exp(x); }, -2, 2, {}, {1000}},
    {"expm1", [](const Variable& x) { return tg::expm1(x); },
     [](const Tensor& x) { return tg::expm1(x); },
     [](double x) { return std::expm1(x); }, -2, 2, {}, {1000}},
    {"log", [](const Variable& x) { return tg::log(x); },
     [](const Tensor& x) { return tg::log(x); },
     [](double x) { return std::log(x); }, 0.3, 3, {}, {0, -1}},
    {"log1p", [](const Variable& x) { return tg::log1p(x); },
     [](const Tensor& x) { return tg::log1p(x); },
     [](double x) { return std::log1p(x); }, -0.5, 2, {}, {-1, -2}},
    {"sqrt", [](const Variable& x) { return tg::sqrt(x); },
     [](const Tensor& x) { return tg::sqrt(x); },
     [](double x) { return std::sqrt(x); }, 0.3, 3, {}, {0, -1}},
    {"square", [](const Variable& x) { return tg::square(x); },
     [](const Tensor& x) { return tg::square(x); },
     [](double x) { return x * x; }, -2, 2, {}, {1e300}},
    {"abs", [](const Variable& x) { return tg::abs(x); },
     [](const Tensor& x) { return tg::abs(x); },
     [](double x) { return std::abs(x); }, -2, 2, {0}, {0}},
    {"tanh", [](const Variable& x) { return tg::tanh(x); },
     [](const Tensor& x) { return tg::tanh(x); },
     [](double x) { return std::tanh(x); }, -2, 2, {}, {}},
    {"sigmoid", [](const Variable& x) { return tg::sigmoid(x); },
     [](const Tensor& x) { return tg::sigmoid(x); },
     ref_sigmoid, -3, 3, {}, {}},
    {"relu", [](const Variable& x) { return tg::relu(x); },
     [](const Tensor& x) { return tg::relu(x); },
     [](double x) { return x > 0 ? x : 0.0; }, -2, 2, {0}, {0}},
    {"softplus", [](const Variable& x) { return tg::softplus(x); },
     [](const Tensor& x) { return tg::softplus(x); },
     ref_softplus, -3, 3, {}, {}},
    {"log_sigmoid", [](const Variable& x) { return tg::log_sigmoid(x); },
     [](const Tensor& x) { return tg::log_sigmoid(x); }, ref_log_sigmoid, -3, 3, {}, {}},
    {"erf", [](const Variable& x) { return tg::erf(x); },
     [](const Tensor& x) { return tg::erf(x); },
     [](double x) { return std::erf(x); }, -2, 2, {}, {}},
    {"lgamma", [](const Variable& x) { return tg::lgamma(x); },
     [](const Tensor& x) { return tg::lgamma(x); },
     [](double x) { return std::lgamma(x); }, 0.3, 5, {}, {0, -1, -2}},
    {"reciprocal", [](const Variable& x) { return tg::reciprocal(x); },
     [](const Tensor& x) { return tg::reciprocal(x); },
     [](double x) { return 1 / x; }, 0.3, 3, {}, {0}},
    {"rsqrt", [](const Variable& x) { return tg::rsqrt(x); },
     [](const Tensor& x) { return tg::reciprocal(tg::sqrt(x)); },
     [](double x) { return 1 / std::sqrt(x); }, 0.3, 3, {}, {0, -1}},
    {"digamma", [](const Variable& x) { return tg::digamma(x); },
     [](const Tensor& x) { return tg::digamma(x); },
     nullptr, 0.3, 5, {}, {0, -1, -2}, /*second=*/false},
    {"erfinv", [](const Variable& x) { return tg::erfinv(x); },
     [](const Tensor& x) { return tg::erfinv(x); },
     [](double y) { return tg::erfinv(Tensor::scalar(y, DType::f64)).item(); }, -0.9, 0.9, {}, {1, -1}},
};
// clang-format on

TEST_CASE("unary ops: forward values match the tensor library and std::", "[ops][unary]") {
  Rand r(1);
  for (const auto& c : kUnary) {
    INFO(c.name);
    const Tensor x = away_from(r.uniform({33}, c.lo, c.hi), c.kinks);
    const Variable y = c.op(Variable(x, true));
    CHECK(same_values(y.value(), c.forward(x)));
    if (c.reference) {
      const auto xs = x.to_vector(), ys = y.value().to_vector();
      for (std::size_t i = 0; i < xs.size(); ++i)
        CHECK(ys[i] == Approx(c.reference(xs[i])).epsilon(1e-12));
    }
  }
}

TEST_CASE("unary ops: gradcheck and gradgradcheck", "[ops][unary]") {
  Rand r(2);
  for (const auto& c : kUnary) {
    INFO(c.name);
    for (const auto& s : kUnaryShapes) {
      const Variable x(away_from(r.uniform(s, c.lo, c.hi), c.kinks), true);
      check_grads([&c](const Vars& v) { return c.op(v[0]); }, {x}, c.second);
    }
  }
}

TEST_CASE("lgamma and digamma at negative non-integers", "[ops][unary]") {
  Rand r(3);
  const Variable x(r.uniform({7}, -2.8, -2.2), true);
  check_grads([](const Vars& v) { return tg::lgamma(v[0]); }, {x});
  check_grads([](const Vars& v) { return tg::digamma(v[0]); }, {x}, /*second=*/false);
}

TEST_CASE("erfinv: erf undoes it, and a zero gradient stays zero at +-1", "[ops][unary]") {
  const Variable x(Tensor::from_values({4}, {-0.95, -0.2, 0.4, 0.99}, DType::f64), true);
  const Variable y = tg::erf(tg::erfinv(x));
  CHECK(tg::allclose(y.value(), x.value(), 1e-14, 1e-15));
  // d/dx erf(erfinv(x)) = 1
  tg::backward(tg::sum(y));
  CHECK(tg::allclose(x.grad().value(), Tensor::ones({4}, DType::f64), 1e-12, 1e-12));
  // at x = +-1 the derivative is infinite: a zero incoming gradient is still exactly 0
  const Variable edge(Tensor::from_values({3}, {-1.0, 0.5, 1.0}, DType::f64), true);
  const Variable e = tg::erfinv(edge);
  CHECK(e.value().to_vector()[0] == -std::numeric_limits<double>::infinity());
  tg::backward(e, Variable(Tensor::from_values({3}, {0.0, 1.0, 0.0}, DType::f64)));
  const auto g = edge.grad().value().to_vector();
  CHECK(g[0] == 0.0);
  CHECK(g[1] == Approx(std::sqrt(std::numbers::pi) / 2 *
                       std::exp(0.4769362762044699 * 0.4769362762044699)));
  CHECK(g[2] == 0.0);
}

TEST_CASE("digamma is differentiable once: its second backward raises", "[ops][unary]") {
  tg::tape().clear();
  const Variable x(Tensor::from_values({3}, {0.5, 1.5, 4.0}, DType::f64), true);
  const auto g = tg::grad({tg::sum(tg::digamma(x))}, {x}, {}, {.create_graph = true});
  REQUIRE(g[0].defined());
  REQUIRE_THROWS_AS(tg::backward(tg::sum(g[0])), tg::AutogradError);
  tg::tape().clear();
  const Variable x2(Tensor::from_values({3}, {0.5, 1.5, 4.0}, DType::f64), true);
  const auto g2 = tg::grad({tg::sum(tg::digamma(x2))}, {x2}, {}, {.create_graph = true});
  REQUIRE_THROWS_WITH(tg::backward(tg::sum(g2[0])), Catch::Contains("trigamma"));
  tg::tape().clear();
  REQUIRE_THROWS_AS(tg::gradgradcheck([](const Vars& v) { return tg::digamma(v[0]); }, {x}),
                    tg::AutogradError);
}

// --- element-wise, binary ------------------------------------------------------------------------

struct BinaryCase {
  const char* name;
  Variable (*op)(const Variable&, const Variable&);
  Tensor (*forward)(const Tensor&, const Tensor&);
  double lo_a, hi_a, lo_b, hi_b;
  bool ties_matter = false;  // keep b away from every value of a (maximum, minimum)
};

const std::vector<BinaryCase> kBinary = {
    {"add", [](const Variable& a, const Variable& b) { return tg::add(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::add(a, b); }, -2, 2, -2, 2},
    {"sub", [](const Variable& a, const Variable& b) { return tg::sub(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::sub(a, b); }, -2, 2, -2, 2},
    {"mul", [](const Variable& a, const Variable& b) { return tg::mul(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::mul(a, b); }, -2, 2, -2, 2},
    {"div", [](const Variable& a, const Variable& b) { return tg::div(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::div(a, b); }, -2, 2, 0.5, 2},
    {"pow", [](const Variable& a, const Variable& b) { return tg::pow(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::pow(a, b); }, 0.5, 2, -1.5, 1.5},
    {"maximum", [](const Variable& a, const Variable& b) { return tg::maximum(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::maximum(a, b); }, -2, 2, -2, 2, true},
    {"minimum", [](const Variable& a, const Variable& b) { return tg::minimum(a, b); },
     [](const Tensor& a, const Tensor& b) { return tg::minimum(a, b); }, -2, 2, -2, 2, true},
};

TEST_CASE("binary ops: forward values match the tensor library", "[ops][binary]") {
  Rand r(4);
  for (const auto& c : kBinary) {
    INFO(c.name);
    for (const auto& [sa, sb] : kBinaryShapes) {
      const Tensor a = r.uniform(sa, c.lo_a, c.hi_a), b = r.uniform(sb, c.lo_b, c.hi_b);
      const Variable y = c.op(Variable(a, true), Variable(b, true));
      CHECK(same_values(y.value(), c.forward(a, b)));
    }
  }
}

TEST_CASE("binary ops: gradcheck and gradgradcheck with broadcasting", "[ops][binary]") {
  Rand r(5);
  for (const auto& c : kBinary) {
    INFO(c.name);
    for (const auto& [sa, sb] : kBinaryShapes) {
      const Tensor a = r.uniform(sa, c.lo_a, c.hi_a);
      Tensor b = r.uniform(sb, c.lo_b, c.hi_b);
      if (c.ties_matter) b = away_from(b, a.to_vector());
      check_grads([&c](const Vars& v) { return c.op(v[0], v[1]); },
                  {Variable(a, true), Variable(b, true)});
    }
    // Only one side requires a gradient: the other is a constant the backward must skip.
    Tensor a = r.uniform({3, 1}, c.lo_a, c.hi_a), b = r.uniform({1, 4}, c.lo_b, c.hi_b);
    if (c.ties_matter) b = away_from(b, a.to_vector());
    check_grads([&c](const Vars& v) { return c.op(v[0], v[1]); }, {Variable(a, true), Variable(b)});
    check_grads([&c](const Vars& v) { return c.op(v[0], v[1]); }, {Variable(a), Variable(b, true)});
  }
}

TEST_CASE("pow with a constant exponent", "[ops][binary]") {
  Rand r(6);
  for (double p : {2.0, 3.0, 0.5, -1.5}) {
    INFO("p = " << p);
    for (const Shape& s : {Shape{7}, Shape{17}, Shape{2, 3}}) {
      const Tensor a = r.uniform(s, 0.5, 2);
      CHECK(same_values(tg::pow(Variable(a, true), p).value(),
                        tg::pow(a, Tensor::scalar(p, DType::f64))));
      check_grads([p](const Vars& v) { return tg::pow(v[0], p); }, {Variable(a, true)});
    }
  }
}

TEST_CASE("pow: the exponent's gradient is 0 where the base is 0, not NaN", "[ops][binary]") {
  tg::tape().clear();
  const Variable a(Tensor::from_values({2}, {0.0, 2.0}, DType::f64), true);
  const Variable b(Tensor::from_values({2}, {2.0, 3.0}, DType::f64), true);
  tg::backward(tg::sum(tg::pow(a, b)));
  const auto gb = b.grad().value().to_vector();
  CHECK(gb[0] == 0.0);
  CHECK(gb[1] == Approx(8 * std::log(2.0)));
}

TEST_CASE("maximum and minimum: ties send half the gradient to each side", "[ops][binary]") {
  tg::tape().clear();
  Variable a(Tensor::from_values({3}, {1.0, 2.0, 3.0}, DType::f64), true);
  Variable b(Tensor::from_values({3}, {0.0, 2.0, 5.0}, DType::f64), true);
  tg::backward(tg::sum(tg::maximum(a, b)));
  CHECK(a.grad().value().to_vector() == std::vector<double>{1.0, 0.5, 0.0});
  CHECK(b.grad().value().to_vector() == std::vector<double>{0.0, 0.5, 1.0});
  a.zero_grad();
  b.zero_grad();
  tg::backward(tg::sum(tg::minimum(a, b)));
  CHECK(a.grad().value().to_vector() == std::vector<double>{0.0, 0.5, 1.0});
  CHECK(b.grad().value().to_vector() == std::vector<double>{1.0, 0.5, 0.0});
}

TEST_CASE("where: gradients go to the branch taken, broadcasting all three", "[ops][where]") {
  Rand r(7);
  struct Case {
    Shape mask, a, b;
  };
  for (const auto& c : {Case{{3, 4}, {3, 1}, {1, 4}}, Case{{7}, {}, {7}},
                        Case{{2, 1, 5}, {3, 5}, {2, 3, 1}}, Case{{17}, {17}, {17}}}) {
    const Tensor m = tg::gt(r.uniform(c.mask, 0, 1), Tensor::scalar(0.5, DType::f64));
    const Tensor a = r.uniform(c.a, -2, 2), b = r.uniform(c.b, -2, 2);
    CHECK(same_values(tg::where(Variable(m), Variable(a, true), Variable(b, true)).value(),
                      tg::where(m, a, b)));
    check_grads([m](const Vars& v) { return tg::where(Variable(m), v[0], v[1]); },
                {Variable(a, true), Variable(b, true)});
  }
}

TEST_CASE("where: the branch not taken gets a zero gradient, never its NaN", "[ops][where]") {
  tg::tape().clear();
  // where(x > 0, log(x), 0): log(-1) is NaN, but only in the branch not taken.
  const Variable x(Tensor::from_values({3}, {-1.0, 2.0, -3.0}, DType::f64), true);
  const Variable mask(tg::gt(x.value(), Tensor::scalar(0, DType::f64)), /*requires_grad=*/true);
  const Variable y = tg::where(mask, tg::log(x), Variable(Tensor::scalar(0, DType::f64)));
  CHECK(y.value().to_vector() == std::vector<double>{0.0, std::log(2.0), 0.0});
  tg::backward(tg::sum(y));
  const auto gx = x.grad().value().to_vector();
  CHECK(gx == std::vector<double>{0.0, 0.5, 0.0});  // 0 where not taken, not NaN
  CHECK_FALSE(mask.grad().defined());               // the mask never gets a gradient
}

// Every element of v is exactly zero (+0 or -0), none NaN.
bool all_exact_zeros(const Variable& v) {
  for (double e : v.value().to_vector())
    if (e != 0) return false;
  return true;
}

// The where contract at every op's singular points: y = sum(where(m, f(x), 0)) with the mask false
// at the singular points (and at NaN and +-inf), true at a regular point. First and second
// derivatives are an exact 0 where the branch was not taken, the regular point's are f'(x) and
// f''(x). 17 elements: the singular points land in the SIMD body and in the tail.
TEST_CASE("where: the untaken branch gets an exact 0 at every unary op's singular points",
          "[ops][where]") {
  const double nan = std::numeric_limits<double>::quiet_NaN(),
               inf = std::numeric_limits<double>::infinity();
  for (const auto& c : kUnary) {
    INFO(c.name);
    std::vector<double> bad = c.singular;
    for (double v : {nan, inf, -inf}) bad.push_back(v);
    const double regular = 0.5 * (c.lo + c.hi) + 0.013;  // away from every kink
    std::vector<double> xs(17), ms(17, 0.0);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = bad[i % bad.size()];
    xs[5] = regular;
    ms[5] = 1;
    tg::tape().clear();
    const Variable x(Tensor::from_values({17}, xs, DType::f64), true);
    const Variable m(Tensor::from_values({17}, ms, DType::f64));
    const Variable y = tg::sum(tg::where(m, c.op(x), Variable(Tensor::scalar(0, DType::f64))));
    const auto g = tg::grad({y}, {x}, {}, {.create_graph = c.second});
    auto gv = g[0].value().to_vector();
    // The regular point's derivative, by a central difference.
    const double h = 1e-6;
    const auto f_at = [&](double v) { return c.forward(Tensor::scalar(v, DType::f64)).item(); };
    CHECK(gv[5] == Approx((f_at(regular + h) - f_at(regular - h)) / (2 * h)).epsilon(1e-6));
    gv[5] = 0;
    CHECK(all_exact_zeros(Variable(Tensor::from_values({17}, gv, DType::f64))));
    if (c.second && g[0].requires_grad()) {  // (a linear op's gradient is a constant)
      const auto h2 = tg::grad({tg::sum(g[0])}, {x});
      auto hv = h2[0].defined() ? h2[0].value().to_vector() : std::vector<double>(17, 0.0);
      hv[5] = 0;
      CHECK(all_exact_zeros(Variable(Tensor::from_values({17}, hv, DType::f64))));
    }
    tg::tape().clear();
  }
}

// The three cases, and the binary ops' own singular points.
TEST_CASE("where: x log x at 0, sqrt below 0, 1/x and x^0.5 at 0 give zero gradients",
          "[ops][where]") {
  using Fn = Variable (*)(const Variable&);
  struct Case {
    const char* name;
    Fn f;
    double singular;
  };
  const Case cases[] = {
      {"log(x)", [](const Variable& x) { return tg::log(x); }, 0.0},
      {"x log(x)", [](const Variable& x) { return x * tg::log(x); }, 0.0},
      {"sqrt(x)", [](const Variable& x) { return tg::sqrt(x); }, -1.0},
      {"1 / x", [](const Variable& x) { return 1.0 / x; }, 0.0},
      {"x / x", [](const Variable& x) { return x / x; }, 0.0},
      {"pow(x, 0.5)", [](const Variable& x) { return tg::pow(x, 0.5); }, 0.0},
      {"pow(x, x)", [](const Variable& x) { return tg::pow(x, x); }, 0.0},
      {"pow(2, -1/x)", [](const Variable& x) { return tg::pow(x * 0.0 + 2.0, -1.0 / x); }, 0.0},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    tg::tape().clear();
    const Variable x(Tensor::from_values({3}, {c.singular, 2.0, c.singular}, DType::f64), true);
    const Variable m(Tensor::from_values({3}, {0, 1, 0}, DType::f64));
    const Variable y = tg::sum(tg::where(m, c.f(x), Variable(Tensor::scalar(0, DType::f64))));
    tg::backward(y);
    const auto gx = x.grad().value().to_vector();
    CHECK(gx[0] == 0);
    CHECK(gx[2] == 0);
    CHECK(std::isfinite(gx[1]));
  }
}

TEST_CASE("clamp: gradcheck away from the limits, 0 outside them, 1 inside", "[ops][clamp]") {
  Rand r(8);
  const double lo = -0.5, hi = 0.8;
  for (const auto& s : kUnaryShapes) {
    const Tensor x = away_from(r.uniform(s, -1.5, 1.5), {lo, hi});
    CHECK(same_values(tg::clamp(Variable(x, true), lo, hi).value(), tg::clamp(x, lo, hi)));
    check_grads([=](const Vars& v) { return tg::clamp(v[0], lo, hi); }, {Variable(x, true)});
  }
  tg::tape().clear();
  const Variable x(Tensor::from_values({3}, {-1.0, 0.0, 1.0}, DType::f64), true);
  tg::backward(tg::sum(tg::clamp(x, lo, hi)));
  CHECK(x.grad().value().to_vector() == std::vector<double>{0.0, 1.0, 0.0});
}

// --- operators -----------------------------------------------------------------------------------

TEST_CASE("Variable operators, with variables and with doubles", "[ops][operators]") {
  Rand r(9);
  const Tensor a = r.uniform({7}, 0.5, 2), b = r.uniform({3, 1}, 0.5, 2);
  struct Case {
    const char* name;
    Variable (*op)(const Vars&);
    Tensor (*forward)(const Tensor&, const Tensor&);
  };
  const std::vector<Case> cases = {
      {"a + b", [](const Vars& v) { return v[0] + v[1]; },
       [](const Tensor& x, const Tensor& y) { return x + y; }},
      {"a - b", [](const Vars& v) { return v[0] - v[1]; },
       [](const Tensor& x, const Tensor& y) { return x - y; }},
      {"a * b", [](const Vars& v) { return v[0] * v[1]; },
       [](const Tensor& x, const Tensor& y) { return x * y; }},
      {"a / b", [](const Vars& v) { return v[0] / v[1]; },
       [](const Tensor& x, const Tensor& y) { return x / y; }},
      {"-a", [](const Vars& v) { return -v[0]; },
       [](const Tensor& x, const Tensor&) { return -x; }},
      {"a + 2.5", [](const Vars& v) { return v[0] + 2.5; },
       [](const Tensor& x, const Tensor&) { return x + 2.5; }},
      {"a - 2.5", [](const Vars& v) { return v[0] - 2.5; },
       [](const Tensor& x, const Tensor&) { return x - 2.5; }},
      {"a * 2.5", [](const Vars& v) { return v[0] * 2.5; },
       [](const Tensor& x, const Tensor&) { return x * 2.5; }},
      {"a / 2.5", [](const Vars& v) { return v[0] / 2.5; },
       [](const Tensor& x, const Tensor&) { return x / 2.5; }},
      {"2.5 + a", [](const Vars& v) { return 2.5 + v[0]; },
       [](const Tensor& x, const Tensor&) { return 2.5 + x; }},
      {"2.5 - a", [](const Vars& v) { return 2.5 - v[0]; },
       [](const Tensor& x, const Tensor&) { return 2.5 - x; }},
      {"2.5 * a", [](const Vars& v) { return 2.5 * v[0]; },
       [](const Tensor& x, const Tensor&) { return 2.5 * x; }},
      {"2.5 / a", [](const Vars& v) { return 2.5 / v[0]; },
       [](const Tensor& x, const Tensor&) { return 2.5 / x; }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    // a / 2.5 is computed as a * 0.4, so allow an ulp or two.
    CHECK(
        same_values(c.op({Variable(a, true), Variable(b, true)}).value(), c.forward(a, b), 1e-15));
    check_grads(c.op, {Variable(a, true), Variable(b, true)});
  }
  // A double takes the variable's dtype.
  const Variable f(Tensor::ones({3}, DType::f32), true);
  for (const Variable& y : {f + 1.0, f - 1.0, f * 2.0, f / 2.0, 1.0 + f, 1.0 - f, 2.0 * f, 2.0 / f})
    CHECK(y.dtype() == DType::f32);
  tg::tape().clear();
}

// --- reductions ----------------------------------------------------------------------------------

struct ReduceCase {
  tg::Axes axes;
  bool keepdim;
};
const std::vector<ReduceCase> kReduce = {{{}, false},   {{}, true},      {{0}, false},  {{1}, true},
                                         {{-1}, false}, {{0, 2}, false}, {{0, 2}, true}};

TEST_CASE("sum and mean", "[ops][reduce]") {
  Rand r(10);
  const Tensor x = r.uniform({2, 3, 4}, -2, 2);
  for (const auto& [axes, keepdim] : kReduce) {
    INFO("axes of size " << axes.size() << ", keepdim " << keepdim);
    CHECK(
        same_values(tg::sum(Variable(x, true), axes, keepdim).value(), tg::sum(x, axes, keepdim)));
    CHECK(same_values(tg::mean(Variable(x, true), axes, keepdim).value(),
                      tg::mean(x, axes, keepdim), 1e-14));
    check_grads([=](const Vars& v) { return tg::sum(v[0], axes, keepdim); }, {Variable(x, true)});
    check_grads([=](const Vars& v) { return tg::mean(v[0], axes, keepdim); }, {Variable(x, true)});
  }
  for (const Shape& s : {Shape{}, Shape{7}, Shape{33}}) {
    const Variable v(r.uniform(s, -2, 2), true);
    check_grads([](const Vars& u) { return tg::sum(u[0]); }, {v});
    check_grads([](const Vars& u) { return tg::mean(u[0]); }, {v});
  }
}

TEST_CASE("max: gradcheck without ties, ties share the gradient", "[ops][reduce]") {
  Rand r(11);
  const Tensor x = r.uniform({2, 3, 4}, -2, 2);  // continuous values: no ties
  for (const auto& [axes, keepdim] : kReduce) {
    CHECK(
        same_values(tg::max(Variable(x, true), axes, keepdim).value(), tg::max(x, axes, keepdim)));
    check_grads([=](const Vars& v) { return tg::max(v[0], axes, keepdim); }, {Variable(x, true)});
  }
  check_grads([](const Vars& v) { return tg::max(v[0]); },
              {Variable(r.uniform({17}, -2, 2), true)});

  tg::tape().clear();
  const Variable t(Tensor::from_values({2, 3}, {1, 3, 3, 5, 2, 5}, DType::f64), true);
  tg::backward(tg::sum(tg::max(t, {1})));
  CHECK(t.grad().value().to_vector() == std::vector<double>{0, 0.5, 0.5, 0.5, 0, 0.5});
}

TEST_CASE("logsumexp, softmax, log_softmax", "[ops][reduce]") {
  Rand r(12);
  const Tensor x = r.uniform({2, 3, 4}, -3, 3);
  for (const auto& [axes, keepdim] : kReduce) {
    CHECK(same_values(tg::logsumexp(Variable(x, true), axes, keepdim).value(),
                      tg::logsumexp(x, axes, keepdim)));
    check_grads([=](const Vars& v) { return tg::logsumexp(v[0], axes, keepdim); },
                {Variable(x, true)});
  }
  struct Case {
    Shape shape;
    std::int64_t axis;
  };
  for (const auto& [shape, axis] :
       {Case{{3, 5}, -1}, Case{{3, 5}, 0}, Case{{7}, 0}, Case{{2, 3, 4}, 1}}) {
    INFO(tg::shape_str(shape) << " axis " << axis);
    const Tensor t = r.uniform(shape, -3, 3);
    const Tensor lse = tg::logsumexp(t, {axis}, true);
    CHECK(same_values(tg::softmax(Variable(t, true), axis).value(), tg::exp(t - lse), 1e-14));
    CHECK(same_values(tg::log_softmax(Variable(t, true), axis).value(), t - lse, 1e-14));
    check_grads([=](const Vars& v) { return tg::softmax(v[0], axis); }, {Variable(t, true)});
    check_grads([=](const Vars& v) { return tg::log_softmax(v[0], axis); }, {Variable(t, true)});
  }
  // Large logits do not overflow.
  const Variable big(Tensor::from_values({3}, {1000, 999, -1000}, DType::f64), true);
  CHECK(std::isfinite(tg::logsumexp(big).item()));
  for (double p : tg::softmax(big).value().to_vector()) CHECK(std::isfinite(p));
  tg::tape().clear();
}

// --- shape ops -----------------------------------------------------------------------------------

TEST_CASE("reshape, squeeze, unsqueeze", "[ops][shape]") {
  Rand r(13);
  const Tensor x = r.uniform({2, 3, 4}, -2, 2);
  for (const Shape& s : {Shape{6, 4}, Shape{-1}, Shape{4, 1, 6}}) {
    CHECK(same_values(tg::reshape(Variable(x, true), s).value(), tg::reshape(x, s)));
    check_grads([s](const Vars& v) { return tg::reshape(v[0], s) * 1.5; }, {Variable(x, true)});
  }
  const Tensor y = r.uniform({3, 1, 7}, -2, 2);
  CHECK(same_values(tg::squeeze(Variable(y, true), 1).value(), tg::squeeze(y, 1)));
  check_grads([](const Vars& v) { return tg::squeeze(v[0], 1); }, {Variable(y, true)});
  for (std::int64_t axis : {0, -1, 2}) {
    CHECK(same_values(tg::unsqueeze(Variable(y, true), axis).value(), tg::unsqueeze(y, axis)));
    check_grads([axis](const Vars& v) { return tg::unsqueeze(v[0], axis); }, {Variable(y, true)});
  }
}

TEST_CASE("transpose and permute", "[ops][shape]") {
  Rand r(14);
  const Tensor m = r.uniform({3, 5}, -2, 2), t = r.uniform({2, 3, 4}, -2, 2);
  CHECK(same_values(tg::transpose(Variable(m, true)).value(), tg::transpose(m)));
  check_grads([](const Vars& v) { return tg::transpose(v[0]); }, {Variable(m, true)});
  CHECK(same_values(tg::transpose(Variable(t, true), 0, 2).value(), tg::transpose(t, 0, 2)));
  check_grads([](const Vars& v) { return tg::transpose(v[0], 0, 2); }, {Variable(t, true)});
  for (const tg::Axes& p : {tg::Axes{2, 0, 1}, tg::Axes{1, 2, 0}, tg::Axes{0, -1, 1}}) {
    CHECK(same_values(tg::permute(Variable(t, true), p).value(), tg::permute(t, p)));
    check_grads([p](const Vars& v) { return tg::permute(v[0], p); }, {Variable(t, true)});
  }
}

TEST_CASE("slice and concat", "[ops][shape]") {
  Rand r(15);
  const Tensor x = r.uniform({7, 5}, -2, 2);
  struct Case {
    std::int64_t axis, start, stop;
  };
  for (const auto& [axis, start, stop] :
       {Case{0, 2, 5}, Case{1, -3, -1}, Case{0, 0, 7}, Case{1, 0, 2}, Case{-1, 3, 5}}) {
    INFO("axis " << axis << " [" << start << ", " << stop << ")");
    CHECK(same_values(tg::slice(Variable(x, true), axis, start, stop).value(),
                      tg::slice(x, axis, start, stop)));
    check_grads([=](const Vars& v) { return tg::slice(v[0], axis, start, stop); },
                {Variable(x, true)});
  }
  const Tensor a = r.uniform({2, 3}, -2, 2), b = r.uniform({1, 3}, -2, 2),
               c = r.uniform({4, 3}, -2, 2);
  CHECK(
      same_values(tg::concat({Variable(a, true), Variable(b, true), Variable(c, true)}, 0).value(),
                  tg::concat(std::vector<Tensor>{a, b, c}, 0)));
  check_grads([](const Vars& v) { return tg::concat(v, 0); },
              {Variable(a, true), Variable(b), Variable(c, true)});
  const Tensor d = r.uniform({2, 7}, -2, 2);
  check_grads([](const Vars& v) { return tg::concat(v, -1); },
              {Variable(a, true), Variable(d, true)});
}

TEST_CASE("index_select, with repeated indices", "[ops][shape]") {
  Rand r(16);
  const Tensor x = r.uniform({5, 3}, -2, 2);
  for (const auto& [axis, index] :
       {std::pair<std::int64_t, std::vector<std::int64_t>>{0, {4, 0, 4, 2}},
        {1, {2, 2}},
        {-1, {0, 1, 2}}}) {
    CHECK(same_values(tg::index_select(Variable(x, true), axis, index).value(),
                      tg::index_select(x, axis, index)));
    check_grads([axis, index](const Vars& v) { return tg::index_select(v[0], axis, index); },
                {Variable(x, true)});
  }
  tg::tape().clear();
  const Variable v(x, true);
  tg::backward(tg::sum(tg::index_select(v, 0, {4, 0, 4, 2})));
  CHECK(v.grad().value().to_vector() ==
        std::vector<double>{1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2});  // row 4 picked twice
}

TEST_CASE("broadcast_to and sum_to", "[ops][shape]") {
  Rand r(17);
  struct Case {
    Shape small, big;
  };
  for (const auto& [small, big] :
       {Case{{3, 1}, {2, 3, 4}}, Case{{}, {7}}, Case{{5}, {2, 3, 5}}, Case{{1, 4}, {3, 4}}}) {
    INFO(tg::shape_str(small) << " <-> " << tg::shape_str(big));
    const Tensor s = r.uniform(small, -2, 2), b = r.uniform(big, -2, 2);
    CHECK(same_values(tg::broadcast_to(Variable(s, true), big).value(), tg::broadcast_to(s, big)));
    CHECK(same_values(tg::sum_to(Variable(b, true), small).value(), tg::sum_to(b, small)));
    check_grads([big](const Vars& v) { return tg::broadcast_to(v[0], big); }, {Variable(s, true)});
    check_grads([small](const Vars& v) { return tg::sum_to(v[0], small); }, {Variable(b, true)});
  }
}

// --- linear algebra ------------------------------------------------------------------------------

TEST_CASE("matmul", "[ops][linalg]") {
  Rand r(18);
  struct Case {
    std::int64_t m, k, n;
  };
  for (const auto& [m, k, n] : {Case{3, 4, 5}, Case{1, 7, 1}, Case{5, 17, 2}, Case{2, 3, 1}}) {
    INFO(m << "x" << k << " @ " << k << "x" << n);
    const Tensor a = r.uniform({m, k}, -2, 2), b = r.uniform({k, n}, -2, 2);
    CHECK(same_values(tg::matmul(Variable(a, true), Variable(b, true)).value(), tg::matmul(a, b)));
    check_grads([](const Vars& v) { return tg::matmul(v[0], v[1]); },
                {Variable(a, true), Variable(b, true)});
  }
  // The transposed primitive behind the backward, reached through transposed inputs.
  const Tensor a = r.uniform({4, 3}, -2, 2), b = r.uniform({5, 4}, -2, 2);
  check_grads([](const Vars& v) { return tg::matmul(tg::transpose(v[0]), tg::transpose(v[1])); },
              {Variable(a, true), Variable(b, true)});
}

TEST_CASE("linear, with and without a bias", "[ops][linalg]") {
  Rand r(19);
  struct Case {
    std::int64_t batch, in, out;
  };
  for (const auto& [batch, in, out] : {Case{4, 7, 3}, Case{1, 17, 5}, Case{3, 2, 1}}) {
    INFO("batch " << batch << ", in " << in << ", out " << out);
    const Tensor x = r.uniform({batch, in}, -2, 2), w = r.uniform({out, in}, -1, 1),
                 b = r.uniform({out}, -1, 1);
    CHECK(same_values(tg::linear(Variable(x, true), Variable(w, true), Variable(b, true)).value(),
                      tg::linear(x, w, b)));
    CHECK(same_values(tg::linear(Variable(x, true), Variable(w, true)).value(),
                      tg::linear(x, w, Tensor())));
    CHECK(tg::allclose(tg::linear(Variable(x), Variable(w), Variable(b)).value(),
                       tg::matmul(x, w, false, true) + b, 1e-12, 1e-12));
    check_grads([](const Vars& v) { return tg::linear(v[0], v[1], v[2]); },
                {Variable(x, true), Variable(w, true), Variable(b, true)});
    check_grads([](const Vars& v) { return tg::linear(v[0], v[1]); },
                {Variable(x, true), Variable(w, true)});
    check_grads([](const Vars& v) { return tg::linear(v[0], v[1], v[2]); },
                {Variable(x), Variable(w, true), Variable(b, true)});
  }
}

// --- losses --------------------------------------------------------------------------------------

// -[y log s(z) + (1 - y) log(1 - s(z))], the textbook formula (fine at moderate logits).
double naive_bce(double z, double y) {
  const double s = 1 / (1 + std::exp(-z));
  return -(y * std::log(s) + (1 - y) * std::log(1 - s));
}

TEST_CASE("binary_cross_entropy_with_logits", "[ops][loss]") {
  Rand r(20);
  using tg::Reduction;
  for (const Shape& s : {Shape{7}, Shape{2, 3}, Shape{17}}) {
    const Tensor z = r.uniform(s, -4, 4), y = r.uniform(s, 0, 1);
    // Forward against the naive formula, for every reduction.
    const auto zs = z.to_vector(), ys = y.to_vector();
    std::vector<double> naive(zs.size());
    double total = 0;
    for (std::size_t i = 0; i < zs.size(); ++i) total += naive[i] = naive_bce(zs[i], ys[i]);
    const auto none =
        tg::binary_cross_entropy_with_logits(Variable(z), Variable(y), Reduction::none);
    REQUIRE(none.shape() == s);
    const auto got = none.value().to_vector();
    for (std::size_t i = 0; i < zs.size(); ++i) CHECK(got[i] == Approx(naive[i]).epsilon(1e-12));
    CHECK(tg::binary_cross_entropy_with_logits(Variable(z), Variable(y), Reduction::sum).item() ==
          Approx(total).epsilon(1e-12));
    CHECK(tg::binary_cross_entropy_with_logits(Variable(z), Variable(y)).item() ==
          Approx(total / static_cast<double>(zs.size())).epsilon(1e-12));
    // Gradients for the logits and the target, every reduction.
    for (Reduction red : {Reduction::none, Reduction::mean, Reduction::sum}) {
      check_grads(
          [red](const Vars& v) { return tg::binary_cross_entropy_with_logits(v[0], v[1], red); },
          {Variable(z, true), Variable(y, true)});
    }
  }
}

TEST_CASE("binary_cross_entropy_with_logits is stable at logits of +-1000", "[ops][loss]") {
  tg::tape().clear();
  Variable z(Tensor::from_values({4}, {1000, -1000, 1000, -1000}, DType::f64), true);
  const Variable y(Tensor::from_values({4}, {1, 0, 0, 1}, DType::f64));
  for (tg::Reduction red : {tg::Reduction::none, tg::Reduction::mean, tg::Reduction::sum}) {
    const Variable l = tg::binary_cross_entropy_with_logits(z, y, red);
    for (double v : l.value().to_vector()) CHECK(std::isfinite(v));
    tg::backward(tg::sum(l));
    for (double v : z.grad().value().to_vector()) CHECK(std::isfinite(v));
    z.zero_grad();
  }
  const Variable l = tg::binary_cross_entropy_with_logits(z, y, tg::Reduction::none);
  const auto v = l.value().to_vector();
  CHECK(v[0] == Approx(0).margin(1e-12));  // confident and right
  CHECK(v[1] == Approx(0).margin(1e-12));
  CHECK(v[2] == Approx(1000).epsilon(1e-12));  // confident and wrong: |z|
  CHECK(v[3] == Approx(1000).epsilon(1e-12));
  tg::backward(tg::sum(l));
  CHECK(z.grad().value().to_vector() == std::vector<double>{0, 0, 1, -1});  // sigmoid(z) - y
  // Also in f32, where exp(1000) would overflow at once.
  const Variable zf(Tensor::from_values({2}, {1000, -1000}, DType::f32), true);
  const Variable yf(Tensor::from_values({2}, {0, 1}, DType::f32));
  const Variable lf = tg::binary_cross_entropy_with_logits(zf, yf, tg::Reduction::sum);
  CHECK(lf.item() == Approx(2000));
  tg::backward(lf);
  for (double g : zf.grad().value().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("mse_loss", "[ops][loss]") {
  Rand r(21);
  using tg::Reduction;
  for (const Shape& s : {Shape{7}, Shape{2, 3}}) {
    const Tensor x = r.uniform(s, -2, 2), y = r.uniform(s, -2, 2);
    const Tensor sq = tg::square(x - y);
    CHECK(same_values(tg::mse_loss(Variable(x), Variable(y), Reduction::none).value(), sq));
    CHECK(tg::mse_loss(Variable(x), Variable(y), Reduction::sum).item() ==
          Approx(tg::sum(sq).item()));
    CHECK(tg::mse_loss(Variable(x), Variable(y)).item() == Approx(tg::mean(sq).item()));
    for (Reduction red : {Reduction::none, Reduction::mean, Reduction::sum})
      check_grads([red](const Vars& v) { return tg::mse_loss(v[0], v[1], red); },
                  {Variable(x, true), Variable(y, true)});
  }
}

TEST_CASE("l1_loss and huber_loss", "[ops][loss]") {
  Rand r(41);
  for (const Shape& s : {Shape{7}, Shape{17}, Shape{3, 11}}) {
    const Tensor y = r.uniform(s, -2, 2);
    // Away from the kinks: d = 0 (both) and |d| = delta (huber).
    Tensor x = r.uniform(s, -2, 2);
    x = away_from(x, y.to_vector(), 0.05);
    {
      const Tensor d = x - y;
      Tensor xs = x.clone();
      for (std::int64_t i = 0; i < xs.numel(); ++i) {
        const double di = d.data<double>()[i];
        if (std::abs(std::abs(di) - 0.7) < 0.05) xs.data<double>()[i] += 0.12;
      }
      x = xs;
    }
    const Variable yv(y);
    for (auto red : {tg::Reduction::mean, tg::Reduction::sum, tg::Reduction::none}) {
      check_grads([&](const Vars& v) { return tg::l1_loss(v[0], yv, red); }, {Variable(x, true)});
      check_grads([&](const Vars& v) { return tg::huber_loss(v[0], yv, red, 0.7); },
                  {Variable(x, true)});
    }
    // Values against the definitions.
    const auto xv = x.to_vector(), tv = y.to_vector();
    const auto h = tg::huber_loss(Variable(x), yv, tg::Reduction::none, 0.7).value().to_vector();
    const auto l = tg::l1_loss(Variable(x), yv, tg::Reduction::none).value().to_vector();
    for (std::size_t i = 0; i < xv.size(); ++i) {
      const double d = xv[i] - tv[i];
      CHECK(l[i] == Approx(std::abs(d)));
      CHECK(h[i] == Approx(std::abs(d) < 0.7 ? 0.5 * d * d : 0.7 * (std::abs(d) - 0.35)));
    }
  }
  CHECK_THROWS_AS(tg::huber_loss(Variable(Tensor::ones({2}, DType::f64)),
                                 Variable(Tensor::ones({2}, DType::f64)), tg::Reduction::mean, 0.0),
                  tg::ValueError);
}

TEST_CASE("masked_fill and stack", "[ops][shape]") {
  Rand r(42);
  const Tensor m = tg::gt(r.uniform({3, 5}, 0, 1), Tensor::scalar(0.5, DType::f64));
  const Tensor x = r.uniform({3, 5}, -2, 2);
  const auto filled = tg::masked_fill(Variable(x), Variable(m), -7.0).value().to_vector();
  const auto mv = m.to_vector(), xv = x.to_vector();
  for (std::size_t i = 0; i < xv.size(); ++i) CHECK(filled[i] == (mv[i] != 0 ? -7.0 : xv[i]));
  check_grads([&](const Vars& v) { return tg::masked_fill(v[0], Variable(m), -7.0); },
              {Variable(x, true)});
  // The mask broadcasts, like where's.
  const Tensor row = tg::gt(r.uniform({5}, 0, 1), Tensor::scalar(0.5, DType::f64));
  check_grads([&](const Vars& v) { return tg::masked_fill(v[0], Variable(row), 1.0); },
              {Variable(x, true)});

  const Tensor a = r.uniform({2, 7}, -1, 1), b = r.uniform({2, 7}, -1, 1),
               c = r.uniform({2, 7}, -1, 1);
  for (std::int64_t axis : {0, 1, 2, -1}) {
    INFO("axis " << axis);
    const Variable s = tg::stack({Variable(a), Variable(b), Variable(c)}, axis);
    const std::int64_t ax = axis < 0 ? axis + 3 : axis;
    Shape want = {2, 7};
    want.insert(want.begin() + ax, 3);
    CHECK(s.shape() == want);
    CHECK(same_values(tg::slice(s, ax, 1, 2).value().reshape({2, 7}), b));
    check_grads([axis](const Vars& v) { return tg::stack(v, axis); },
                {Variable(a, true), Variable(b, true), Variable(c, true)});
  }
  CHECK_THROWS_AS(tg::stack({Variable(a), Variable(Tensor::ones({7, 2}, DType::f64))}),
                  tg::ShapeError);
}

TEST_CASE("loss shape mismatches raise ShapeError", "[ops][loss]") {
  const Variable a(Tensor::zeros({3}, DType::f64)), b(Tensor::zeros({4}, DType::f64));
  CHECK_THROWS_AS(tg::binary_cross_entropy_with_logits(a, b), tg::ShapeError);
  CHECK_THROWS_AS(tg::mse_loss(a, b), tg::ShapeError);
}

// --- f32 end to end ------------------------------------------------------------------------------

TEST_CASE("f32 gradients agree with f64 and keep their dtype", "[ops][f32]") {
  tg::tape().clear();
  Rand r(22);
  const Tensor x = r.uniform({4, 7}, -1, 1), w = r.uniform({3, 7}, -1, 1),
               b = r.uniform({3}, -1, 1);
  std::vector<std::vector<double>> grads[2];
  for (int k = 0; k < 2; ++k) {
    const DType dt = k == 0 ? DType::f32 : DType::f64;
    const Variable X(x.to(dt)), W(w.to(dt), true), B(b.to(dt), true);
    tg::backward(tg::sum(tg::softplus(tg::linear(X, W, B))));
    CHECK(W.grad().dtype() == dt);
    CHECK(B.grad().dtype() == dt);
    grads[k] = {W.grad().value().to_vector(), B.grad().value().to_vector()};
  }
  for (int p = 0; p < 2; ++p)
    for (std::size_t i = 0; i < grads[0][p].size(); ++i)
      CHECK(grads[0][p][i] == Approx(grads[1][p][i]).epsilon(1e-5).margin(1e-6));
}

}  // namespace
