// GEMM driver (baseline x86-64 code): argument handling, the choice of SIMD unit at run time, cache
// blocking over K and N, and the split of C into per-thread tiles. The packing routines and the
// micro-kernel live in the per-unit translation units (gemm_avx512.cpp, gemm_avx2.cpp,
// gemm_sse42.cpp); see docs/gemm.md.
#include "tapegrad/tensor/gemm.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>

#include "tapegrad/tensor/gemm_kernel.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace tg {
namespace gemm_detail {
namespace {

using i64 = std::int64_t;

// The SIMD units, their names and the CPU test are the element-wise kernels'
// (kernels_dispatch.hpp); the GEMM keeps its own choice of unit, so a test can switch one without
// the other.
namespace kd = kernels::detail;

int cpu_level() { return static_cast<int>(kd::supported_units().front()); }

int level_by_name(const char* name) {
  const std::optional<kd::Unit> u = kd::unit_from_name(name);
  return u ? static_cast<int>(*u) : -1;
}

// -1 until first use; then the level (a kd::Unit) every gemm() call uses.
std::atomic<int> g_level{-1};

int level() {
  int l = g_level.load(std::memory_order_relaxed);
  if (l >= 0) return l;
  l = cpu_level();
  if (const char* env = std::getenv("TG_SIMD")) {  // may only lower the level: the CPU is the limit
    const int asked = level_by_name(env);
    if (asked >= 0 && asked < l) l = asked;
  }
  g_level.store(l, std::memory_order_relaxed);
  return l;
}

// The GEMM unit for a level, indexed by kd::Unit: scalar (nullptr: gemm_scalar), sse4.2, avx2,
// avx512.
template <class T>
const Unit<T>* unit_at(int l);
template <>
const Unit<float>* unit_at<float>(int l) {
  constexpr const Unit<float>* units[] = {nullptr, &unit_sse42_f32, &unit_avx2_f32,
                                          &unit_avx512_f32};
  return units[l];
}
template <>
const Unit<double>* unit_at<double>(int l) {
  constexpr const Unit<double>* units[] = {nullptr, &unit_sse42_f64, &unit_avx2_f64,
                                           &unit_avx512_f64};
  return units[l];
}

// Below this many multiply-adds per thread a second thread costs more (waking it, splitting the
// packing) than it saves; measured with bench/bench_gemm on the VAE's smallest products.
constexpr double kMinMacsPerThread = 1 << 19;

// Each thread's packing buffer for B, 64-byte aligned, kept between calls.
void* pack_buffer(std::size_t bytes) {
  struct Buffer {
    void* p = nullptr;
    std::size_t size = 0;
    ~Buffer() { ::operator delete (p, std::align_val_t{64}); }
  };
  thread_local Buffer buf;
  if (buf.size < bytes) {
    ::operator delete (buf.p, std::align_val_t{64});
    buf.p = nullptr;
    buf.p = ::operator new (bytes, std::align_val_t{64});
    buf.size = bytes;
  }
  return buf.p;
}

// C = beta * C, with beta == 0 writing zeros (C is not read).
template <class T>
void scale_c(i64 M, i64 N, T beta, T* C, i64 ldc) {
  if (beta == T(1)) return;
  for (i64 i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      std::fill(c, c + N, T(0));
    else
      for (i64 j = 0; j < N; ++j) c[j] *= beta;
  }
}

// For CPUs without SSE4.2 (pre-2008): a plain loop, correct but slow.
template <class T>
void gemm_scalar(bool trans_a, bool trans_b, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda,
                 const T* B, i64 ldb, T beta, T* C, i64 ldc) {
  for (i64 i = 0; i < M; ++i)
    for (i64 j = 0; j < N; ++j) {
      T acc = 0;
      for (i64 k = 0; k < K; ++k)
        acc += (trans_a ? A[k * lda + i] : A[i * lda + k]) *
               (trans_b ? B[j * ldb + k] : B[k * ldb + j]);
      T& c = C[i * ldc + j];
      c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
    }
}

template <class T>
void gemm_blocked(const Unit<T>& u, bool trans_a, bool trans_b, i64 M, i64 N, i64 K, T alpha,
                  const T* A, i64 lda, const T* B, i64 ldb, T beta, T* C, i64 ldc) {
  // K is cut into equal blocks of at most u.kc. This depends on K alone, never on the threads, so
  // every element of C is the same sequence of operations whatever the thread count.
  const i64 k_blocks = (K + u.kc - 1) / u.kc;
  const i64 kc = (K + k_blocks - 1) / k_blocks;

  // Threads take pieces of C along one dimension, never of K. N is preferred: each thread packs
  // only its own columns of B and reads A in place. M is used when C has fewer than two vectors of
  // columns per thread (then the duplicated packing of the narrow B is cheap and each thread reads
  // only its rows of A). Piece boundaries fall on whole vectors (w) or micro-tile rows (mr), and no
  // element's arithmetic depends on which piece or thread computes it.
  const i64 col_units = (N + u.w - 1) / u.w, row_groups = (M + u.mr - 1) / u.mr;
  const double macs = double(M) * double(N) * double(K);
  const i64 nt =
      std::max<i64>(1, std::min<i64>(num_threads(), static_cast<i64>(macs / kMinMacsPerThread)));
  const bool by_cols = col_units >= 2 * nt || col_units >= row_groups;
  const i64 units = by_cols ? col_units : row_groups;

  auto run = [&](i64 m0, i64 m1, i64 n0, i64 n1) {
    // nc: the widest multiple of nr not above u.nc that cuts [n0, n1) into equal blocks.
    const i64 n_blocks = (n1 - n0 + u.nc - 1) / u.nc;
    const i64 nc = ((n1 - n0 + n_blocks - 1) / n_blocks + u.nr - 1) / u.nr * u.nr;
    T* bp = static_cast<T*>(pack_buffer(static_cast<std::size_t>(kc * nc) * sizeof(T)));
    for (i64 jc = n0; jc < n1; jc += nc) {
      const i64 n = std::min(nc, n1 - jc);
      for (i64 pc = 0; pc < K; pc += kc) {
        const i64 k = std::min(kc, K - pc);
        u.pack_b(trans_b, trans_b ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, k, n, bp);
        u.macro(trans_a, m1 - m0, n, k, alpha, trans_a ? A + pc * lda + m0 : A + m0 * lda + pc, lda,
                bp, pc == 0 ? beta : T(1), C + m0 * ldc + jc, ldc);
      }
    }
  };
  auto run_units = [&](i64 lo, i64 hi) {
    if (by_cols)
      run(0, M, lo * u.w, std::min(N, hi * u.w));
    else
      run(lo * u.mr, std::min(M, hi * u.mr), 0, N);
  };
  if (nt == 1) {
    run(0, M, 0, N);
    return;
  }
  // Guided self-scheduling: each grab takes 1/(2 nt) of what is left (at least a full micro-tile
  // panel), so pieces shrink towards the end. A worker that wakes late (tens of microseconds in a
  // VM) finds the caller already working through the front and shares the rest, and both finish
  // within one small piece of each other.
  const i64 min_units = by_cols ? std::max<i64>(1, u.nr / u.w) : 1;
  std::atomic<i64> next{0};
  parallel_for(0, nt, 1, [&](i64, i64) {
    for (i64 lo = next.load(std::memory_order_relaxed); lo < units;) {
      const i64 hi = std::min(units, lo + std::max(min_units, (units - lo) / (2 * nt)));
      if (next.compare_exchange_weak(lo, hi, std::memory_order_relaxed)) {
        run_units(lo, hi);
        lo = next.load(std::memory_order_relaxed);
      }
    }
  });
}

}  // namespace

bool select_unit(const char* name) {
  const int asked = name ? level_by_name(name) : cpu_level();
  if (asked < 0 || asked > cpu_level()) return false;
  g_level.store(asked, std::memory_order_relaxed);
  return true;
}

// The names are string literals, so the view's data() is NUL-terminated.
const char* unit_name() { return kd::unit_name(static_cast<kd::Unit>(level())).data(); }

}  // namespace gemm_detail

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc) {
  using namespace gemm_detail;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 ||
      alpha == T(0)) {  // op(A) * op(B) contributes nothing; as in BLAS, A and B are not read
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const Unit<T>* u = unit_at<T>(level());
  if (!u) {
    gemm_scalar(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm_blocked(*u, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                          std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, const double*, std::int64_t, double,
                           double*, std::int64_t);

}  // namespace tg
