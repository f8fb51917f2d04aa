// Tests for the tensor operations (tensor/ops.hpp): every element-wise op against a scalar std::
// reference computed here, with NumPy broadcasting over shapes that exercise the planner's axis
// merging; reductions over every set of axes; bitwise-reproducible sums for any thread count; shape
// ops against index arithmetic; matmul and linear against plain loops; the errors and their
// messages.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <numeric>
#include <string>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/kernels_ref.hpp"
#include "tapegrad/tensor/ops.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace {

using tg::Axes;
using tg::DType;
using tg::Shape;
using tg::Tensor;
using L = long double;
using tgtest::bitwise_equal;
using tgtest::dtype_name;
using tgtest::inf;
using tgtest::Rng;
using tgtest::ulp_distance;
using tgtest::values_of;

const std::vector<std::int64_t> sizes = {0, 1, 7, 15, 16, 17, 33, 1000};

// Values in [lo, hi]; with min_abs > 0, values closer to 0 than that are pushed away from it
// (kinks).
Tensor random_tensor(const Shape& shape, DType dt, double lo, double hi, std::uint64_t seed,
                     double min_abs = 0) {
  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 12345};
  std::vector<double> v(static_cast<std::size_t>(tg::numel(shape)));
  for (auto& x : v) {
    x = rng.uniform(lo, hi);
    if (std::abs(x) < min_abs) x = x < 0 ? -min_abs - 0.5 : min_abs + 0.5;
  }
  return Tensor::from_values(shape, v, dt);
}

// Checks got against want element by element within `ulps`; reports the first mismatch.
template <class T>
void check_ulps(const Tensor& got, const std::vector<T>& want, std::uint64_t ulps) {
  REQUIRE(got.dtype() == tg::dtype_of<T>());
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  const T* g = got.data<T>();
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::uint64_t d = ulp_distance(g[i], want[i]);
    if (d > ulps && bad++ == 0) {
      UNSCOPED_INFO("element " << i << ": got " << g[i] << ", want " << want[i] << " (" << d
                               << " ulp, allowed " << ulps << ")");
    }
  }
  CHECK(bad == 0);
}

// Checks |got - want| <= atol + rtol * scale[i] (scale defaults to |want|).
template <class T>
void check_close(const Tensor& got, const std::vector<L>& want, double rtol, double atol,
                 const std::vector<L>& scale = {}) {
  REQUIRE(got.dtype() == tg::dtype_of<T>());
  REQUIRE(got.numel() == static_cast<std::int64_t>(want.size()));
  const T* g = got.data<T>();
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const L s = scale.empty() ? std::abs(want[i]) : scale[i];
    const bool ok = (std::isinf(want[i]) && L(g[i]) == want[i]) ||
                    std::abs(L(g[i]) - want[i]) <= L(atol) + L(rtol) * s;
    if (!ok && bad++ == 0)
      UNSCOPED_INFO("element " << i << ": got " << g[i] << ", want " << double(want[i]));
  }
  CHECK(bad == 0);
}

// --- an independent broadcasting reference -----------------------------------------------------

// NumPy's rule, written out again: align on the right, sizes equal or 1.
Shape ref_broadcast(const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    const std::int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    REQUIRE((da == db || da == 1 || db == 1));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Flat index into a tensor of shape `s` for the element at multi-index `idx` of the (larger)
// output.
std::int64_t source_index(const Shape& s, const std::vector<std::int64_t>& idx) {
  const std::size_t lead = idx.size() - s.size();
  std::int64_t flat = 0;
  for (std::size_t i = 0; i < s.size(); ++i) flat = flat * s[i] + (s[i] == 1 ? 0 : idx[lead + i]);
  return flat;
}

// Calls fn(multi_index, flat) for every element of shape `s` in row-major order.
void for_each_index(const Shape& s,
                    const std::function<void(const std::vector<std::int64_t>&, std::int64_t)>& fn) {
  const std::int64_t n = tg::numel(s);
  std::vector<std::int64_t> idx(s.size(), 0);
  for (std::int64_t flat = 0; flat < n; ++flat) {
    fn(idx, flat);
    for (std::size_t ax = s.size(); ax-- > 0;) {
      if (++idx[ax] < s[ax]) break;
      idx[ax] = 0;
    }
  }
}

// --- the element-wise ops, their references and tolerances -------------------------------------

// clang-format off
enum class U {
  neg, abs, square, sqrt, reciprocal, exp, expm1, log, log1p, tanh, sigmoid, relu, softplus,
  log_sigmoid, erf, lgamma, digamma, erfinv, sign, step
};
// clang-format on

// digamma for x > 0: the recurrence up to x >= 20, then the asymptotic series, in long double.
L digamma_ref(L x) {
  L r = 0;
  for (; x < 20; x += 1) r -= 1 / x;
  const L z = 1 / (x * x);
  return r + std::log(x) - L(0.5) / x -
         z * (L(1) / 12 - z * (L(1) / 120 - z * (L(1) / 252 - z * (L(1) / 240 - z / 132))));
}

// erfinv in long double: Newton on erf(x) = y (erfc near +-1) from the double-precision guess.
L erfinv_ref(L y) {
  L x = tg::kernels::ref::erfinv(static_cast<double>(y));
  for (int i = 0; i < 3; ++i) {
    const L r = y > 0.5L ? (1 - y) - std::erfc(x) : std::erf(x) - y;
    x -= r / (2 / std::sqrt(std::numbers::pi_v<L>) * std::exp(-x * x));
  }
  return x;
}

// Exact ops are computed in T (IEEE makes them exact); the others in long double, rounded once.
template <class T>
T ref_unary(U op, T x) {
  const L v = x;
  switch (op) {
    case U::neg:
      return -x;
    case U::abs:
      return std::abs(x);
    case U::square:
      return x * x;
    case U::sqrt:
      return std::sqrt(x);
    case U::reciprocal:
      return T(1) / x;
    case U::exp:
      return T(std::exp(v));
    case U::expm1:
      return T(std::expm1(v));
    case U::log:
      return T(std::log(v));
    case U::log1p:
      return T(std::log1p(v));
    case U::tanh:
      return T(std::tanh(v));
    case U::sigmoid:
      return T(1 / (1 + std::exp(-v)));
    case U::relu:
      return x > 0 ? x : T(0);
    case U::softplus:
      return T(std::log1p(std::exp(v)));
    case U::log_sigmoid:
      return T(-std::log1p(std::exp(-v)));
    case U::erf:
      return T(std::erf(v));
    case U::lgamma:
      return T(std::lgamma(v));
    case U::digamma:
      return T(digamma_ref(v));
    case U::erfinv:
      return T(erfinv_ref(v));
    case U::sign:
      return T(x > 0) - T(x < 0);
    case U::step:
      return x > 0 ? T(1) : T(0);
  }
  return x;
}

struct UnaryCase {
  const char* name;
  U op;
  Tensor (*fn)(const Tensor&);
  double lo, hi;
  double min_abs;          // keep inputs this far from 0 (kinks)
  std::uint64_t ulps;      // against the correctly rounded value; 0: exact
  std::uint64_t ulps_f64;  // the same for f64, where it differs
};

// Ulp budgets: what tests/tensor/test_kernels.cpp allows against libm, plus one for libm's own
// rounding (measured worst cases over these ranges are 1-2 ulp). digamma f32 is computed in double
// and rounded once; digamma f64 loses up to 15 ulp near x = 2 to the cancellation in its recurrence
// (3e-15 relative). Ranges stay away from kinks and from the zeros of lgamma (1, 2) and digamma
// (1.46), where only an absolute error bound makes sense.
const std::vector<UnaryCase> unary_cases = {
    {"neg", U::neg, [](const Tensor& x) { return tg::neg(x); }, -10, 10, 0, 0, 0},
    {"abs", U::abs, [](const Tensor& x) { return tg::abs(x); }, -10, 10, 0.01, 0, 0},
    {"square", U::square, [](const Tensor& x) { return tg::square(x); }, -10, 10, 0, 0, 0},
    {"sqrt", U::sqrt, [](const Tensor& x) { return tg::sqrt(x); }, 0, 100, 0, 0, 0},
    {"reciprocal", U::reciprocal, [](const Tensor& x) { return tg::reciprocal(x); }, -10, 10, 0.01,
     0, 0},
    {"exp", U::exp, [](const Tensor& x) { return tg::exp(x); }, -20, 20, 0, 3, 3},
    {"expm1", U::expm1, [](const Tensor& x) { return tg::expm1(x); }, -3, 3, 0, 4, 4},
    {"log", U::log, [](const Tensor& x) { return tg::log(x); }, 0.01, 100, 0, 3, 3},
    {"log1p", U::log1p, [](const Tensor& x) { return tg::log1p(x); }, -0.9, 10, 0, 3, 3},
    {"tanh", U::tanh, [](const Tensor& x) { return tg::tanh(x); }, -5, 5, 0, 3, 3},
    {"sigmoid", U::sigmoid, [](const Tensor& x) { return tg::sigmoid(x); }, -20, 20, 0, 4, 4},
    {"relu", U::relu, [](const Tensor& x) { return tg::relu(x); }, -10, 10, 0.01, 0, 0},
    {"softplus", U::softplus, [](const Tensor& x) { return tg::softplus(x); }, -20, 20, 0, 4, 4},
    {"log_sigmoid", U::log_sigmoid, [](const Tensor& x) { return tg::log_sigmoid(x); }, -20, 20, 0,
     4, 4},
    {"erf", U::erf, [](const Tensor& x) { return tg::erf(x); }, -3, 3, 0, 4, 4},
    {"lgamma", U::lgamma, [](const Tensor& x) { return tg::lgamma(x); }, 2.5, 12, 0, 3, 3},
    {"lgamma (0, 1)", U::lgamma, [](const Tensor& x) { return tg::lgamma(x); }, 0.05, 0.9, 0, 3, 3},
    {"digamma", U::digamma, [](const Tensor& x) { return tg::digamma(x); }, 2, 12, 0, 1, 16},
    {"erfinv", U::erfinv, [](const Tensor& x) { return tg::erfinv(x); }, -0.999, 0.999, 0, 1, 2},
    {"erfinv (tails)", U::erfinv, [](const Tensor& x) { return tg::erfinv(x); }, 0.999, 1, 0, 1, 2},
    {"sign", U::sign, [](const Tensor& x) { return tg::sign(x); }, -10, 10, 0.01, 0, 0},
    {"step", U::step, [](const Tensor& x) { return tg::step(x); }, -10, 10, 0.01, 0, 0},
};

enum class B { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge };

template <class T>
T ref_binary(B op, T a, T b) {
  switch (op) {
    case B::add:
      return a + b;
    case B::sub:
      return a - b;
    case B::mul:
      return a * b;
    case B::div:
      return a / b;
    case B::pow:
      return T(std::pow(L(a), L(b)));
    case B::maximum:
      return std::max(a, b);
    case B::minimum:
      return std::min(a, b);
    case B::eq:
      return a == b ? T(1) : T(0);
    case B::ne:
      return a != b ? T(1) : T(0);
    case B::lt:
      return a < b ? T(1) : T(0);
    case B::le:
      return a <= b ? T(1) : T(0);
    case B::gt:
      return a > b ? T(1) : T(0);
    case B::ge:
      return a >= b ? T(1) : T(0);
  }
  return a;
}

struct BinaryCase {
  const char* name;
  B op;
  Tensor (*fn)(const Tensor&, const Tensor&);
  std::uint64_t ulps;
};

const std::vector<BinaryCase> binary_cases = {
    {"add", B::add, [](const Tensor& a, const Tensor& b) { return tg::add(a, b); }, 0},
    {"sub", B::sub, [](const Tensor& a, const Tensor& b) { return tg::sub(a, b); }, 0},
    {"mul", B::mul, [](const Tensor& a, const Tensor& b) { return tg::mul(a, b); }, 0},
    {"div", B::div, [](const Tensor& a, const Tensor& b) { return tg::div(a, b); }, 0},
    {"pow", B::pow, [](const Tensor& a, const Tensor& b) { return tg::pow(a, b); }, 1},
    {"maximum", B::maximum, [](const Tensor& a, const Tensor& b) { return tg::maximum(a, b); }, 0},
    {"minimum", B::minimum, [](const Tensor& a, const Tensor& b) { return tg::minimum(a, b); }, 0},
    {"eq", B::eq, [](const Tensor& a, const Tensor& b) { return tg::eq(a, b); }, 0},
    {"ne", B::ne, [](const Tensor& a, const Tensor& b) { return tg::ne(a, b); }, 0},
    {"lt", B::lt, [](const Tensor& a, const Tensor& b) { return tg::lt(a, b); }, 0},
    {"le", B::le, [](const Tensor& a, const Tensor& b) { return tg::le(a, b); }, 0},
    {"gt", B::gt, [](const Tensor& a, const Tensor& b) { return tg::gt(a, b); }, 0},
    {"ge", B::ge, [](const Tensor& a, const Tensor& b) { return tg::ge(a, b); }, 0},
};

// Operands for a binary op: pow takes a positive base; div a divisor away from 0; comparisons get
// some equal pairs (every third element of b copies a where the shapes line up).
std::pair<Tensor, Tensor> binary_inputs(B op, const Shape& sa, const Shape& sb, DType dt,
                                        std::uint64_t seed) {
  Tensor a =
      op == B::pow ? random_tensor(sa, dt, 0.1, 5, seed) : random_tensor(sa, dt, -10, 10, seed);
  Tensor b = op == B::pow ? random_tensor(sb, dt, -3, 3, seed + 1)
                          : random_tensor(sb, dt, -10, 10, seed + 1, op == B::div ? 0.01 : 0);
  if (sa == sb && op != B::div && op != B::pow) {
    const auto av = a.to_vector();
    auto bv = b.to_vector();
    for (std::size_t i = 0; i < bv.size(); i += 3) bv[i] = av[i];
    b = Tensor::from_values(sb, bv, dt);
  }
  return {a, b};
}

// The reference for op(a, b) with broadcasting, computed element by element.
template <class T>
std::vector<T> ref_broadcast_binary(B op, const Tensor& a, const Tensor& b) {
  const Shape out = ref_broadcast(a.shape(), b.shape());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  std::vector<T> want(static_cast<std::size_t>(tg::numel(out)));
  for_each_index(out, [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
    want[flat] = ref_binary(op, pa[source_index(a.shape(), idx)], pb[source_index(b.shape(), idx)]);
  });
  return want;
}

// Pairs of shapes that broadcast. Several merge into fewer axes in the planner: (4,5,6)+(4,1,6)
// keeps three axes, (2,3,4,5)+(1,3,1,5) four, (2,3,4)+(4,) becomes one (6, 4) pair,
// (300,200)+(200,) is large enough to be split over threads.
const std::vector<std::pair<Shape, Shape>> broadcast_pairs = {
    {{3, 1}, {1, 4}},
    {{2, 3, 4}, {4}},
    {{2, 1, 5}, {3, 1}},
    {{}, {5, 7}},
    {{1}, {17}},
    {{4, 5, 6}, {4, 1, 6}},
    {{2, 3, 4, 5}, {1, 3, 1, 5}},
    {{2, 3, 4, 5}, {2, 1, 1, 5}},
    {{3, 1, 7}, {3, 1, 7}},
    {{5, 1}, {1}},
    {{0, 3}, {1, 3}},
    {{300, 200}, {200}},
    {{300, 1}, {1, 200}},
    {{64, 1, 33}, {64, 20, 1}},
};

}  // namespace

// --- element-wise --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("unary ops match a scalar reference", "[ops][unary]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  for (const UnaryCase& c : unary_cases) {
    for (std::int64_t n : sizes) {
      INFO(c.name << " " << dtype_name<T>() << " n=" << n);
      const Tensor x = random_tensor({n}, dt, c.lo, c.hi, std::uint64_t(n) + 17, c.min_abs);
      std::vector<T> want;
      for (T v : values_of<T>(x)) want.push_back(ref_unary(c.op, v));
      const Tensor y = c.fn(x);
      CHECK(y.shape() == x.shape());
      check_ulps<T>(y, want, sizeof(T) == 4 ? c.ulps : c.ulps_f64);
    }
    // The same values laid out as a 3-D tensor give the same result: unary ops ignore the shape.
    const Tensor x3 = random_tensor({3, 5, 7}, dt, c.lo, c.hi, 99, c.min_abs);
    const Tensor y3 = c.fn(x3);
    CHECK(y3.shape() == Shape{3, 5, 7});
    CHECK(bitwise_equal(y3.reshape({105}), c.fn(x3.reshape({105}))));
  }
}

TEMPLATE_TEST_CASE("binary ops on equal shapes match a scalar reference", "[ops][binary]", float,
                   double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  for (const BinaryCase& c : binary_cases) {
    for (std::int64_t n : sizes) {
      INFO(c.name << " " << dtype_name<T>() << " n=" << n);
      auto [a, b] = binary_inputs(c.op, {n}, {n}, dt, std::uint64_t(n));
      const Tensor y = c.fn(a, b);
      CHECK(y.shape() == Shape{n});
      check_ulps<T>(y, ref_broadcast_binary<T>(c.op, a, b), c.ulps);
      // A scalar on either side (a step-0 operand in the kernel).
      const Tensor s = c.op == B::pow ? Tensor::scalar(1.5, dt) : Tensor::scalar(0.75, dt);
      check_ulps<T>(c.fn(a, s), ref_broadcast_binary<T>(c.op, a, s), c.ulps);
      if (c.op != B::pow) check_ulps<T>(c.fn(s, a), ref_broadcast_binary<T>(c.op, s, a), c.ulps);
    }
  }
}

TEMPLATE_TEST_CASE("binary ops broadcast like NumPy", "[ops][binary][broadcast]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  std::uint64_t seed = 1;
  for (const auto& [s0, s1] : broadcast_pairs) {
    for (bool swap : {false, true}) {
      const Shape& sa = swap ? s1 : s0;
      const Shape& sb = swap ? s0 : s1;
      for (const BinaryCase& c : binary_cases) {
        INFO(c.name << " " << dtype_name<T>() << " " << tg::shape_str(sa) << " x "
                    << tg::shape_str(sb));
        auto [a, b] = binary_inputs(c.op, sa, sb, dt, ++seed);
        const Tensor y = c.fn(a, b);
        CHECK(y.shape() == ref_broadcast(sa, sb));
        check_ulps<T>(y, ref_broadcast_binary<T>(c.op, a, b), c.ulps);
      }
    }
  }
}

TEST_CASE("comparisons give 0/1 masks of the operands' dtype", "[ops][binary]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor a = Tensor::from_values({5}, {1, 2, 3, 4, 5}, dt);
    const Tensor b = Tensor::from_values({5}, {5, 2, 1, 4, 6}, dt);
    CHECK(tg::eq(a, b).dtype() == dt);
    CHECK(tg::eq(a, b).to_vector() == std::vector<double>{0, 1, 0, 1, 0});
    CHECK(tg::ne(a, b).to_vector() == std::vector<double>{1, 0, 1, 0, 1});
    CHECK(tg::lt(a, b).to_vector() == std::vector<double>{1, 0, 0, 0, 1});
    CHECK(tg::le(a, b).to_vector() == std::vector<double>{1, 1, 0, 1, 1});
    CHECK(tg::gt(a, b).to_vector() == std::vector<double>{0, 0, 1, 0, 0});
    CHECK(tg::ge(a, b).to_vector() == std::vector<double>{0, 1, 1, 1, 0});
    // NaN compares unequal to everything, itself included.
    const Tensor n = Tensor::full({2}, std::numeric_limits<double>::quiet_NaN(), dt);
    CHECK(tg::eq(n, n).to_vector() == std::vector<double>{0, 0});
    CHECK(tg::ne(n, n).to_vector() == std::vector<double>{1, 1});
  }
}

TEMPLATE_TEST_CASE("where broadcasts all three operands", "[ops][where]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const std::vector<std::array<Shape, 3>> cases = {
      {Shape{2, 1, 4}, Shape{3, 1}, Shape{1}}, {Shape{5}, Shape{}, Shape{3, 5}},
      {Shape{}, Shape{2, 3}, Shape{2, 3}},     {Shape{4, 1, 6}, Shape{1, 5, 1}, Shape{4, 5, 6}},
      {Shape{17}, Shape{17}, Shape{17}},
  };
  std::uint64_t seed = 7;
  for (const auto& [sm, sa, sb] : cases) {
    INFO(tg::shape_str(sm) << " " << tg::shape_str(sa) << " " << tg::shape_str(sb));
    // Masks with 0 and various non-zero values (anything non-zero selects a).
    Tensor mask = random_tensor(sm, dt, -1, 2, ++seed);
    auto mv = mask.to_vector();
    for (auto& m : mv) m = m < 0 ? 0.0 : (m < 1 ? 1.0 : -2.5);
    mask = Tensor::from_values(sm, mv, dt);
    const Tensor a = random_tensor(sa, dt, -5, 5, ++seed);
    const Tensor b = random_tensor(sb, dt, -5, 5, ++seed);
    const Tensor y = tg::where(mask, a, b);
    const Shape out = ref_broadcast(ref_broadcast(sm, sa), sb);
    REQUIRE(y.shape() == out);
    std::vector<T> want(static_cast<std::size_t>(tg::numel(out)));
    const T *pm = mask.data<T>(), *pa = a.data<T>(), *pb = b.data<T>();
    for_each_index(out, [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
      want[flat] =
          pm[source_index(sm, idx)] != 0 ? pa[source_index(sa, idx)] : pb[source_index(sb, idx)];
    });
    check_ulps<T>(y, want, 0);
  }
  // The mask has the operands' dtype too.
  const DType other = dt == DType::f32 ? DType::f64 : DType::f32;
  CHECK_THROWS_AS(tg::where(Tensor::ones({2}, other), Tensor::ones({2}, dt), Tensor::ones({2}, dt)),
                  tg::DTypeError);
}

TEMPLATE_TEST_CASE("clamp", "[ops][clamp]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  for (std::int64_t n : sizes) {
    Tensor x = random_tensor({n}, dt, -5, 5, std::uint64_t(n) + 3);
    // Keep inputs away from the limits (-1, 2).
    auto v = x.to_vector();
    for (auto& e : v)
      if (std::abs(e + 1) < 1e-3 || std::abs(e - 2) < 1e-3) e += 0.01;
    x = Tensor::from_values({n}, v, dt);
    std::vector<T> want;
    for (T e : values_of<T>(x)) want.push_back(std::clamp(e, T(-1), T(2)));
    check_ulps<T>(tg::clamp(x, -1, 2), want, 0);
  }
  CHECK(tg::clamp(Tensor::from_values({3}, {-3, 0.5, 3}, dt), 0, 0).to_vector() ==
        std::vector<double>{0, 0, 0});
  CHECK_THROWS_AS(tg::clamp(Tensor::ones({2}, dt), 1, 0), tg::ValueError);
}

TEMPLATE_TEST_CASE("operators with tensors and scalars", "[ops][operators]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const Tensor a = random_tensor({4, 7}, dt, -3, 3, 5);
  const Tensor b = random_tensor({7}, dt, 1, 3, 6);
  CHECK(bitwise_equal(a + b, tg::add(a, b)));
  CHECK(bitwise_equal(a - b, tg::sub(a, b)));
  CHECK(bitwise_equal(a * b, tg::mul(a, b)));
  CHECK(bitwise_equal(a / b, tg::div(a, b)));
  CHECK(bitwise_equal(-a, tg::neg(a)));

  const auto av = values_of<T>(a);
  const T s = T(1.25);
  auto with = [&](auto f) {
    std::vector<T> w;
    for (T x : av) w.push_back(f(x));
    return w;
  };
  // The scalar takes the tensor's dtype, so the result keeps it.
  CHECK((a + 1.25).dtype() == dt);
  check_ulps<T>(a + 1.25, with([&](T x) { return x + s; }), 0);
  check_ulps<T>(a - 1.25, with([&](T x) { return x - s; }), 0);
  check_ulps<T>(a * 1.25, with([&](T x) { return x * s; }), 0);
  check_ulps<T>(a / 1.25, with([&](T x) { return x / s; }), 0);
  check_ulps<T>(1.25 + a, with([&](T x) { return s + x; }), 0);
  check_ulps<T>(1.25 - a, with([&](T x) { return s - x; }), 0);
  check_ulps<T>(1.25 * a, with([&](T x) { return s * x; }), 0);
  check_ulps<T>(
      1.25 / b,
      [&] {
        std::vector<T> w;
        for (T x : values_of<T>(b)) w.push_back(s / x);
        return w;
      }(),
      0);
}

TEST_CASE("element-wise errors name the op and both shapes", "[ops][errors]") {
  const Tensor a = Tensor::ones({2, 3});
  const Tensor b = Tensor::ones({4});
  for (const BinaryCase& c : binary_cases) {
    INFO(c.name);
    CHECK_THROWS_AS(c.fn(a, b), tg::ShapeError);
    CHECK_THROWS_WITH(c.fn(a, b), Catch::StartsWith(c.name) && Catch::Contains("(2, 3)") &&
                                      Catch::Contains("(4,)"));
  }
  CHECK_THROWS_WITH(a + b,
                    Catch::Contains("add") && Catch::Contains("(2, 3)") && Catch::Contains("(4,)"));
  CHECK_THROWS_AS(tg::add(Tensor::ones({2, 3, 4}), Tensor::ones({3, 1, 5})), tg::ShapeError);
  CHECK_THROWS_AS(tg::where(Tensor::ones({2}), Tensor::ones({3}), Tensor::ones({1})),
                  tg::ShapeError);

  // Mixed dtypes are refused, never converted silently.
  const Tensor d = Tensor::ones({2, 3}, DType::f64);
  for (const BinaryCase& c : binary_cases) {
    INFO(c.name);
    CHECK_THROWS_AS(c.fn(a, d), tg::DTypeError);
  }
  CHECK_THROWS_WITH(tg::mul(a, d),
                    Catch::Contains("mul") && Catch::Contains("f32") && Catch::Contains("f64"));
  CHECK_THROWS_AS(tg::where(a, d, d), tg::DTypeError);
  CHECK_THROWS_AS(tg::where(a, a, d), tg::DTypeError);
  CHECK_THROWS_AS(tg::matmul(a, d.reshape({3, 2})), tg::DTypeError);
  CHECK_THROWS_AS(tg::concat({a, d}), tg::DTypeError);
  CHECK_THROWS_AS(tg::add(a, Tensor()), tg::Error);
}

TEST_CASE("element-wise results do not depend on the thread count", "[ops][threads]") {
  const int saved = tg::num_threads();
  const Tensor a = random_tensor({300, 400}, DType::f32, -3, 3, 1);
  const Tensor b = random_tensor({400}, DType::f32, -3, 3, 2);
  tg::set_num_threads(1);
  const Tensor y1 = tg::mul(a, b), e1 = tg::exp(a), w1 = tg::where(tg::gt(a, b), a, b);
  tg::set_num_threads(2);
  const Tensor y2 = tg::mul(a, b), e2 = tg::exp(a), w2 = tg::where(tg::gt(a, b), a, b);
  tg::set_num_threads(saved);
  CHECK(bitwise_equal(y1, y2));
  CHECK(bitwise_equal(e1, e2));
  CHECK(bitwise_equal(w1, w2));
}

// --- reductions ----------------------------------------------------------------------------------

namespace {

enum class R { sum, mean, max, min, logsumexp };

// The reference reduction of x over the axes flagged in `red`, in long double: out_shape keeps the
// reduced axes as 1 (keepdim); scale[i] is sum |x| over what went into element i (for sum's
// tolerance).
struct RefReduce {
  Shape out_shape;
  std::vector<L> value, scale;
};

template <class T>
RefReduce ref_reduce(R kind, const Tensor& x, const std::vector<bool>& red) {
  RefReduce r;
  for (std::size_t i = 0; i < x.shape().size(); ++i)
    r.out_shape.push_back(red[i] ? 1 : x.shape()[i]);
  const std::int64_t n_out = tg::numel(r.out_shape);
  std::vector<std::vector<L>> groups(static_cast<std::size_t>(n_out));
  const T* px = x.data<T>();
  for_each_index(x.shape(), [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
    groups[source_index(r.out_shape, idx)].push_back(px[flat]);
  });
  for (const auto& g : groups) {
    L v = 0, s = 0;
    for (L e : g) s += std::abs(e);
    switch (kind) {
      case R::sum:
        for (L e : g) v += e;
        break;
      case R::mean:
        for (L e : g) v += e;
        v /= L(g.size());
        s /= L(g.size());
        break;
      case R::max:
        v = *std::max_element(g.begin(), g.end());
        break;
      case R::min:
        v = *std::min_element(g.begin(), g.end());
        break;
      case R::logsumexp: {
        const L m = *std::max_element(g.begin(), g.end());
        for (L e : g) v += std::exp(e - m);
        v = m + std::log(v);
        s = std::abs(v) + 1;
        break;
      }
    }
    r.value.push_back(v);
    r.scale.push_back(s);
  }
  return r;
}

Tensor reduce_op(R kind, const Tensor& x, const Axes& axes, bool keepdim) {
  switch (kind) {
    case R::sum:
      return tg::sum(x, axes, keepdim);
    case R::mean:
      return tg::mean(x, axes, keepdim);
    case R::max:
      return tg::max(x, axes, keepdim);
    case R::min:
      return tg::min(x, axes, keepdim);
    case R::logsumexp:
      return tg::logsumexp(x, axes, keepdim);
  }
  return {};
}

const char* reduce_name(R kind) {
  switch (kind) {
    case R::sum:
      return "sum";
    case R::mean:
      return "mean";
    case R::max:
      return "max";
    case R::min:
      return "min";
    case R::logsumexp:
      return "logsumexp";
  }
  return "";
}

}  // namespace

TEMPLATE_TEST_CASE("reductions over every set of axes of a (3, 4, 5) tensor", "[ops][reduce]",
                   float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const double rtol = sizeof(T) == 4 ? 1e-6 : 1e-12;
  const Tensor x = random_tensor({3, 4, 5}, dt, -3, 3, 42);
  for (R kind : {R::sum, R::mean, R::max, R::min, R::logsumexp}) {
    for (int mask = 0; mask < 8; ++mask) {  // mask 0: no axes given, which reduces over all of them
      std::vector<bool> red(3);
      Axes axes, neg_axes;
      for (int a = 0; a < 3; ++a) {
        red[a] = mask == 0 || (mask >> a & 1);
        if (mask >> a & 1) {
          axes.push_back(a);
          neg_axes.push_back(a - 3);
        }
      }
      const RefReduce want = ref_reduce<T>(kind, x, red);
      Shape squeezed;
      for (int a = 0; a < 3; ++a)
        if (!red[a]) squeezed.push_back(x.shape()[a]);
      for (bool keepdim : {false, true}) {
        for (const Axes& ax : {axes, neg_axes}) {
          INFO(reduce_name(kind) << " " << dtype_name<T>() << " axes mask " << mask << " keepdim "
                                 << keepdim << (ax == neg_axes ? " (negative axes)" : ""));
          const Tensor y = reduce_op(kind, x, ax, keepdim);
          CHECK(y.shape() == (keepdim ? want.out_shape : squeezed));
          if (kind == R::max || kind == R::min)
            check_close<T>(y, want.value, 0, 0);  // exact
          else
            check_close<T>(y, want.value, rtol, 0, want.scale);
        }
      }
    }
  }
}

TEST_CASE("reductions: axis order, duplicates, out of range", "[ops][reduce][errors]") {
  const Tensor x = random_tensor({3, 4, 5}, DType::f64, -1, 1, 3);
  // The order of the axes given does not matter.
  CHECK(bitwise_equal(tg::sum(x, {2, 0}), tg::sum(x, {0, 2})));
  CHECK(bitwise_equal(tg::max(x, {-1, 0}, true), tg::max(x, {0, 2}, true)));

  CHECK_THROWS_AS(tg::sum(x, {0, 0}), tg::ShapeError);
  CHECK_THROWS_AS(tg::sum(x, {1, -2}), tg::ShapeError);  // the same axis twice
  CHECK_THROWS_WITH(tg::sum(x, {1, 1}), Catch::Contains("sum") && Catch::Contains("twice"));
  CHECK_THROWS_AS(tg::mean(x, {2, -1}), tg::ShapeError);
  CHECK_THROWS_AS(tg::max(x, {0, 0}), tg::ShapeError);
  CHECK_THROWS_AS(tg::logsumexp(x, {0, 0}), tg::ShapeError);
  CHECK_THROWS_AS(tg::sum(x, {3}), tg::ShapeError);
  CHECK_THROWS_AS(tg::sum(x, {-4}), tg::ShapeError);
  CHECK_THROWS_AS(tg::argmax(x, 3), tg::ShapeError);

  // A 0-d tensor reduces to itself.
  CHECK(tg::sum(Tensor::scalar(2.5)).item() == 2.5);
  CHECK(tg::max(Tensor::scalar(-1)).item() == -1);
}

TEST_CASE("reductions over empty axes", "[ops][reduce]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor x = Tensor::ones({3, 0, 4}, dt);
    const Tensor s1 = tg::sum(x, {1});
    CHECK(s1.shape() == Shape{3, 4});
    CHECK(s1.to_vector() == std::vector<double>(12, 0.0));
    CHECK(tg::sum(x, {1}, true).shape() == Shape{3, 1, 4});
    CHECK(tg::sum(x).item() == 0);
    CHECK(tg::sum(x, {0, 1}).to_vector() == std::vector<double>(4, 0.0));  // contiguous axes
    CHECK(tg::sum(x, {0, 2}).shape() == Shape{0});                         // nothing left to hold
    const Tensor y = Tensor::ones({0, 3, 4}, dt);
    CHECK(tg::sum(y, {0, 2}).to_vector() == std::vector<double>(3, 0.0));  // non-contiguous axes
    CHECK(tg::sum(Tensor::ones({0, 4}, dt), {1}).shape() == Shape{0});     // keeps the empty axis
    CHECK(std::isnan(tg::mean(Tensor::ones({0}, dt)).item()));             // 0 / 0, like NumPy
    CHECK_THROWS_AS(tg::max(x, {1}), tg::ShapeError);
    CHECK_THROWS_AS(tg::min(x), tg::ShapeError);
    CHECK_THROWS_AS(tg::argmax(x, 1), tg::ShapeError);
  }
}

TEMPLATE_TEST_CASE("logsumexp at the edges", "[ops][reduce][logsumexp]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const double i = std::numeric_limits<double>::infinity();
  // Row 0 all -inf, row 1 holds +inf, row 2 is large, row 3 very negative.
  const Tensor x =
      Tensor::from_values({4, 3}, {-i, -i, -i, 1, i, -i, 1000, 1000, 999, -1000, -1000, -1001}, dt);
  const auto y = values_of<T>(tg::logsumexp(x, {1}));
  CHECK(y[0] == -inf<T>);
  CHECK(y[1] == inf<T>);
  const L big = 1000 + std::log(2 + std::exp(L(-1)));
  const L small = -1000 + std::log(2 + std::exp(L(-1)));
  CHECK(ulp_distance(y[2], T(big)) <= 1);
  CHECK(ulp_distance(y[3], T(small)) <= 1);
  CHECK(tg::logsumexp(x, {1}, true).shape() == Shape{4, 1});
  CHECK(tg::logsumexp(Tensor::full({5}, -i, dt)).item() == -i);
  CHECK(tg::logsumexp(Tensor::from_values({2}, {80, 90}, dt)).item() ==
        Approx(double(90 + std::log1p(std::exp(L(-10))))).epsilon(1e-7));
}

TEST_CASE("argmax picks the first of equal maxima", "[ops][reduce][argmax]") {
  for (DType dt : {DType::f32, DType::f64}) {
    CHECK(tg::argmax(Tensor::from_values({5}, {1, 3, 3, 2, 3}, dt), 0).item() == 1);
    CHECK(tg::argmax(Tensor::from_values({3}, {-5, -5, -5}, dt), 0).item() == 0);
    CHECK(tg::argmax(Tensor::from_values({3}, {-5, -5, -4}, dt), -1).dtype() == dt);

    // Against a plain loop along every axis, with many ties (small integers).
    Tensor x = random_tensor({3, 4, 5}, dt, 0, 3, 11);
    auto v = x.to_vector();
    for (auto& e : v) e = std::floor(e);
    x = Tensor::from_values({3, 4, 5}, v, dt);
    for (int axis = 0; axis < 3; ++axis) {
      for (bool keepdim : {false, true}) {
        INFO("axis " << axis << " keepdim " << keepdim);
        const Tensor got = tg::argmax(x, axis - (keepdim ? 3 : 0), keepdim);
        Shape out_shape = x.shape();
        out_shape[axis] = 1;
        std::vector<double> best(static_cast<std::size_t>(tg::numel(out_shape)), -1),
            idx_of(best.size(), -1);
        for_each_index(x.shape(), [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
          const std::int64_t o = source_index(out_shape, idx);
          if (idx_of[o] < 0 || v[flat] > best[o]) {
            best[o] = v[flat];
            idx_of[o] = double(idx[axis]);
          }
        });
        Shape squeezed = x.shape();
        squeezed.erase(squeezed.begin() + axis);
        CHECK(got.shape() == (keepdim ? out_shape : squeezed));
        CHECK(got.to_vector() == idx_of);
      }
    }
  }
}

TEMPLATE_TEST_CASE("sum_to is the inverse of broadcasting", "[ops][sum_to]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const double rtol = sizeof(T) == 4 ? 1e-6 : 1e-12;
  std::uint64_t seed = 100;
  for (const auto& [s0, s1] : broadcast_pairs) {
    const Shape big = ref_broadcast(s0, s1);
    for (const Shape& small : {s0, s1}) {
      INFO(tg::shape_str(big) << " -> " << tg::shape_str(small));
      const Tensor x = random_tensor(big, dt, -2, 2, ++seed);
      const Tensor y = tg::sum_to(x, small);
      REQUIRE(y.shape() == small);
      // Each element of x lands on the element of `small` that broadcasting would have copied
      // there.
      std::vector<L> want(static_cast<std::size_t>(tg::numel(small)), 0), scale(want.size(), 0);
      const T* px = x.data<T>();
      for_each_index(big, [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
        want[source_index(small, idx)] += px[flat];
        scale[source_index(small, idx)] += std::abs(L(px[flat]));
      });
      check_close<T>(y, want, rtol, 0, scale);
      // Broadcasting a tensor up and summing back multiplies it by the number of copies.
      const Tensor s = random_tensor(small, dt, -2, 2, ++seed);
      // An axis sum adds its rows in order, so n copies may be off by n - 1 roundings.
      const double copies =
          double(tg::numel(big)) / double(std::max<std::int64_t>(1, tg::numel(small)));
      const double eps = std::numeric_limits<T>::epsilon();
      if (tg::numel(big) > 0)
        CHECK(
            tg::allclose(tg::sum_to(tg::broadcast_to(s, big), small), s * copies, copies * eps, 0));
    }
  }
  const Tensor x = random_tensor({2, 3}, dt, -1, 1, 1);
  CHECK(tg::sum_to(x, {2, 3}).to_vector() == x.to_vector());
  CHECK(tg::sum_to(x, {}).item() == Approx(tg::sum(x).item()));
  CHECK_THROWS_AS(tg::sum_to(x, {4}), tg::ShapeError);        // (4,) does not broadcast to (2, 3)
  CHECK_THROWS_AS(tg::sum_to(x, {2}), tg::ShapeError);        // aligned on the right: 2 vs 3
  CHECK_THROWS_AS(tg::sum_to(x, {1, 2, 3}), tg::ShapeError);  // more dimensions than x
  CHECK_THROWS_AS(tg::sum_to(Tensor::ones({2, 1}), {2, 3}), tg::ShapeError);
  CHECK_THROWS_WITH(tg::sum_to(x, {4}), Catch::Contains("sum_to") && Catch::Contains("(4,)") &&
                                            Catch::Contains("(2, 3)"));
}

TEST_CASE("sums are bitwise identical for 1 and 2 threads", "[ops][reduce][threads]") {
  const int saved = tg::num_threads();
  // About 1e6 floats, not a multiple of any block size.
  const Tensor big = random_tensor({1000003}, DType::f32, -1, 3, 5);
  const Tensor img = random_tensor({1000, 784}, DType::f32, 0, 1, 6);
  const Tensor img64 = img.to(DType::f64);

  auto run = [&] {
    return std::vector<Tensor>{tg::sum(big),
                               tg::sum(img),
                               tg::sum(img, {0}),
                               tg::sum(img, {1}),
                               tg::sum(img, {0}, true),
                               tg::mean(img, {1}),
                               tg::sum(img64, {0}),
                               tg::sum(img64, {1}),
                               tg::sum(img64),
                               tg::logsumexp(img, {1}),
                               tg::sum(img.reshape({1000, 28, 28}), {0, 2})};
  };
  tg::set_num_threads(1);
  const auto one = run();
  tg::set_num_threads(2);
  const auto two = run();
  tg::set_num_threads(saved);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    CHECK(one[i].shape() == two[i].shape());
    CHECK(std::memcmp(one[i].raw_data(), two[i].raw_data(), one[i].nbytes()) == 0);
  }
  // And the sum is accurate: the fixed order is pairwise, not a long running total.
  L want = 0;
  for (float v : values_of<float>(big)) want += v;
  CHECK(std::abs(L(one[0].item()) - want) <= 1e-6L * std::abs(want));
}

// --- shape ops -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("permute and transpose against index arithmetic", "[ops][shape]", float,
                   double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  auto check_perm = [&](const Tensor& x, const Axes& perm) {
    INFO(tg::shape_str(x.shape()) << " perm " << Catch::Detail::stringify(perm));
    const Tensor y = tg::permute(x, perm);
    const std::size_t nd = x.shape().size();
    Shape want_shape(nd);
    std::vector<int> p(nd);
    for (std::size_t i = 0; i < nd; ++i) {
      p[i] = int(perm[i] < 0 ? perm[i] + std::int64_t(nd) : perm[i]);
      want_shape[i] = x.shape()[p[i]];
    }
    REQUIRE(y.shape() == want_shape);
    CHECK_FALSE(y.shares_storage(x));
    // y[i0, i1, ...] == x[j] where j[p[k]] = i[k].
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    const auto xs = tg::contiguous_strides(x.shape());
    std::int64_t bad = 0;
    for_each_index(want_shape, [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
      std::int64_t src = 0;
      for (std::size_t k = 0; k < nd; ++k) src += idx[k] * xs[p[k]];
      bad += py[flat] != px[src];
    });
    CHECK(bad == 0);
  };
  const Tensor x = random_tensor({2, 3, 4}, dt, -1, 1, 8);
  Axes perm = {0, 1, 2};
  do check_perm(x, perm);
  while (std::next_permutation(perm.begin(), perm.end()));
  check_perm(x, {-1, 0, -2});
  // Large enough to be split over threads.
  check_perm(random_tensor({40, 30, 20, 10}, dt, -1, 1, 9), {3, 1, 0, 2});
  check_perm(random_tensor({300, 200}, dt, -1, 1, 10), {1, 0});
  check_perm(Tensor::zeros({2, 0, 3}, dt), {2, 0, 1});
  CHECK(tg::permute(Tensor::scalar(3, dt), {}).item() == 3);

  const Tensor t = tg::transpose(x);  // the last two axes by default
  CHECK(t.shape() == Shape{2, 4, 3});
  CHECK(bitwise_equal(t, tg::permute(x, {0, 2, 1})));
  CHECK(bitwise_equal(tg::transpose(x, 0, 2), tg::permute(x, {2, 1, 0})));
  CHECK(bitwise_equal(tg::transpose(tg::transpose(x, 0, -1), 0, -1), x));
  const Tensor m = Tensor::from_values({2, 3}, {1, 2, 3, 4, 5, 6}, dt);
  CHECK(tg::transpose(m).to_vector() == std::vector<double>{1, 4, 2, 5, 3, 6});

  CHECK_THROWS_AS(tg::permute(x, {0, 1}), tg::ShapeError);
  CHECK_THROWS_AS(tg::permute(x, {0, 1, 1}), tg::ShapeError);
  CHECK_THROWS_AS(tg::permute(x, {0, 1, 3}), tg::ShapeError);
  CHECK_THROWS_AS(tg::transpose(x, 0, 3), tg::ShapeError);
}

TEST_CASE("slice", "[ops][shape]") {
  const Tensor x = Tensor::arange(0, 24, 1, DType::f64).reshape({4, 6});
  const Tensor s = tg::slice(x, 1, 1, 4);
  CHECK(s.shape() == Shape{4, 3});
  CHECK(s.to_vector() == std::vector<double>{1, 2, 3, 7, 8, 9, 13, 14, 15, 19, 20, 21});
  CHECK(tg::slice(x, 0, 2, 4).to_vector() == tg::slice(x, 0, -2, 4).to_vector());
  // Python's x[:, -4:-1].
  CHECK(tg::slice(x, -1, -4, -1).to_vector() == tg::slice(x, 1, 2, 5).to_vector());
  CHECK(tg::slice(x, 0, -1, 4).to_vector() == std::vector<double>{18, 19, 20, 21, 22, 23});
  CHECK(tg::slice(x, 0, 0, 100).shape() == Shape{4, 6});  // clipped like Python
  CHECK(tg::slice(x, 0, -100, 1).shape() == Shape{1, 6});
  CHECK(tg::slice(x, 1, 4, 2).shape() == Shape{4, 0});  // empty, not an error
  CHECK(tg::slice(x, 1, 7, 9).shape() == Shape{4, 0});
  CHECK_FALSE(tg::slice(x, 0, 0, 4).shares_storage(x));
  CHECK_THROWS_AS(tg::slice(x, 2, 0, 1), tg::ShapeError);

  const Tensor y = Tensor::arange(0, 60).reshape({3, 4, 5});
  const Tensor m = tg::slice(y, 1, -3, -1);
  REQUIRE(m.shape() == Shape{3, 2, 5});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 5; ++k) CHECK(m.at({i, j, k}) == y.at({i, j + 1, k}));
}

TEMPLATE_TEST_CASE("concat along each axis", "[ops][shape]", float, double) {
  constexpr DType dt = tg::dtype_of<TestType>();
  const Shape base = {2, 3, 4};
  for (int axis = 0; axis < 3; ++axis) {
    INFO("axis " << axis);
    Shape sa = base, sb = base, sc = base;
    sb[axis] = 1;
    sc[axis] = 5;
    const Tensor a = random_tensor(sa, dt, -1, 1, 1), b = random_tensor(sb, dt, -1, 1, 2),
                 c = random_tensor(sc, dt, -1, 1, 3);
    const Tensor y = tg::concat({a, b, c}, axis);
    Shape want = base;
    want[axis] = sa[axis] + sb[axis] + sc[axis];
    REQUIRE(y.shape() == want);
    for_each_index(want, [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
      std::vector<std::int64_t> j = idx;
      const Tensor* src = &a;
      if (j[axis] >= sa[axis]) {
        j[axis] -= sa[axis];
        src = &b;
        if (j[axis] >= sb[axis]) {
          j[axis] -= sb[axis];
          src = &c;
        }
      }
      const double expect = src->at({j[0], j[1], j[2]});
      if (y.data<TestType>()[flat] != TestType(expect)) FAIL("mismatch at " << flat);
    });
    CHECK(bitwise_equal(tg::concat({a, b, c}, axis - 3), y));
    // Mismatch outside the axis.
    Shape bad = base;
    bad[(axis + 1) % 3] += 1;
    CHECK_THROWS_AS(tg::concat({a, Tensor::zeros(bad, dt)}, axis), tg::ShapeError);
  }
  const Tensor a = Tensor::ones({2, 3}, dt);
  CHECK(tg::concat({a}, 0).to_vector() == a.to_vector());
  CHECK(tg::concat({a, Tensor::zeros({0, 3}, dt)}, 0).shape() == Shape{2, 3});
  CHECK_THROWS_AS(tg::concat({a, Tensor::ones({2, 3, 1}, dt)}, 0), tg::ShapeError);
  CHECK_THROWS_WITH(tg::concat({a, Tensor::ones({3, 2}, dt)}, 0), Catch::Contains("concat") &&
                                                                      Catch::Contains("(2, 3)") &&
                                                                      Catch::Contains("(3, 2)"));
  CHECK_THROWS_AS(tg::concat({}, 0), tg::ValueError);
  CHECK_THROWS_AS(tg::concat({a, a}, 2), tg::ShapeError);
}

TEMPLATE_TEST_CASE("index_select with repeats, and index_add as its adjoint", "[ops][shape]", float,
                   double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const Tensor x = random_tensor({3, 4, 5}, dt, -1, 1, 21);
  const std::vector<std::int64_t> index = {2, 0, 2, 3, 2};
  for (int axis = 0; axis < 3; ++axis) {
    INFO("axis " << axis);
    const std::vector<std::int64_t> idx = axis == 0 ? std::vector<std::int64_t>{2, 0, 2, 1} : index;
    const Tensor y = tg::index_select(x, axis, idx);
    Shape ys = x.shape();
    ys[axis] = std::int64_t(idx.size());
    REQUIRE(y.shape() == ys);
    for_each_index(ys, [&](const std::vector<std::int64_t>& i, std::int64_t flat) {
      std::vector<std::int64_t> j = i;
      j[axis] = idx[i[axis]];
      if (y.data<T>()[flat] != T(x.at({j[0], j[1], j[2]}))) FAIL("mismatch at " << flat);
    });
    // <index_select(x), g> == <x, index_add(g)> for any g: index_add is the adjoint (the gradient).
    const Tensor g = random_tensor(ys, dt, -1, 1, 22 + axis);
    const Tensor back = tg::index_add(x.shape(), axis, idx, g);
    REQUIRE(back.shape() == x.shape());
    L lhs = 0, rhs = 0;
    for (std::size_t i = 0; i < std::size_t(y.numel()); ++i)
      lhs += L(y.data<T>()[i]) * g.data<T>()[i];
    for (std::size_t i = 0; i < std::size_t(x.numel()); ++i)
      rhs += L(x.data<T>()[i]) * back.data<T>()[i];
    CHECK(double(lhs) == Approx(double(rhs)).epsilon(sizeof(T) == 4 ? 1e-6 : 1e-12));
    CHECK(bitwise_equal(tg::index_select(x, axis - 3, idx), y));
  }
  // Repeated indices add up; indices not picked get zero.
  const Tensor src = Tensor::from_values({3, 2}, {1, 2, 10, 20, 100, 200}, dt);
  const Tensor acc = tg::index_add({4, 2}, 0, {1, 3, 1}, src);
  CHECK(acc.to_vector() == std::vector<double>{0, 0, 101, 202, 0, 0, 10, 20});
  CHECK(tg::index_select(x, 1, {}).shape() == Shape{3, 0, 5});

  CHECK_THROWS_AS(tg::index_select(x, 1, {4}), tg::ShapeError);
  CHECK_THROWS_AS(tg::index_select(x, 1, {-1}), tg::ShapeError);
  CHECK_THROWS_AS(tg::index_add({4, 2}, 0, {1, 4, 1}, src), tg::ShapeError);
  CHECK_THROWS_AS(tg::index_add({4, 2}, 0, {1, 2}, src), tg::ShapeError);  // src has 3 rows
}

TEST_CASE("squeeze and unsqueeze are views", "[ops][shape]") {
  const Tensor x = Tensor::arange(0, 6).reshape({2, 1, 3});
  const Tensor s = tg::squeeze(x, 1);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.shares_storage(x));
  CHECK(tg::squeeze(x, -2).shape() == Shape{2, 3});
  CHECK(tg::squeeze(Tensor::ones({1}), 0).shape() == Shape{});
  CHECK_THROWS_AS(tg::squeeze(x, 0), tg::ShapeError);
  CHECK_THROWS_WITH(tg::squeeze(x, 2), Catch::Contains("squeeze") && Catch::Contains("(2, 1, 3)"));
  CHECK_THROWS_AS(tg::squeeze(x, 3), tg::ShapeError);

  CHECK(tg::unsqueeze(s, 0).shape() == Shape{1, 2, 3});
  CHECK(tg::unsqueeze(s, 1).shape() == Shape{2, 1, 3});
  CHECK(tg::unsqueeze(s, 2).shape() == Shape{2, 3, 1});  // after the last axis
  CHECK(tg::unsqueeze(s, -1).shape() == Shape{2, 3, 1});
  CHECK(tg::unsqueeze(s, -3).shape() == Shape{1, 2, 3});
  CHECK(tg::unsqueeze(Tensor::scalar(1), 0).shape() == Shape{1});
  CHECK(tg::unsqueeze(s, 0).shares_storage(x));
  CHECK_THROWS_AS(tg::unsqueeze(s, 3), tg::ShapeError);
  CHECK_THROWS_AS(tg::unsqueeze(s, -4), tg::ShapeError);
}

TEMPLATE_TEST_CASE("broadcast_to", "[ops][shape]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 1}, {2, 3, 4}},    {{}, {2, 2}},  {{4}, {3, 4}},   {{1, 5}, {5, 5}},
      {{2, 1, 3}, {2, 4, 3}}, {{1}, {1000}}, {{1, 1}, {0, 3}}};
  for (const auto& [from, to] : cases) {
    INFO(tg::shape_str(from) << " -> " << tg::shape_str(to));
    const Tensor x = random_tensor(from, dt, -1, 1, 31);
    const Tensor y = tg::broadcast_to(x, to);
    REQUIRE(y.shape() == to);
    std::vector<T> want(static_cast<std::size_t>(tg::numel(to)));
    for_each_index(to, [&](const std::vector<std::int64_t>& idx, std::int64_t flat) {
      want[flat] = x.data<T>()[source_index(from, idx)];
    });
    check_ulps<T>(y, want, 0);
  }
  const Tensor x = Tensor::ones({2, 3}, dt);
  CHECK(tg::broadcast_to(x, {2, 3}).shape() == Shape{2, 3});
  CHECK_THROWS_AS(tg::broadcast_to(Tensor::ones({3}, dt), {4}), tg::ShapeError);
  CHECK_THROWS_AS(tg::broadcast_to(x, {3}), tg::ShapeError);     // fewer dimensions
  CHECK_THROWS_AS(tg::broadcast_to(x, {2, 1}), tg::ShapeError);  // would need to shrink
  CHECK_THROWS_AS(tg::broadcast_to(x, {4, 3, 3}), tg::ShapeError);
}

// --- linear algebra ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("matmul", "[ops][matmul]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const Tensor a = Tensor::from_values({2, 3}, {1, 2, 3, 4, 5, 6}, dt);
  const Tensor b = Tensor::from_values({3, 2}, {7, 8, 9, 10, 11, 12}, dt);
  CHECK(tg::matmul(a, b).shape() == Shape{2, 2});
  CHECK(tg::matmul(a, b).to_vector() == std::vector<double>{58, 64, 139, 154});
  CHECK(tg::matmul(b, a).to_vector() == std::vector<double>{39, 54, 69, 49, 68, 87, 59, 82, 105});
  // The same product through the transpose flags.
  CHECK(tg::matmul(tg::transpose(a), b, true, false).to_vector() ==
        std::vector<double>{58, 64, 139, 154});
  CHECK(tg::matmul(a, tg::transpose(b), false, true).to_vector() ==
        std::vector<double>{58, 64, 139, 154});
  CHECK(tg::matmul(tg::transpose(a), tg::transpose(b), true, true).to_vector() ==
        std::vector<double>{58, 64, 139, 154});

  // Larger, odd sizes against a long double loop.
  const double rtol = sizeof(T) == 4 ? 1e-6 : 1e-12;
  for (auto [M, K, N] : {std::array<std::int64_t, 3>{5, 7, 3}, {37, 53, 29}, {64, 100, 130}}) {
    for (int flags = 0; flags < 4; ++flags) {
      const bool ta = flags & 1, tb = flags & 2;
      INFO(M << "x" << K << "x" << N << " trans_a " << ta << " trans_b " << tb);
      const Tensor A = random_tensor(ta ? Shape{K, M} : Shape{M, K}, dt, -1, 1, 50 + flags);
      const Tensor Bm = random_tensor(tb ? Shape{N, K} : Shape{K, N}, dt, -1, 1, 60 + flags);
      const Tensor C = tg::matmul(A, Bm, ta, tb);
      REQUIRE(C.shape() == Shape{M, N});
      std::vector<L> want, scale;
      const T* pa = A.data<T>();
      const T* pb = Bm.data<T>();
      for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t j = 0; j < N; ++j) {
          L s = 0, sa = 0;
          for (std::int64_t k = 0; k < K; ++k) {
            const L p =
                L(ta ? pa[k * M + i] : pa[i * K + k]) * (tb ? pb[j * K + k] : pb[k * N + j]);
            s += p;
            sa += std::abs(p);
          }
          want.push_back(s);
          scale.push_back(sa);
        }
      check_close<T>(C, want, rtol, 0, scale);
    }
  }
  // K = 0: an empty sum is 0.
  CHECK(tg::matmul(Tensor::ones({2, 0}, dt), Tensor::ones({0, 3}, dt)).to_vector() ==
        std::vector<double>(6, 0.0));
}

TEST_CASE("matmul shape errors", "[ops][matmul][errors]") {
  const Tensor a = Tensor::zeros({128, 784});
  const Tensor b = Tensor::zeros({400, 783});
  CHECK_THROWS_AS(tg::matmul(a, b), tg::ShapeError);
  CHECK_THROWS_WITH(tg::matmul(a, b), "matmul: inner dimensions differ: (128, 784) x (400, 783)");
  CHECK_THROWS_WITH(tg::matmul(a, b, false, true),
                    "matmul: inner dimensions differ: (128, 784) x (400, 783)^T");
  CHECK_THROWS_AS(tg::matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({4, 2})), tg::ShapeError);
  CHECK_THROWS_AS(tg::matmul(Tensor::zeros({3}), Tensor::zeros({3, 2})), tg::ShapeError);
}

TEMPLATE_TEST_CASE("linear with and without bias", "[ops][linear]", float, double) {
  using T = TestType;
  constexpr DType dt = tg::dtype_of<T>();
  const double rtol = sizeof(T) == 4 ? 1e-6 : 1e-12;
  const std::int64_t batch = 9, in = 13, out = 6;
  const Tensor x = random_tensor({batch, in}, dt, -1, 1, 70);
  const Tensor w = random_tensor({out, in}, dt, -1, 1, 71);
  const Tensor b = random_tensor({out}, dt, -1, 1, 72);
  for (bool with_bias : {false, true}) {
    INFO("bias " << with_bias);
    const Tensor y = tg::linear(x, w, with_bias ? b : Tensor());
    REQUIRE(y.shape() == Shape{batch, out});
    std::vector<L> want, scale;
    for (std::int64_t i = 0; i < batch; ++i)
      for (std::int64_t o = 0; o < out; ++o) {
        L s = with_bias ? L(b.data<T>()[o]) : 0, sa = std::abs(s);
        for (std::int64_t k = 0; k < in; ++k) {
          const L p = L(x.data<T>()[i * in + k]) * w.data<T>()[o * in + k];
          s += p;
          sa += std::abs(p);
        }
        want.push_back(s);
        scale.push_back(sa);
      }
    check_close<T>(y, want, rtol, 0, scale);
  }
  CHECK_THROWS_AS(tg::linear(x, Tensor::zeros({out, in + 1}, dt), b), tg::ShapeError);
  CHECK_THROWS_AS(tg::linear(x, w, Tensor::zeros({out + 1}, dt)), tg::ShapeError);
  CHECK_THROWS_AS(tg::linear(x, w, Tensor::zeros({1, out}, dt)), tg::ShapeError);
}

TEST_CASE("allclose", "[ops][allclose]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double i = std::numeric_limits<double>::infinity();
  const Tensor a = Tensor::from_values({3}, {1, 2, 3}, DType::f64);
  CHECK(tg::allclose(a, a));
  CHECK(tg::allclose(a, a + 1e-9));
  CHECK_FALSE(tg::allclose(a, a + 1e-3));
  CHECK(tg::allclose(a, a + 1e-3, 1e-3));
  CHECK_FALSE(tg::allclose(a, a.reshape({3, 1})));  // shapes must be equal
  CHECK(tg::allclose(a, a.to(DType::f32)));         // values are compared as doubles
  const Tensor n = Tensor::from_values({2}, {nan, i}, DType::f64);
  CHECK_FALSE(tg::allclose(n, n));
  CHECK(tg::allclose(n, n, 1e-5, 1e-8, /*equal_nan=*/true));
  CHECK(tg::allclose(Tensor::from_values({1}, {i}), Tensor::from_values({1}, {i})));
  CHECK_FALSE(tg::allclose(Tensor::from_values({1}, {i}), Tensor::from_values({1}, {-i})));
  CHECK_FALSE(tg::allclose(Tensor::from_values({1}, {1}), Tensor::from_values({1}, {i})));
  CHECK_FALSE(tg::allclose(Tensor::from_values({1}, {i}), Tensor::from_values({1}, {1})));
}
