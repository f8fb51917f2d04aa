// Scalar reference implementation of every kernel in kernels.hpp: plain std:: loops, one formula
// per op. It defines what each op computes; the SIMD units (kernels_impl.hpp) are tested against
// it, and the dispatcher uses it directly for the ops that are not vectorised (see
// kernels_dispatch.hpp).
//
// Never call these functions from an arch-specific translation unit (*_avx512.cpp, ...): an inline
// function instantiated there is compiled for that unit, and the linker may keep that copy for
// everyone.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <type_traits>

#include "tapegrad/tensor/kernels.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"

namespace tg::kernels::ref {

// digamma(x) = d/dx log Gamma(x). Special values follow PyTorch: digamma(+0) = -inf, digamma(-0) =
// +inf, NaN at the poles x = -1, -2, ..., digamma(+inf) = +inf, digamma(-inf) = NaN. float is
// computed in double and rounded once, so it is correctly rounded nearly everywhere.
template <class T>
T digamma(T x_in) {
  using W = std::conditional_t<std::is_same_v<T, float>, double, T>;
  constexpr W inf = std::numeric_limits<W>::infinity();
  constexpr W pi = std::numbers::pi_v<W>;
  W x = x_in;
  if (std::isnan(x)) return x_in;
  if (x == 0) return T(std::copysign(inf, -x));
  if (x == inf) return T(inf);
  W result = 0;
  if (x < 0) {
    if (x == std::floor(x)) return std::numeric_limits<T>::quiet_NaN();  // a pole (or -inf)
    // Reflection: psi(x) = psi(1 - x) - pi cot(pi x). cot(pi x) has period 1 in x, so use the
    // distance r to the nearest integer (exact, |r| <= 1/2): pi * r keeps its relative accuracy
    // near the poles, where pi * x (or pi * frac(x) near 1) would have lost the digits that matter.
    const W r = x - std::round(x);
    result = -pi / std::tan(pi * r);
    x = 1 - x;
  }
  // Recurrence psi(x) = psi(x + 1) - 1/x until the asymptotic series is accurate.
  while (x < 10) {
    result -= 1 / x;
    x += 1;
  }
  // psi(x) ~ ln x - 1/(2x) - sum_k B_2k / (2k x^2k)
  //        = ln x - 1/(2x) - z/12 + z^2/120 - z^3/252 + z^4/240 - z^5/132 + 691 z^6/32760 - z^7/12,
  // z = 1/x^2; at x >= 10 the first omitted term is below 1e-17 relative.
  const W z = 1 / (x * x);
  const W series =
      z *
      (W(1) / 12 - z * (W(1) / 120 -
                        z * (W(1) / 252 -
                             z * (W(1) / 240 - z * (W(1) / 132 - z * (W(691) / 32760 - z / 12))))));
  return T(result + std::log(x) - W(0.5) / x - series);
}

// erfinv(y): the x with erf(x) = y. A first guess from Giles' single-precision approximation
// ("Approximating the erfinv function", GPU Computing Gems, 2011; relative error < 4e-7 in float's
// range), then Newton steps: two on erf(x) = y for |y| <= 1/2, and on log erfc(x) = log(1 - y)
// above (1 - y is exact there, so the residual keeps its digits near +-1) until the step is below
// rounding. Odd: erfinv(-y) = -erfinv(y). erfinv(+-1) = +-inf, NaN
// outside [-1, 1] (PyTorch's choices). float is computed in double and rounded once.
template <class T>
T erfinv(T y_in) {
  using W = std::conditional_t<std::is_same_v<T, float>, double, T>;
  const W y = std::abs(W(y_in));
  if (std::isnan(y) || y > 1) return std::numeric_limits<T>::quiet_NaN();
  if (y == 1) return std::copysign(std::numeric_limits<T>::infinity(), y_in);
  if (y == 0) return y_in;  // keeps the sign of -0
  W w = -std::log((W(1) - y) * (W(1) + y)), p;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-08;
    for (W c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                -0.00417768164, 0.246640727, 1.50140941})
      p = c + p * w;
  } else {
    w = std::sqrt(w) - 3;
    p = -0.000200214257;
    for (W c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                0.00943887047, 1.00167406, 2.83297682})
      p = c + p * w;
  }
  W x = p * y;
  const W two_over_sqrt_pi = W(2) / std::sqrt(std::numbers::pi_v<W>);
  if (y <= W(0.5)) {
    for (int step = 0; step < 2; ++step)
      x -= (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  } else {
    // Newton on log erfc(x) = log(1 - y), nearly linear in the tail, where the guess is poorer
    // (Giles' polynomial is fitted for float's range, 1 - y >= 2^-24)
    const W log_t = std::log(W(1) - y);
    for (int step = 0; step < 8; ++step) {
      const W c = std::erfc(x);
      const W dx = (std::log(c) - log_t) * c / (two_over_sqrt_pi * std::exp(-x * x));
      x += dx;
      if (std::abs(dx) <= W(1e-17) * x) break;
    }
  }
  return T(std::copysign(x, W(y_in)));
}

// The formulas of elementwise.hpp's reference column that need more than an expression.

// sigmoid(x) = 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) for x < 0: exp never overflows.
template <class T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
// relu(x) = max(x, 0); NaN stays NaN (like PyTorch), -0 gives +0.
template <class T>
T relu(T x) {
  return x <= 0 ? T(0) : x;
}
// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, no cancellation.
template <class T>
T softplus(T x) {
  return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::abs(x)));
}
// log_sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|).
template <class T>
T log_sigmoid(T x) {
  return (x < 0 ? x : T(0)) - std::log1p(std::exp(-std::abs(x)));
}
// sign: -1, +1, 0 for +-0 (always +0), NaN for NaN. (step, 1 if x > 0 else 0 and 0 for NaN, is
// relu's derivative.)
template <class T>
T sign(T x) {
  return std::isnan(x) ? x : T(x > 0) - T(x < 0);
}
// maximum/minimum propagate NaN (like torch.maximum); between equal values (+0, -0) b wins. pow is
// std::pow: exact sign for a negative base with an integer exponent, NaN for a non-integer one.
template <class T>
T maximum(T a, T b) {
  return std::isnan(a) || std::isnan(b) ? a + b : (a > b ? a : b);
}
template <class T>
T minimum(T a, T b) {
  return std::isnan(a) || std::isnan(b) ? a + b : (a < b ? a : b);
}

template <class T>
T unary(Unary op, T x) {
  switch (op) {
#define TG_REF(name, ref, ...) \
  case Unary::name:            \
    return ref;
    TG_UNARY_OPS(TG_REF)
#undef TG_REF
  }
  return x;
}

template <class T>
T binary(Binary op, T a, T b) {
  switch (op) {
#define TG_REF(name, ref, ...) \
  case Binary::name:           \
    return ref;
    TG_BINARY_OPS(TG_REF)
#undef TG_REF
  }
  return a;
}

template <class T>
void unary(Unary op, const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = unary(op, x[i]);
}

template <class T>
void binary(Binary op, const T* a, int a_step, const T* b, int b_step, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = binary(op, a[i * a_step], b[i * b_step]);
}

// y = a x + y, a multiply then an add (never fused), so that every unit gives the same bits.
template <class T>
void axpy(T a, const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T ax = a * x[i];
    y[i] = ax + y[i];
  }
}

// The fixed-order sum, which every SIMD unit reproduces bit for bit.
// One block (n <= sum_block): sum_lanes accumulators; element i goes to lane i % sum_lanes, in
// order; then the lanes are added as a tree: lane[j] += lane[j + w] for w = sum_lanes/2, ..., 1.
template <class T>
T sum_one_block(const T* x, std::int64_t n) {
  T lane[sum_lanes] = {};
  for (std::int64_t i = 0; i < n; ++i) lane[i % sum_lanes] += x[i];
  for (int w = sum_lanes / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) lane[j] += lane[j + w];
  return lane[0];
}

// Longer runs: split at the middle block boundary, recurse, add the halves (pairwise summation).
// The rounding error is about (sum_block / sum_lanes + log2(n)) ulps times sum |x|, not n ulps.
template <class T>
T sum(const T* x, std::int64_t n) {
  if (n <= sum_block) return sum_one_block(x, n);
  const std::int64_t blocks = (n + sum_block - 1) / sum_block;
  const std::int64_t half = blocks / 2 * sum_block;
  return sum(x, half) + sum(x + half, n - half);
}

template <class T>
T max(const T* x, std::int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) return x[i];
    if (x[i] > m) m = x[i];
  }
  return m;
}

template <class T>
T min(const T* x, std::int64_t n) {
  T m = std::numeric_limits<T>::infinity();
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) return x[i];
    if (x[i] < m) m = x[i];
  }
  return m;
}

}  // namespace tg::kernels::ref
