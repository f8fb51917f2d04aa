// GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, for f32 and f64.
// op(A) is M x K (A is M x K, or K x M when trans_a), op(B) is K x N (B is K x N, or N x K when
// trans_b). lda/ldb/ldc are row strides in elements. Goto/BLIS-style: packed panels, cache blocking
// and a register-tiled micro-kernel chosen at run time (AVX-512, AVX2+FMA, SSE4.2). Threads split C
// into tiles and never the K dimension, so the result does not depend on the thread count. beta ==
// 0 means C is written without being read (NaNs in C do not propagate), as in BLAS.
#pragma once
#include <cstdint>

namespace tg {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C,
          std::int64_t ldc);

}  // namespace tg
