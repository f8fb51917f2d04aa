// Tests for the element-wise and reduction kernels (tensor/kernels.hpp): every op against the
// scalar reference (tensor/kernels_ref.hpp), in f32 and f64, at sizes around the SIMD widths, on
// every SIMD unit this CPU has and on the scalar unit; special values; the fixed-order sum's
// accuracy and its bitwise agreement across units.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/kernels.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"
#include "tapegrad/tensor/kernels_ref.hpp"
#include "use_unit.hpp"

namespace {

using tg::kernels::Binary;
using tg::kernels::Unary;
using tg::kernels::detail::Unit;
namespace kernels = tg::kernels;
namespace detail = tg::kernels::detail;
namespace ref = tg::kernels::ref;
using tgtest::dtype_name;
using tgtest::inf;
using tgtest::nan;
using tgtest::Rng;
using tgtest::ulp_distance;
using tgtest::UseUnit;

const std::vector<std::int64_t> sizes = {0, 1, 7, 15, 16, 17, 33, 1000};

// n values in [lo, hi], with special values planted at a few positions (different ones per n, so
// that they land both in the SIMD body and in the tail).
template <class T>
std::vector<T> make_input(std::int64_t n, double lo, double hi, std::uint64_t seed,
                          bool specials = true) {
  Rng rng{seed * 7919 + std::uint64_t(n)};
  std::vector<T> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = T(lo + (hi - lo) * rng.uniform());
  if (specials && n >= 7) {
    const T special[] = {T(0), -T(0), inf<T>, -inf<T>, nan<T>, T(1000), T(-1000), T(1), T(-1)};
    for (const T s : special) x[static_cast<std::size_t>(rng.uniform() * double(n))] = s;
  }
  return x;
}

// Input range and tolerance (ulps against the reference) of each unary op.
struct UnaryCase {
  Unary op;
  const char* name;
  double lo, hi;
  std::uint64_t ulps;  // 0: bitwise equal to the reference
};

// Ops that are exact in IEEE arithmetic (or a select) must match bitwise; the transcendental ones
// use xsimd's polynomials and may differ from libm by the measured worst case plus a margin.
const std::vector<UnaryCase> unary_cases = {
// Every op of the table, on its range (tensor/elementwise.hpp) ...
#define TG_ROW(name, ref, simd, units, lo, hi, ulps) {Unary::name, #name, lo, hi, ulps},
    TG_UNARY_OPS(TG_ROW)
#undef TG_ROW
    // ... and the edges of the transcendental ones.
    {Unary::exp, "exp (subnormal and overflow edges)", -110, 90, 2},
    {Unary::exp, "exp (f64 edges)", -750, 712, 2},
    {Unary::expm1, "expm1 (near 0)", -1e-4, 1e-4, 3},
    {Unary::expm1, "expm1 (large)", -100, 712, 3},
    {Unary::log, "log (near 0)", 0, 1e-30, 2},
    {Unary::log1p, "log1p (near 0)", -1e-4, 1e-4, 2},
    {Unary::tanh, "tanh (near 0)", -1e-3, 1e-3, 2},
    {Unary::sigmoid, "sigmoid (tails)", -800, 800, 3},
    {Unary::softplus, "softplus (tails)", -800, 800, 3},
    {Unary::log_sigmoid, "log_sigmoid (tails)", -800, 800, 3},
    {Unary::erf, "erf (near 0)", -1e-3, 1e-3, 3},
};

// Compares y with the reference on x, element by element; reports the first mismatch.
template <class T>
void check_close(const std::vector<T>& x, const std::vector<T>& y, const std::vector<T>& want,
                 std::uint64_t ulps) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::uint64_t d = ulp_distance(y[i], want[i]);
    if (d > ulps) {
      INFO("element " << i << " of " << want.size() << ": x = " << x[i] << ", got " << y[i]
                      << ", want " << want[i] << " (" << d << " ulp, allowed " << ulps << ")");
      CHECK(d <= ulps);
      return;
    }
  }
}

template <class T>
void test_unary_all_units() {
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    for (const auto& c : unary_cases) {
      for (const std::int64_t n : sizes) {
        INFO(detail::unit_name(unit) << " " << dtype_name<T>() << " " << c.name << " n=" << n);
        const std::vector<T> x = make_input<T>(n, c.lo, c.hi, static_cast<std::uint64_t>(c.op));
        std::vector<T> want(x.size());
        ref::unary(c.op, x.data(), want.data(), n);

        std::vector<T> y(x.size(), T(-7));
        kernels::unary(c.op, x.data(), y.data(), n);
        check_close(x, y, want, c.ulps);

        std::vector<T> inplace = x;  // y aliases x
        kernels::unary(c.op, inplace.data(), inplace.data(), n);
        check_close(x, inplace, want, c.ulps);
      }
    }
  }
}

TEST_CASE("unary kernels match the scalar reference on every unit", "[kernels]") {
  test_unary_all_units<float>();
  test_unary_all_units<double>();
}

template <class T>
void test_binary_all_units() {
  const Binary ops[] = {
#define TG_ENTRY(name, ...) Binary::name,
      TG_BINARY_OPS(TG_ENTRY)
#undef TG_ENTRY
  };
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    for (const Binary op : ops) {
      for (const std::int64_t n : sizes) {
        // Small integers among the values, so that equal pairs (for the comparisons) and integer
        // exponents of negative bases (for pow) occur.
        std::vector<T> a = make_input<T>(n, -4, 4, 100 + static_cast<std::uint64_t>(op));
        std::vector<T> b = make_input<T>(n, -4, 4, 200 + static_cast<std::uint64_t>(op));
        for (std::size_t i = 0; i < a.size(); i += 3) a[i] = std::round(a[i]);
        for (std::size_t i = 0; i < b.size(); i += 2) b[i] = std::round(b[i]);
        for (std::size_t i = 0; i < a.size(); i += 5) b[i] = a[i];
        if (n > 0) b[0] = T(3);  // the broadcast value: an integer exponent for pow
        for (int a_step = 0; a_step <= 1; ++a_step) {
          for (int b_step = 0; b_step <= 1; ++b_step) {
            INFO(detail::unit_name(unit)
                 << " " << dtype_name<T>() << " binary op " << static_cast<int>(op) << " n=" << n
                 << " a_step=" << a_step << " b_step=" << b_step);
            std::vector<T> want(a.size());
            ref::binary(op, a.data(), a_step, b.data(), b_step, want.data(), n);
            std::vector<T> y(a.size(), T(-7));
            kernels::binary(op, a.data(), a_step, b.data(), b_step, y.data(), n);
            check_close(a, y, want, 0);
            if (a_step == 1) {  // y aliases a
              std::vector<T> ya = a;
              kernels::binary(op, ya.data(), 1, b.data(), b_step, ya.data(), n);
              check_close(a, ya, want, 0);
            }
            if (b_step == 1) {  // y aliases b
              std::vector<T> yb = b;
              kernels::binary(op, a.data(), a_step, yb.data(), 1, yb.data(), n);
              check_close(a, yb, want, 0);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("binary kernels match the scalar reference on every unit, for every step combination",
          "[kernels]") {
  test_binary_all_units<float>();
  test_binary_all_units<double>();
}

template <class T>
void test_axpy_all_units() {
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    for (const std::int64_t n : sizes) {
      INFO(detail::unit_name(unit) << " " << dtype_name<T>() << " axpy n=" << n);
      const std::vector<T> x = make_input<T>(n, -3, 3, 11, false);
      const std::vector<T> y0 = make_input<T>(n, -3, 3, 12, false);
      const T a = T(0.7310585786300049);
      std::vector<T> want = y0;
      ref::axpy(a, x.data(), want.data(), n);
      std::vector<T> y = y0;
      kernels::axpy(a, x.data(), y.data(), n);
      check_close(x, y, want, 0);  // a multiply then an add, never fused: the same bits everywhere
      std::vector<T> xy = x;       // x aliases y: y = a y + y
      std::vector<T> want_alias = x;
      ref::axpy(a, x.data(), want_alias.data(), n);
      kernels::axpy(a, xy.data(), xy.data(), n);
      check_close(x, xy, want_alias, 0);
    }
  }
}

TEST_CASE("axpy matches the reference bitwise on every unit", "[kernels]") {
  test_axpy_all_units<float>();
  test_axpy_all_units<double>();
}

// A reference sum in long double, and sum |x| for the error bound.
template <class T>
std::pair<long double, long double> exact_sum(const std::vector<T>& x) {
  long double s = 0, s_abs = 0;
  for (const T v : x) {
    s += v;
    s_abs += std::fabs(static_cast<long double>(v));
  }
  return {s, s_abs};
}

template <class T>
void test_sum() {
  const std::vector<std::int64_t> sum_sizes = {0,    1,    7,     15,     16,       17,   31,
                                               32,   33,   1000,  1023,   1024,     1025, 2047,
                                               2049, 5000, 65537, 100003, 128 * 784};
  for (const std::int64_t n : sum_sizes) {
    const std::vector<T> x = make_input<T>(n, -1, 1.5, 21, false);
    const T want = ref::sum(x.data(), n);
    // Bitwise the same on every unit, and the same as the reference order.
    for (const Unit unit : detail::supported_units()) {
      UseUnit use(unit);
      const T got = kernels::sum(x.data(), n);
      INFO(detail::unit_name(unit) << " " << dtype_name<T>() << " sum n=" << n << ": got " << got
                                   << ", reference order gives " << want);
      CHECK(std::memcmp(&got, &want, sizeof(T)) == 0);
    }
    // Accurate: blocked + pairwise summation's bound, (sum_block / sum_lanes + log2 n + 5) eps sum
    // |x| (a plain loop's bound is n eps sum |x|).
    const auto [exact, exact_abs] = exact_sum(x);
    const long double eps = std::numeric_limits<T>::epsilon();
    const long double bound =
        (kernels::sum_block / kernels::sum_lanes + std::log2(double(n) + 1) + 5) * eps * exact_abs;
    INFO(dtype_name<T>() << " sum n=" << n << ": got " << want << ", exact " << double(exact));
    CHECK(std::fabs(static_cast<long double>(want) - exact) <= bound);
  }
}

TEST_CASE("sum is accurate and bitwise identical on every unit", "[kernels]") {
  test_sum<float>();
  test_sum<double>();
}

TEST_CASE("float sum of many terms stays accurate", "[kernels]") {
  // 1e6 values near 0.1: a sequential float loop is off by ~1e-3 relative here.
  const std::int64_t n = 1000000;
  std::vector<float> x(n);
  Rng rng{5};
  for (auto& v : x) v = float(0.1 + 0.01 * rng.uniform());
  const auto [exact, exact_abs] = exact_sum(x);
  const float got = kernels::sum(x.data(), n);
  CHECK(std::fabs(static_cast<long double>(got) - exact) <= 1e-6L * exact_abs);
}

template <class T>
void test_sum_special() {
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    INFO(detail::unit_name(unit) << " " << dtype_name<T>());
    CHECK(kernels::sum<T>(nullptr, 0) == T(0));
    std::vector<T> x(100, T(1));
    x[57] = nan<T>;
    CHECK(std::isnan(kernels::sum(x.data(), 100)));
    x[57] = inf<T>;
    CHECK(kernels::sum(x.data(), 100) == inf<T>);
    x[3] = -inf<T>;
    CHECK(std::isnan(kernels::sum(x.data(), 100)));
  }
}

TEST_CASE("sum of special values", "[kernels]") {
  test_sum_special<float>();
  test_sum_special<double>();
}

template <class T>
void test_max_min() {
  std::vector<std::int64_t> mm_sizes = sizes;
  mm_sizes.push_back(100003);
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    for (const std::int64_t n : mm_sizes) {
      INFO(detail::unit_name(unit) << " " << dtype_name<T>() << " max/min n=" << n);
      std::vector<T> x = make_input<T>(n, -50, 50, 31, false);
      CHECK(kernels::max(x.data(), n) == ref::max(x.data(), n));
      CHECK(kernels::min(x.data(), n) == ref::min(x.data(), n));
      // A NaN anywhere (body or tail) makes both NaN.
      for (std::int64_t at : {std::int64_t(0), n / 2, n - 1}) {
        if (n == 0) break;
        std::vector<T> xn = x;
        xn[static_cast<std::size_t>(at)] = nan<T>;
        CHECK(std::isnan(kernels::max(xn.data(), n)));
        CHECK(std::isnan(kernels::min(xn.data(), n)));
      }
      // Infinities are ordinary values.
      if (n > 0) {
        std::vector<T> xi = x;
        xi[static_cast<std::size_t>(n - 1)] = inf<T>;
        xi[0] = n > 1 ? -inf<T> : inf<T>;
        CHECK(kernels::max(xi.data(), n) == inf<T>);
        CHECK(kernels::min(xi.data(), n) == (n > 1 ? -inf<T> : inf<T>));
      }
    }
    CHECK(kernels::max<T>(nullptr, 0) == -inf<T>);
    CHECK(kernels::min<T>(nullptr, 0) == inf<T>);
    const std::vector<T> all_neg_inf(19, -inf<T>);
    CHECK(kernels::max(all_neg_inf.data(), 19) == -inf<T>);
  }
}

TEST_CASE("max and min propagate NaN and match the reference", "[kernels]") {
  test_max_min<float>();
  test_max_min<double>();
}

// One value through the dispatched kernel (on the active unit), placed in the SIMD body of a longer
// run so that the batch code (not only the tail) is what computes it.
template <class T>
T apply(Unary op, T x) {
  std::vector<T> v(37, x);
  kernels::unary(op, v.data(), v.data(), 37);
  REQUIRE(ulp_distance(v[0], v[36]) == 0);  // body and tail agree
  return v[0];
}
template <class T>
T apply(Binary op, T a, T b) {
  std::vector<T> va(37, a), vb(37, b), y(37);
  kernels::binary(op, va.data(), 1, vb.data(), 1, y.data(), 37);
  return y[0];
}

template <class T>
void test_special_values() {
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    INFO(detail::unit_name(unit) << " " << dtype_name<T>());
    // Large |x|: no overflow, no NaN.
    CHECK(apply(Unary::exp, T(1000)) == inf<T>);
    CHECK(apply(Unary::exp, T(-1000)) == T(0));
    CHECK(apply(Unary::exp, -inf<T>) == T(0));
    CHECK(apply(Unary::exp, inf<T>) == inf<T>);
    CHECK(std::isnan(apply(Unary::exp, nan<T>)));
    CHECK(apply(Unary::exp, T(0)) == T(1));
    CHECK(apply(Unary::softplus, T(1000)) == T(1000));
    CHECK(apply(Unary::softplus, T(-1000)) == T(0));
    CHECK(apply(Unary::softplus, inf<T>) == inf<T>);
    CHECK(apply(Unary::softplus, -inf<T>) == T(0));
    CHECK(ulp_distance(apply(Unary::softplus, T(0)), T(std::numbers::ln2)) <= 1);
    CHECK(apply(Unary::log_sigmoid, T(-1000)) == T(-1000));
    CHECK(apply(Unary::log_sigmoid, T(1000)) == T(0));
    CHECK(apply(Unary::log_sigmoid, -inf<T>) == -inf<T>);
    CHECK(apply(Unary::sigmoid, T(-1000)) == T(0));
    CHECK(apply(Unary::sigmoid, T(1000)) == T(1));
    CHECK(apply(Unary::sigmoid, -inf<T>) == T(0));
    CHECK(apply(Unary::sigmoid, inf<T>) == T(1));
    CHECK(apply(Unary::sigmoid, T(0)) == T(0.5));
    CHECK(std::isnan(apply(Unary::sigmoid, nan<T>)));
    CHECK(apply(Unary::tanh, T(1000)) == T(1));
    CHECK(apply(Unary::tanh, T(-1000)) == T(-1));
    CHECK(apply(Unary::tanh, inf<T>) == T(1));
    CHECK(std::isnan(apply(Unary::tanh, nan<T>)));
    // Subnormal results of exp are kept, not flushed.
    const T tiny = sizeof(T) == 4 ? T(-100) : T(-740);
    CHECK(apply(Unary::exp, tiny) > T(0));
    CHECK(ulp_distance(apply(Unary::exp, tiny), std::exp(tiny)) <= 2);
    // The largest finite exp.
    const T top = sizeof(T) == 4 ? T(88.7) : T(709.7);
    CHECK(ulp_distance(apply(Unary::exp, top), std::exp(top)) <= 2);
    CHECK(apply(Unary::exp, top) < inf<T>);
    // expm1 and log1p keep their accuracy near 0.
    CHECK(ulp_distance(apply(Unary::expm1, T(1e-10)), std::expm1(T(1e-10))) <= 1);
    CHECK(ulp_distance(apply(Unary::log1p, T(1e-10)), std::log1p(T(1e-10))) <= 1);
    CHECK(apply(Unary::expm1, -inf<T>) == T(-1));
    CHECK(apply(Unary::log1p, T(-1)) == -inf<T>);
    CHECK(std::isnan(apply(Unary::log1p, T(-2))));
    // log, sqrt, reciprocal at their edges.
    CHECK(apply(Unary::log, T(0)) == -inf<T>);
    CHECK(apply(Unary::log, -T(0)) == -inf<T>);
    CHECK(std::isnan(apply(Unary::log, T(-1))));
    CHECK(apply(Unary::log, inf<T>) == inf<T>);
    CHECK(std::isnan(apply(Unary::sqrt, T(-1))));
    CHECK(std::signbit(apply(Unary::sqrt, -T(0))));
    CHECK(apply(Unary::reciprocal, -T(0)) == -inf<T>);
    // relu, sign, step.
    CHECK(std::isnan(apply(Unary::relu, nan<T>)));
    CHECK(!std::signbit(apply(Unary::relu, -T(0))));
    CHECK(apply(Unary::relu, -inf<T>) == T(0));
    CHECK(std::isnan(apply(Unary::sign, nan<T>)));
    CHECK(apply(Unary::sign, -T(0)) == T(0));
    CHECK(!std::signbit(apply(Unary::sign, -T(0))));
    CHECK(apply(Unary::sign, -inf<T>) == T(-1));
    CHECK(apply(Unary::sign, T(1e-30)) == T(1));
    CHECK(apply(Unary::step, nan<T>) == T(0));
    CHECK(apply(Unary::step, T(0)) == T(0));
    CHECK(apply(Unary::step, T(1e-30)) == T(1));
    // erf.
    CHECK(apply(Unary::erf, inf<T>) == T(1));
    CHECK(apply(Unary::erf, -inf<T>) == T(-1));
    CHECK(std::isnan(apply(Unary::erf, nan<T>)));
    // pow: like std::pow.
    CHECK(apply(Binary::pow, T(-2), T(3)) == T(-8));
    CHECK(apply(Binary::pow, T(-2), T(2)) == T(4));
    CHECK(std::isnan(apply(Binary::pow, T(-2), T(0.5))));
    CHECK(apply(Binary::pow, T(0), T(-1)) == inf<T>);
    CHECK(apply(Binary::pow, nan<T>, T(0)) == T(1));
    // maximum, minimum propagate NaN from either side.
    CHECK(std::isnan(apply(Binary::maximum, nan<T>, T(1))));
    CHECK(std::isnan(apply(Binary::maximum, T(1), nan<T>)));
    CHECK(std::isnan(apply(Binary::minimum, nan<T>, T(1))));
    CHECK(std::isnan(apply(Binary::minimum, T(1), nan<T>)));
    CHECK(apply(Binary::maximum, -inf<T>, T(1)) == T(1));
    // Comparisons with NaN: only ne is true.
    CHECK(apply(Binary::eq, nan<T>, nan<T>) == T(0));
    CHECK(apply(Binary::ne, nan<T>, nan<T>) == T(1));
    CHECK(apply(Binary::lt, nan<T>, T(1)) == T(0));
    CHECK(apply(Binary::ge, nan<T>, T(1)) == T(0));
    CHECK(apply(Binary::eq, T(0), -T(0)) == T(1));
    // mul_or_zero, div_or_zero: a zero first operand wins over inf and NaN (a gradient's zeros).
    CHECK(apply(Binary::mul_or_zero, T(0), inf<T>) == T(0));
    CHECK(apply(Binary::mul_or_zero, -T(0), nan<T>) == T(0));
    CHECK(std::isnan(apply(Binary::mul_or_zero, T(1), nan<T>)));
    CHECK(apply(Binary::mul_or_zero, T(2), -inf<T>) == -inf<T>);
    CHECK(apply(Binary::div_or_zero, T(0), T(0)) == T(0));
    CHECK(apply(Binary::div_or_zero, T(0), nan<T>) == T(0));
    CHECK(apply(Binary::div_or_zero, T(1), T(0)) == inf<T>);
  }
}

TEST_CASE("special values: infinities, NaN, signed zeros, large arguments", "[kernels]") {
  test_special_values<float>();
  test_special_values<double>();
}

// digamma against closed forms (Euler-Mascheroni constant gamma, psi(1/2) = -gamma - 2 ln 2, the
// recurrence, the reflection formula) and PyTorch's choices at the poles.
template <class T>
void test_digamma() {
  constexpr double g = std::numbers::egamma;
  constexpr double pi = std::numbers::pi;
  const struct {
    double x, psi;
  } known[] = {
      {1, -g},
      {2, 1 - g},
      {3, 1.5 - g},
      {0.5, -g - 2 * std::numbers::ln2},
      {0.25, -g - pi / 2 - 3 * std::numbers::ln2},
      {-0.5, -g - 2 * std::numbers::ln2 + 2},  // psi(x) = psi(x + 1) - 1/x
      {10, 2.2517525890667211},                // H_9 - gamma
      {100, 4.600161852738087},                // H_99 - gamma
      {1e6, 13.815510057964191},               // mpmath
      {1.4616321449683623, 0},                 // the positive zero (absolute error)
  };
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    INFO(detail::unit_name(unit) << " " << dtype_name<T>());
    for (const auto& k : known) {
      INFO("digamma(" << k.x << ")");
      const T got = apply(Unary::digamma, T(k.x));
      const double tol = 4 * std::numeric_limits<T>::epsilon() * std::max(1.0, std::fabs(k.psi));
      CHECK(std::fabs(double(got) - k.psi) <= tol);
    }
    CHECK(apply(Unary::digamma, T(0)) == -inf<T>);
    CHECK(apply(Unary::digamma, -T(0)) == inf<T>);
    CHECK(std::isnan(apply(Unary::digamma, T(-1))));
    CHECK(std::isnan(apply(Unary::digamma, T(-7))));
    CHECK(std::isnan(apply(Unary::digamma, -inf<T>)));
    CHECK(std::isnan(apply(Unary::digamma, nan<T>)));
    CHECK(apply(Unary::digamma, inf<T>) == inf<T>);
  }
  // The f32 version is the f64 one rounded once.
  Rng rng{9};
  for (int i = 0; i < 2000; ++i) {
    const float x = float(-30 + 60 * rng.uniform());
    const float want = float(ref::digamma(double(x)));
    const float got = ref::digamma(x);
    INFO("digamma(" << x << ")");
    CHECK(ulp_distance(got, want) == 0);
  }
  // f64 against the same formulas in long double, including next to the poles (where the reflection
  // must reduce x to its distance from the nearest integer). Error bound: 16 eps max(1, |psi|).
  for (int i = 0; i < 4000; ++i) {
    double x = -10 + 30 * rng.uniform();
    if (i % 4 == 0)
      x = std::round(x) + (rng.uniform() - 0.5) * 1e-6;  // near a pole (or near 0..10)
    const long double want = ref::digamma(static_cast<long double>(x));
    const double got = ref::digamma(x);
    INFO("digamma(" << x << ")");
    CHECK(std::fabs(got - want) <=
          16 * std::numeric_limits<double>::epsilon() * std::max(1.0L, std::fabs(want)));
  }
  // Reflection agrees with the recurrence through 0.5: psi(1 - x) - psi(x) = pi cot(pi x).
  for (const double x : {0.1, 0.3, 0.7, 2.3, 5.25, 12.25}) {
    const double lhs = ref::digamma(1 - x) - ref::digamma(x);
    CHECK(lhs == Approx(pi / std::tan(pi * x)).epsilon(1e-13));
  }
}

TEST_CASE("digamma: closed forms, reflection, poles", "[kernels]") {
  test_digamma<float>();
  test_digamma<double>();
}

TEST_CASE("erfinv: special values and the round trip through erf", "[kernels]") {
  for (double y :
       {-0.9999999, -0.7, -0.3, -1e-9, 1e-300, 0.1, 0.5, 0.5000001, 0.9, 0.999999, 1 - 1e-15}) {
    INFO("erfinv(" << y << ")");
    const double x = apply(Unary::erfinv, y);
    // erf(x) = y within rounding of y, and 1 - erf(x) for y near 1 (erfc keeps the digits there;
    // one ulp of x moves erfc(x) by 2 x^2 ulp, 64 ulp at x = 5.6)
    if (y > 0.5) {
      CHECK(std::erfc(x) == Approx(1 - y).epsilon(5e-14));
    } else {
      CHECK(std::erf(x) == Approx(y).epsilon(1e-15));
    }
    // float: computed in double and rounded once
    const float yf = static_cast<float>(y);
    CHECK(apply(Unary::erfinv, yf) == static_cast<float>(apply(Unary::erfinv, double(yf))));
  }
  CHECK(apply(Unary::erfinv, 0.5) == Approx(0.4769362762044699).epsilon(1e-15));  // scipy
  CHECK(apply(Unary::erfinv, 1.0) == inf<double>);
  CHECK(apply(Unary::erfinv, -1.0f) == -inf<float>);
  CHECK(std::signbit(apply(Unary::erfinv, -0.0)));
  CHECK(std::isnan(apply(Unary::erfinv, 1.0000001)));
  CHECK(std::isnan(apply(Unary::erfinv, -2.0f)));
  CHECK(std::isnan(apply(Unary::erfinv, nan<double>)));
}

TEST_CASE("lgamma and erf agree with known values", "[kernels]") {
  for (const Unit unit : detail::supported_units()) {
    UseUnit use(unit);
    INFO(detail::unit_name(unit));
    CHECK(apply(Unary::lgamma, 0.5) == Approx(0.5 * std::log(std::numbers::pi)).epsilon(1e-15));
    CHECK(apply(Unary::lgamma, 1.0) == 0.0);
    CHECK(apply(Unary::lgamma, 10.0f) == Approx(std::log(362880.0)).epsilon(1e-6));
    CHECK(apply(Unary::lgamma, 0.0) == inf<double>);
    CHECK(apply(Unary::erf, 0.5f) == Approx(0.5204998778130465).epsilon(3e-7));
    CHECK(apply(Unary::erf, 0.5) == Approx(0.5204998778130465).epsilon(1e-15));
  }
}

TEST_CASE("dispatch: units, names, selection", "[kernels]") {
  const std::vector<Unit> units = detail::supported_units();
  REQUIRE(!units.empty());
  CHECK(units.back() == Unit::scalar);
  const std::string arch(kernels::simd_arch());
  CHECK((arch == "avx512" || arch == "avx2" || arch == "sse4.2" || arch == "scalar"));
  for (const Unit u : units) {
    UseUnit use(u);
    CHECK(kernels::simd_arch() == detail::unit_name(u));
    CHECK(detail::active_unit() == u);
  }
  for (const Unit u : {Unit::avx512, Unit::avx2, Unit::sse42})
    if (!detail::unit_supported(u)) CHECK_THROWS(detail::select_unit(u));
  // An AVX-512 unit implies the lower ones.
  if (detail::unit_supported(Unit::avx512)) CHECK(detail::unit_supported(Unit::avx2));
  if (detail::unit_supported(Unit::avx2)) CHECK(detail::unit_supported(Unit::sse42));
}

}  // namespace
