// The SIMD kernels, written once as templates on the xsimd architecture and instantiated by one
// translation unit per unit (kernels_avx512.cpp, kernels_avx2.cpp, kernels_sse42.cpp), each
// compiled with that unit's flags. kernels.cpp picks one at run time.
//
// ODR hazard: an inline function or template instantiated in an arch TU is compiled with that TU's
// flags, and the linker keeps one copy of it for the whole program, possibly for code that runs on
// a CPU without the unit. So everything here lives in an anonymous namespace (one private copy per
// TU), every xsimd call is on batch<T, Arch>, and no std:: inline function is called at run time
// (std::memcpy is a builtin; constants are constant-evaluated). Do not include or call
// kernels_ref.hpp from here. The tail of each loop goes through the same batch code on a
// zero-padded copy, so no scalar math (and no libm call) is needed in an arch TU. With optimisation
// on, everything inlines and the arch objects define no weak symbol at all (check: nm -C
// kernels_avx2.cpp.o | grep ' W '). At -O0, xsimd's own helpers
// (xsimd::constants::infinity<float>(), ...) are emitted out of line with the unit's flags: a Debug
// build is only safe on a CPU that has every unit (docs/kernels.md).
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "tapegrad/tensor/kernels_dispatch.hpp"

namespace tg::kernels::detail {
namespace {

// Hides a value from the optimiser. GCC contracts a * x + y into an FMA on units that have one
// (even across statements, even for intrinsics), which would make axpy's result depend on the unit.
template <class B>
inline B opaque(B v) {
#if defined(__GNUC__)
  auto r = static_cast<typename B::register_type>(v);
  asm("" : "+v"(r));
  return B(r);
#else
  return v;
#endif
}

template <class T, class Arch>
struct Simd {
  using B = xsimd::batch<T, Arch>;
  static constexpr std::int64_t width = B::size;
  static constexpr T inf = std::numeric_limits<T>::infinity();
  static constexpr T nan = std::numeric_limits<T>::quiet_NaN();

  static B from_mask(typename B::batch_bool_type m) { return xsimd::select(m, B(T(1)), B(T(0))); }

  // e^x over the whole range. xsimd's exp is accurate (< 1 ulp) where e^x is a normal number, but
  // it returns 0 for every subnormal result and overflows a little early (f32 at 88.38 instead
  // of 88.72, f64 near 709.4). Outside a safe middle range, use e^x = e^(x + s) * e^-s with s =
  // +-shift: x + s is exact there (x and x + s share a binade, or x + s's is finer), and the
  // product is the only extra rounding (< 1 ulp more; in the subnormal range it rounds to the
  // nearest subnormal).
  static B exp(B x) {
    constexpr T shift = sizeof(T) == 4 ? T(32) : T(64);
    constexpr T low = sizeof(T) == 4 ? T(-87) : T(-708);
    constexpr T high = sizeof(T) == 4 ? T(88) : T(709);
    const auto lo = x < B(low);
    const auto hi = x > B(high);
    const B s = xsimd::select(lo, B(shift), xsimd::select(hi, B(-shift), B(T(0))));
    // e^-32, e^32 (f32) and e^-64, e^64 (f64), correctly rounded.
    constexpr T down = sizeof(T) == 4 ? T(1.2664165549094176e-14) : T(1.6038108905486379e-28);
    constexpr T up = sizeof(T) == 4 ? T(78962960182680.695) : T(6.2351490808116169e+27);
    const B scale = xsimd::select(lo, B(down), xsimd::select(hi, B(up), B(T(1))));
    return xsimd::exp(x + s) * scale;
  }

  // e^x - 1: xsimd's expm1 (< 2 ulp), except where e^x - 1 rounds to e^x anyway (x > 30 in f32, 60
  // in f64), which keeps its early overflow out of the way.
  static B expm1(B x) {
    constexpr T big = sizeof(T) == 4 ? T(30) : T(60);
    const auto large = x > B(big);
    return xsimd::select(large, exp(x), xsimd::expm1(xsimd::select(large, B(T(0)), x)));
  }

  // log(1 + e^-|x|), shared by softplus and log_sigmoid.
  static B log1p_exp_neg_abs(B x) { return xsimd::log1p(exp(-xsimd::abs(x))); }

  // The formulas of elementwise.hpp's simd column that need more than an expression.
  // sigmoid: e = e^-|x|; 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (and NaN for NaN).
  static B sigmoid(B x) {
    const B e = exp(-xsimd::abs(x));
    return xsimd::select(x >= B(T(0)), B(T(1)), e) / (B(T(1)) + e);
  }
  static B relu(B x) { return xsimd::select(x <= B(T(0)), B(T(0)), x); }  // keeps NaN
  static B softplus(B x) { return xsimd::select(x > B(T(0)), x, B(T(0))) + log1p_exp_neg_abs(x); }
  static B log_sigmoid(B x) {
    return xsimd::select(x < B(T(0)), x, B(T(0))) - log1p_exp_neg_abs(x);
  }
  static B sign(B x) {
    return xsimd::select(xsimd::isnan(x), x, from_mask(x > B(T(0))) - from_mask(x < B(T(0))));
  }
  static B maximum(B a, B b) {
    return xsimd::select(xsimd::isnan(a) | xsimd::isnan(b), a + b, xsimd::select(a > b, a, b));
  }
  static B minimum(B a, B b) {
    return xsimd::select(xsimd::isnan(a) | xsimd::isnan(b), a + b, xsimd::select(a < b, a, b));
  }

  // One op's formula, from the table; only vectorised ops are ever instantiated with a real body.
  template <Unary op>
  static B unary(B x) {
#define TG_SIMD(name, ref, simd, ...) \
  if constexpr (op == Unary::name)    \
    return simd;                      \
  else
    TG_UNARY_OPS(TG_SIMD)
#undef TG_SIMD
    static_assert(op == Unary::neg, "unknown op");
  }

  template <Binary op>
  static B binary(B a, B b) {
#define TG_SIMD(name, ref, simd, ...) \
  if constexpr (op == Binary::name)   \
    return simd;                      \
  else
    TG_BINARY_OPS(TG_SIMD)
#undef TG_SIMD
    static_assert(op == Binary::add, "unknown op");
  }

  // The tail (n < width elements) goes through the batch code on a zero-padded copy.
  static B load_tail(const T* p, std::int64_t n) {
    alignas(64) T buf[width] = {};
    std::memcpy(buf, p, static_cast<std::size_t>(n) * sizeof(T));
    return B::load_aligned(buf);
  }
  static void store_tail(B v, T* p, std::int64_t n) {
    alignas(64) T buf[width];
    v.store_aligned(buf);
    std::memcpy(p, buf, static_cast<std::size_t>(n) * sizeof(T));
  }

  template <Unary op>
  static void unary_loop(const T* x, T* y, std::int64_t n) {
    std::int64_t i = 0;
    for (; i + width <= n; i += width) unary<op>(B::load_unaligned(x + i)).store_unaligned(y + i);
    if (i < n) store_tail(unary<op>(load_tail(x + i, n - i)), y + i, n - i);
  }

  // A step-0 operand is one value broadcast to a batch; a step-1 operand is loaded.
  template <Binary op, bool a_strided, bool b_strided>
  static void binary_loop(const T* a, const T* b, T* y, std::int64_t n) {
    const B a0(a[0]);
    const B b0(b[0]);
    std::int64_t i = 0;
    for (; i + width <= n; i += width) {
      const B va = a_strided ? B::load_unaligned(a + i) : a0;
      const B vb = b_strided ? B::load_unaligned(b + i) : b0;
      binary<op>(va, vb).store_unaligned(y + i);
    }
    if (i < n) {
      const B va = a_strided ? load_tail(a + i, n - i) : a0;
      const B vb = b_strided ? load_tail(b + i, n - i) : b0;
      store_tail(binary<op>(va, vb), y + i, n - i);
    }
  }

  template <Binary op>
  static void binary_steps(const T* a, int a_step, const T* b, int b_step, T* y, std::int64_t n) {
    if (n <= 0) return;
    if (a_step && b_step)
      binary_loop<op, true, true>(a, b, y, n);
    else if (a_step)
      binary_loop<op, true, false>(a, b, y, n);
    else if (b_step)
      binary_loop<op, false, true>(a, b, y, n);
    else
      binary_loop<op, false, false>(a, b, y, n);
  }

  static void axpy(T a, const T* x, T* y, std::int64_t n) {
    const B va(a);
    std::int64_t i = 0;
    for (; i + width <= n; i += width)
      (opaque(va * B::load_unaligned(x + i)) + B::load_unaligned(y + i)).store_unaligned(y + i);
    if (i < n)
      store_tail(opaque(va * load_tail(x + i, n - i)) + load_tail(y + i, n - i), y + i, n - i);
  }

  // One block of the fixed-order sum (ref::sum_one_block): element i goes to lane i % sum_lanes, so
  // accumulator k of the sum_lanes / width batches holds lanes [k * width, (k + 1) * width).
  // Not inlined: one copy of the loop, whose accumulators GCC keeps in registers.
  [[gnu::noinline]] static T sum_one_block(const T* x, std::int64_t n) {
    static_assert(sum_lanes % width == 0, "sum_lanes must be a multiple of every SIMD width");
    constexpr int batches = sum_lanes / width;
    // The k loops are unrolled by hand (pragma): otherwise -O2 keeps acc[] in memory and every add
    // waits for the previous store (5x slower).
    B acc[batches];
#pragma GCC unroll 16
    for (int k = 0; k < batches; ++k) acc[k] = B(T(0));
    const std::int64_t rows = n / sum_lanes;
    for (std::int64_t r = 0; r < rows; ++r) {
#pragma GCC unroll 16
      for (int k = 0; k < batches; ++k) acc[k] += B::load_unaligned(x + r * sum_lanes + k * width);
    }
    // The last partial row, zero-padded: adding +0 to a lane the reference does not touch leaves it
    // unchanged (a lane starts at +0 and a sum of values is never -0, so no -0 + 0 = +0 surprise).
    if (const std::int64_t rest = n - rows * sum_lanes; rest > 0) {
      alignas(64) T row[sum_lanes] = {};
      std::memcpy(row, x + rows * sum_lanes, static_cast<std::size_t>(rest) * sizeof(T));
#pragma GCC unroll 16
      for (int k = 0; k < batches; ++k) acc[k] += B::load_aligned(row + k * width);
    }
    // The tree, lane[j] += lane[j + w] for w = sum_lanes / 2, ..., 1. While w >= width, lane j + w
    // sits in the same position of batch k + w / width: whole batches add. The last steps are
    // within one batch: done on a stored copy, fully unrolled.
    tree_of_batches<sum_lanes / 2>(acc);
    alignas(64) T lane[width];
    acc[0].store_aligned(lane);
    tree_in_batch<width / 2>(lane);
    return lane[0];
  }
  template <int w>
  static void tree_of_batches(B* acc) {
    if constexpr (w >= width) {
      constexpr int step = w / width;
#pragma GCC unroll 16
      for (int k = 0; k < step; ++k) acc[k] += acc[k + step];
      tree_of_batches<w / 2>(acc);
    }
  }
  template <int w>
  static void tree_in_batch(T* lane) {
    if constexpr (w >= 1) {
      for (int j = 0; j < w; ++j) lane[j] += lane[j + w];
      tree_in_batch<w / 2>(lane);
    }
  }

  static T sum(const T* x, std::int64_t n) {
    if (n <= sum_block) return sum_one_block(x, n);
    const std::int64_t blocks = (n + sum_block - 1) / sum_block;
    const std::int64_t half = blocks / 2 * sum_block;
    return sum(x, half) + sum(x + half, n - half);
  }

  // Largest (want_max) or smallest element; NaN if any element is NaN. The order does not matter
  // here.
  template <bool want_max>
  static T extremum(const T* x, std::int64_t n) {
    B m(want_max ? -inf : inf);
    auto has_nan = B(T(0)) != B(T(0));  // all false
    std::int64_t i = 0;
    for (; i + width <= n; i += width) {
      const B v = B::load_unaligned(x + i);
      has_nan = has_nan | xsimd::isnan(v);
      m = xsimd::select(want_max ? v > m : v < m, v, m);
    }
    if (i < n) {
      // Pad with copies of an element that is already in the run: neutral for max and min.
      alignas(64) T buf[width];
      for (std::int64_t k = 0; k < width; ++k) buf[k] = x[i];
      std::memcpy(buf, x + i, static_cast<std::size_t>(n - i) * sizeof(T));
      const B v = B::load_aligned(buf);
      has_nan = has_nan | xsimd::isnan(v);
      m = xsimd::select(want_max ? v > m : v < m, v, m);
    }
    if (xsimd::any(has_nan)) return nan;
    alignas(64) T lane[width];
    m.store_aligned(lane);
    T r = lane[0];
    for (std::int64_t k = 1; k < width; ++k)
      if (want_max ? lane[k] > r : lane[k] < r) r = lane[k];
    return r;
  }
  static T max(const T* x, std::int64_t n) { return extremum<true>(x, n); }
  static T min(const T* x, std::int64_t n) { return extremum<false>(x, n); }

  // Entry points: an op known at run time to the template that handles it. Only ops for which
  // vectorised<T>(op) is true reach here (kernels.cpp runs the others with the scalar reference).
  static void unary_any(Unary op, const T* x, T* y, std::int64_t n) {
    switch (op) {
#define TG_CASE(name, ...)                                                      \
  case Unary::name:                                                             \
    if constexpr (vectorised<T>(Unary::name)) unary_loop<Unary::name>(x, y, n); \
    return;
      TG_UNARY_OPS(TG_CASE)
#undef TG_CASE
    }
  }
  static void binary_any(Binary op, const T* a, int a_step, const T* b, int b_step, T* y,
                         std::int64_t n) {
    switch (op) {
#define TG_CASE(name, ...)                                    \
  case Binary::name:                                          \
    if constexpr (vectorised<T>(Binary::name))                \
      binary_steps<Binary::name>(a, a_step, b, b_step, y, n); \
    return;
      TG_BINARY_OPS(TG_CASE)
#undef TG_CASE
    }
  }

  static constexpr UnitKernels<T> table() {
    return {&unary_any, &binary_any, &Simd::axpy, &Simd::sum, &Simd::max, &Simd::min};
  }
};

template <class Arch>
constexpr UnitTable make_table() {
  return {Simd<float, Arch>::table(), Simd<double, Arch>::table()};
}

}  // namespace
}  // namespace tg::kernels::detail
