// Private to the fused kernels: one SIMD unit's table of them, and the tables each unit's
// translation unit defines (fused_<unit>.cpp). fused.cpp picks the table of the unit the
// element-wise kernels use.
#pragma once
#include <cstdint>

#include "tapegrad/tensor/fused.hpp"

namespace tg::kernels::detail {

template <class T>
struct FusedKernels {
  void (*adam_step)(const AdamStep<T>& s, T* w, const T* g, T* m, T* v, T* vmax, std::int64_t n);
  void (*sgd_step)(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n);
  void (*relu_backward)(const T* dy, const T* y, T* dx, std::int64_t n);
  void (*bernoulli_log_prob)(const T* l, const T* x, T* lp, std::int64_t n);
  void (*bernoulli_log_prob_backward)(const T* dlp, const T* l, const T* x, T* dl, std::int64_t n);
};
struct FusedTable {
  FusedKernels<float> f32;
  FusedKernels<double> f64;
};

extern const FusedTable avx512_fused;
extern const FusedTable avx2_fused;
extern const FusedTable sse42_fused;

}  // namespace tg::kernels::detail
