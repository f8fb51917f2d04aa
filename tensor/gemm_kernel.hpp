// Private to the GEMM: the interface between the baseline driver (gemm.cpp) and the per-SIMD-unit
// translation units (gemm_avx512.cpp, gemm_avx2.cpp, gemm_sse42.cpp), plus, for those units only
// (TG_GEMM_ARCH_TU defined), the packing routines and the register-tiled micro-kernel.
//
// ODR: everything compiled with wider-than-baseline flags lives in an anonymous namespace and is
// reached only through the function pointers of a `Unit`, so the linker can never hand an AVX-512
// copy of some inline function to baseline code. The arch part avoids the standard library for that
// reason (only <cstdint>/<cstddef> and xsimd, whose templates are keyed on the architecture).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tg::gemm_detail {

// One SIMD unit's GEMM building blocks for element type T.
//   C (m x n) is computed in micro-tiles of mr x nr; nr is a multiple of the vector width w.
//   Packed B: kc x nc is stored as panels of nr columns, k-major inside a panel (element (k, j) of
//   a panel of width p at [k * p + j]); the last panel is only rounded up to a multiple of w and
//   padded with zeros. A is never packed: the kernel broadcasts its elements straight from op(A).
template <class T>
struct Unit {
  const char* name;
  int mr, nr, w;
  std::int64_t kc, nc;  // cache blocking: kc x nc of packed B is sized to stay in L2
  // b points at op(B)[k0][j0]; op(B)[k][j] is b[k * ldb + j], or b[j * ldb + k] when trans_b.
  void (*pack_b)(bool trans_b, const T* b, std::int64_t ldb, std::int64_t kc, std::int64_t nc,
                 T* dst);
  // C[0:m, 0:n] = alpha * op(A)[0:m, 0:kc] * Bp + beta * C; beta == 0 does not read C.
  // a points at op(A)[i0][k0]; op(A)[i][k] is a[i * lda + k], or a[k * lda + i] when trans_a.
  void (*macro)(bool trans_a, std::int64_t m, std::int64_t n, std::int64_t kc, T alpha, const T* a,
                std::int64_t lda, const T* bp, T beta, T* c, std::int64_t ldc);
};

extern const Unit<float> unit_avx512_f32, unit_avx2_f32, unit_sse42_f32;
extern const Unit<double> unit_avx512_f64, unit_avx2_f64, unit_sse42_f64;

// Which unit gemm() uses. By default the best the CPU supports; TG_SIMD=avx512|avx2|sse4.2|scalar
// may ask for a lower one. select_unit() is the hook the tests use to cover every unit in one
// process: it returns false (and changes nothing) if the CPU lacks the unit. Not to be called
// during a gemm().
bool select_unit(const char* name);
const char* unit_name();

}  // namespace tg::gemm_detail

#ifdef TG_GEMM_ARCH_TU
#include <utility>  // std::integer_sequence (a type only)
#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#define TG_GEMM_ARCH xsimd::avx512f
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TG_GEMM_ARCH xsimd::fma3<xsimd::avx2>
#elif defined(__SSE4_2__)
#include <immintrin.h>
#define TG_GEMM_ARCH xsimd::sse4_2
#else
#error "gemm_kernel.hpp: an arch TU must be compiled with -mavx512f, -mavx2 -mfma or -msse4.2"
#endif

namespace tg::gemm_detail {
namespace {

using Arch = TG_GEMM_ARCH;
template <class T>
using Vec = xsimd::batch<T, Arch>;
using i64 = std::int64_t;

constexpr i64 min_i64(i64 a, i64 b) { return a < b ? a : b; }

// Micro-tile shape per unit and type. The accumulators take MR * NV vector registers:
//   AVX-512: 32 zmm -> 12 x 2 = 24 accumulators + 2 for B + 1 broadcast (no spills, checked).
//   AVX2:    16 ymm -> 6 x 2 = 12 accumulators + 2 for B + 1 broadcast (the classic 6x16).
//   SSE4.2:  16 xmm, no FMA, so a*b needs a temporary: 4 x 2 = 8 accumulators.
// Why rows x 2 vectors rather than fewer rows and wider tiles: the VAE's N (20, 400, 784) leave
// small remainders modulo 2 vectors, and the rows of C cost nothing at an M edge (only as many are
// computed).
#if defined(__AVX512F__)
constexpr int kMR = 12, kNV = 2;
#elif defined(__AVX2__)
constexpr int kMR = 6, kNV = 2;
#else
constexpr int kMR = 4, kNV = 2;
#endif

// d = a * b + c, fused where the unit has FMA. The scalar tails use the same formula through a
// one-vector temporary, so an element's rounding never depends on where it falls in a tile.
template <class T>
inline Vec<T> madd(Vec<T> a, Vec<T> b, Vec<T> c) {
#if defined(__AVX512F__)
  // xsimd 8's avx512f has no fma kernel (it falls back to a*b+c, unfused under -ffp-contract=off).
  if constexpr (sizeof(T) == 4)
    return Vec<T>(_mm512_fmadd_ps(a, b, c));
  else
    return Vec<T>(_mm512_fmadd_pd(a, b, c));
#elif defined(__AVX2__)
  return xsimd::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// In-register transpose of W x W (W = vector width): r[i][j] -> r[j][i].
#if defined(__AVX512F__)
// GCC 12's AVX-512 shuffle intrinsics pass _mm512_undefined_*() (a self-initialized variable) as
// the masked-off source, which -Wmaybe-uninitialized reports once inlined (GCC PR 105593, fixed in
// 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline void transpose(Vec<float>* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {  // interleave pairs of rows: 2x2 blocks of scalars
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // 4x4 blocks of scalars within each 128-bit lane
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {  // then the 4x4 grid of 128-bit lanes
    t[i] = _mm512_shuffle_f32x4(u[i], u[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(u[i], u[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(u[i + 8], u[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(u[i + 8], u[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = Vec<float>(_mm512_shuffle_f32x4(t[i], t[i + 8], 0x88));
    r[i + 8] = Vec<float>(_mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD));
    r[i + 4] = Vec<float>(_mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88));
    r[i + 12] = Vec<float>(_mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD));
  }
}
inline void transpose(Vec<double>* r) {
  __m512d t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // 128-bit lanes, 4x4 grid of 2x2 blocks
    u[i] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0x88);
    u[i + 2] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0xDD);
    u[i + 1] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0x88);
    u[i + 3] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = Vec<double>(_mm512_shuffle_f64x2(u[i], u[i + 4], 0x88));
    r[i + 4] = Vec<double>(_mm512_shuffle_f64x2(u[i], u[i + 4], 0xDD));
  }
}
#pragma GCC diagnostic pop
#elif defined(__AVX2__)
inline void transpose(Vec<float>* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = Vec<float>(_mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    r[i + 4] = Vec<float>(_mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}
inline void transpose(Vec<double>* r) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = Vec<double>(_mm256_permute2f128_pd(t0, t2, 0x20));
  r[1] = Vec<double>(_mm256_permute2f128_pd(t1, t3, 0x20));
  r[2] = Vec<double>(_mm256_permute2f128_pd(t0, t2, 0x31));
  r[3] = Vec<double>(_mm256_permute2f128_pd(t1, t3, 0x31));
}
#else
inline void transpose(Vec<float>* r) {
  __m128 a = r[0], b = r[1], c = r[2], d = r[3];
  _MM_TRANSPOSE4_PS(a, b, c, d);
  r[0] = Vec<float>(a);
  r[1] = Vec<float>(b);
  r[2] = Vec<float>(c);
  r[3] = Vec<float>(d);
}
inline void transpose(Vec<double>* r) {
  const __m128d a = r[0], b = r[1];
  r[0] = Vec<double>(_mm_unpacklo_pd(a, b));
  r[1] = Vec<double>(_mm_unpackhi_pd(a, b));
}
#endif

// Packs op(B)[0:kc, 0:nc] into panels (see Unit). Non-transposed B is copied row by row; transposed
// B (stored N x K) is transposed W x W blocks at a time in registers.
template <class T>
void pack_b(bool trans_b, const T* b, i64 ldb, i64 kc, i64 nc, T* dst) {
  constexpr int W = Vec<T>::size, NR = kNV * W;
  for (i64 j0 = 0; j0 < nc; j0 += NR) {
    const i64 n = min_i64(NR, nc - j0);
    const i64 p = (n + W - 1) / W * W;  // panel width
    T* d = dst + j0 * kc;
    if (!trans_b) {
      const T* s = b + j0;
      for (i64 k = 0; k < kc; ++k, s += ldb, d += p) {
        i64 j = 0;
        for (; j + W <= n; j += W) Vec<T>::load_unaligned(s + j).store_aligned(d + j);
        for (; j < n; ++j) d[j] = s[j];
        for (; j < p; ++j) d[j] = T(0);
      }
      continue;
    }
    // op(B)[k][j0 + j] = b[(j0 + j) * ldb + k]: W columns x W k's per transpose.
    for (i64 jj = 0; jj < p; jj += W) {
      const i64 rows = min_i64(W, n - jj);
      const T* s = b + (j0 + jj) * ldb;
      i64 k = 0;
      for (; k + W <= kc; k += W) {
        Vec<T> r[W];
        for (int t = 0; t < W; ++t)
          r[t] = t < rows ? Vec<T>::load_unaligned(s + t * ldb + k) : Vec<T>(T(0));
        transpose(r);
        for (int t = 0; t < W; ++t) r[t].store_aligned(d + (k + t) * p + jj);
      }
      for (; k < kc; ++k)
        for (i64 t = 0; t < W; ++t) d[k * p + jj + t] = t < rows ? s[t * ldb + k] : T(0);
    }
  }
}

// C[r][v*W + l] = alpha * acc + beta * C (beta == 0: C is not read). Full vectors go straight to C;
// a partial last vector goes through a temporary with the same arithmetic.
template <class T>
inline void store_vec(Vec<T> acc, T alpha, T beta, T* c, int valid) {
  constexpr int W = Vec<T>::size;
  Vec<T> res = alpha == T(1) ? acc : Vec<T>(alpha) * acc;  // 1 * acc == acc exactly
  if (valid == W) {
    if (beta != T(0)) res = madd(Vec<T>(beta), Vec<T>::load_unaligned(c), res);
    res.store_unaligned(c);
    return;
  }
  alignas(64) T tmp[W] = {};
  if (beta != T(0)) {
    for (int l = 0; l < valid; ++l) tmp[l] = c[l];
    res = madd(Vec<T>(beta), Vec<T>::load_aligned(tmp), res);
  }
  res.store_aligned(tmp);
  for (int l = 0; l < valid; ++l) c[l] = tmp[l];
}

// The micro-kernel: an R x (NV*W) tile of C from kc steps of rank-1 updates.
//   acc[r][v] += broadcast(op(A)[r][k]) * Bp[k][v*W : v*W+W]
// Each element is one chain of FMAs in k order, so its value does not depend on R, NV or the
// tiling.
template <class T, int R, int NV, bool kTransA>
[[gnu::always_inline]] inline void tile(i64 kc, const T* a, i64 lda, const T* bp, int n, T alpha,
                                        T beta, T* c, i64 ldc) {
  constexpr int W = Vec<T>::size, P = NV * W;
  // The loops over r and v are unrolled completely so that acc[][] becomes R * NV named registers.
  Vec<T> acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[r][v] = Vec<T>(T(0));
  if constexpr (kTransA) {
    // op(A)[r][k] = a[k * lda + r]: one pointer walking down the rows of the stored A.
    const T* ak = a;
#pragma GCC unroll 2
    for (i64 k = 0; k < kc; ++k, ak += lda, bp += P) {
      Vec<T> bv[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) bv[v] = Vec<T>::load_aligned(bp + v * W);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Vec<T> av(ak[r]);
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[r][v] = madd(av, bv[v], acc[r][v]);
      }
    }
  } else {
    // op(A)[r][k] = a[r * lda + k]: rows in groups of three, addressed as base + {0,1,2} * lda so
    // the compiler needs ceil(R/3) pointers and one stride register instead of R pointers.
    constexpr int G = (R + 2) / 3;
    const T* ag[G];
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g) ag[g] = a + 3 * g * lda;
#pragma GCC unroll 2
    for (i64 k = 0; k < kc; ++k, bp += P) {
      Vec<T> bv[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) bv[v] = Vec<T>::load_aligned(bp + v * W);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const Vec<T> av(ag[r / 3][(r % 3) * lda + k]);
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[r][v] = madd(av, bv[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const int valid = n - v * W < W ? n - v * W : W;
      store_vec(acc[r][v], alpha, beta, c + r * ldc + v * W, valid);
    }
}

// One row of micro-tiles: R rows of C across all n columns of the packed B, full panels first, then
// an edge panel of one or two vectors. The tiles are inlined here, so the call and the set-up are
// paid once per row of tiles rather than once per tile: 5 % faster at K = 20 on AVX2. (Calling the
// edge tile out of line instead measured 6 % slower at N = 20, where it is the only tile.)
template <class T, int R, bool kTransA>
void row_sweep(i64 kc, const T* a, i64 lda, const T* bp, i64 n, T alpha, T beta, T* c, i64 ldc) {
  static_assert(kNV == 2, "the edge below spells out nv = 1 and nv = 2");
  constexpr int W = Vec<T>::size, NR = kNV * W;
  i64 j0 = 0;
  for (; j0 + NR <= n; j0 += NR)
    tile<T, R, kNV, kTransA>(kc, a, lda, bp + j0 * kc, NR, alpha, beta, c + j0, ldc);
  const int cols = static_cast<int>(n - j0);
  if (cols > W)
    tile<T, R, 2, kTransA>(kc, a, lda, bp + j0 * kc, cols, alpha, beta, c + j0, ldc);
  else if (cols > 0)
    tile<T, R, 1, kTransA>(kc, a, lda, bp + j0 * kc, cols, alpha, beta, c + j0, ldc);
}

template <class T, bool kTransA>
using SweepFn = void (*)(i64, const T*, i64, const T*, i64, T, T, T*, i64);

// sweeps[r - 1] = row_sweep<T, r>: every row count, for the M edge.
template <class T, bool kTransA, int... Rs>
constexpr auto make_sweeps(std::integer_sequence<int, Rs...>) {
  struct Table {
    SweepFn<T, kTransA> f[sizeof...(Rs)];
  };
  return Table{{&row_sweep<T, Rs + 1, kTransA>...}};
}

template <class T, bool kTransA>
void macro_impl(i64 m, i64 n, i64 kc, T alpha, const T* a, i64 lda, const T* bp, T beta, T* c,
                i64 ldc) {
  static constexpr auto sweeps = make_sweeps<T, kTransA>(std::make_integer_sequence<int, kMR>{});
  for (i64 i0 = 0; i0 < m; i0 += kMR) {
    const int rows = static_cast<int>(min_i64(kMR, m - i0));
    sweeps.f[rows - 1](kc, kTransA ? a + i0 : a + i0 * lda, lda, bp, n, alpha, beta, c + i0 * ldc,
                       ldc);
  }
}

template <class T>
void macro(bool trans_a, i64 m, i64 n, i64 kc, T alpha, const T* a, i64 lda, const T* bp, T beta,
           T* c, i64 ldc) {
  if (trans_a)
    macro_impl<T, true>(m, n, kc, alpha, a, lda, bp, beta, c, ldc);
  else
    macro_impl<T, false>(m, n, kc, alpha, a, lda, bp, beta, c, ldc);
}

// Blocking: kc x nc of packed B should sit in L2 (1-2 MiB on current x86; 512 KiB assumed) while
// the kMR x kc sliver of A is reused from L1 across the whole nc sweep.
template <class T>
constexpr Unit<T> make_unit(const char* name) {
  constexpr int W = Vec<T>::size;
  constexpr i64 kc = 384 * 4 / static_cast<i64>(sizeof(T));
  constexpr i64 nc = (512 * 1024 / static_cast<i64>(sizeof(T)) / kc) / (kNV * W) * (kNV * W);
  return Unit<T>{name, kMR, kNV * W, W, kc, nc, &pack_b<T>, &macro<T>};
}

}  // namespace
}  // namespace tg::gemm_detail
#endif  // TG_GEMM_ARCH_TU
