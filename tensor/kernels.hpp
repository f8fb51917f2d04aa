// Element-wise and reduction kernels on contiguous raw arrays, vectorised with xsimd and dispatched
// at run time to the best unit the CPU has (AVX-512, AVX2+FMA, SSE4.2). The Tensor layer (ops.hpp)
// handles shapes and broadcasting and calls these on contiguous runs. Every kernel has a scalar
// reference in kernels_ref.hpp that the tests compare against.
#pragma once
#include <cstdint>
#include <string_view>

#include "tapegrad/tensor/elementwise.hpp"

namespace tg::kernels {

// The ops of elementwise.hpp's tables; what each computes is its formula in kernels_ref.hpp.
#define TG_ENUM_ENTRY(name, ...) name,
enum class Unary { TG_UNARY_OPS(TG_ENUM_ENTRY) };
enum class Binary { TG_BINARY_OPS(TG_ENUM_ENTRY) };
#undef TG_ENUM_ENTRY

// y[i] = op(x[i]) for i < n. x and y may alias.
template <class T>
void unary(Unary op, const T* x, T* y, std::int64_t n);

// y[i] = op(a[i * a_step], b[i * b_step]) for i < n, where a_step and b_step are 0 (a broadcast
// scalar) or 1. y may alias an operand whose step is 1.
template <class T>
void binary(Binary op, const T* a, int a_step, const T* b, int b_step, T* y, std::int64_t n);

// y[i] = a * x[i] + y[i]
template <class T>
void axpy(T a, const T* x, T* y, std::int64_t n);

// Reductions of one contiguous run. The order of additions depends only on n (never on the thread
// count or on the SIMD unit chosen... see kernels.cpp for how), so results are reproducible.
template <class T>
T sum(const T* x, std::int64_t n);
template <class T>
T max(const T* x, std::int64_t n);  // -inf for n == 0; NaN if any element is NaN
template <class T>
T min(const T* x, std::int64_t n);  // +inf for n == 0; NaN if any element is NaN

// The unit the dispatcher chose: "avx512", "avx2", "sse4.2" (or "scalar").
std::string_view simd_arch();

}  // namespace tg::kernels
