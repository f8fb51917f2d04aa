// Fused kernels: loops that read several arrays and write one or more in a single pass, where the
// op-by-op version would make a temporary per step (the optimizers' updates, relu's backward, the
// Bernoulli log-likelihood and its gradient). Vectorised with xsimd for every SIMD unit the
// element-wise kernels have (kernels.hpp), dispatched at run time to the same unit, and split over
// the thread pool in contiguous chunks. Every lane does the same operations, in the same order, as
// the scalar loop of fused.cpp (no FMA contraction), so the result is bitwise the same on every
// unit and for every thread count; the tests check that against the scalar loop.
#pragma once
#include <cstdint>

namespace tg::kernels {

// Adam and AdamW, one element (PyTorch 1.13's _single_tensor_adam, operation by operation):
//   d = g (+ weight_decay * w for Adam with weight decay);  w *= decay (AdamW)
//   m = beta1 * m + (1 - beta1) * d;  v = beta2 * v + (1 - beta2) * d * d;  vmax = max(vmax, v)
//   w += neg_step_size * m / (sqrt(v or vmax) / bias_correction2_sqrt + eps)
template <class T>
struct AdamStep {
  T beta1, one_minus_beta1, beta2, one_minus_beta2;
  T bias_correction2_sqrt, eps, neg_step_size;
  T weight_decay;  // Adam's L2 term (used when !decoupled and weight_decay != 0)
  T decay;         // AdamW's 1 - lr * weight_decay (used when decoupled)
  bool decoupled = false, amsgrad = false, has_weight_decay = false;
};
// vmax is used (and may be null) only when s.amsgrad.
template <class T>
void adam_step(const AdamStep<T>& s, T* w, const T* g, T* m, T* v, T* vmax, std::int64_t n);

// SGD (PyTorch 1.13's _single_tensor_sgd):
//   d = g (+ weight_decay * w);  with momentum: buf = first ? d : momentum * buf + (1 - dampening)
//   * d, d = nesterov ? d + momentum * buf : buf;  w += neg_lr * d
template <class T>
struct SgdStep {
  T weight_decay, momentum, one_minus_dampening, neg_lr;
  bool has_weight_decay = false, has_momentum = false, nesterov = false;
  bool first = false;  // the momentum buffer is being created by this step
};
// buf is used (and may be null) only when s.has_momentum.
template <class T>
void sgd_step(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n);

// relu's backward: dx = dy where y > 0, else exactly 0 (even where dy is NaN or Inf).
template <class T>
void relu_backward(const T* dy, const T* y, T* dx, std::int64_t n);

// The Bernoulli log-likelihood from logits l of values x: lp = x l - softplus(l), with
// softplus(l) = max(l, 0) + log1p(exp(-|l|)).
template <class T>
void bernoulli_log_prob(const T* l, const T* x, T* lp, std::int64_t n);
// Its gradient with respect to the logits: dl = dlp (x - sigmoid(l)); a zero dlp gives exactly 0.
template <class T>
void bernoulli_log_prob_backward(const T* dlp, const T* l, const T* x, T* dl, std::int64_t n);

}  // namespace tg::kernels
