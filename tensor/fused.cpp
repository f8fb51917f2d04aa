// The fused kernels' scalar loops (the reference every SIMD unit reproduces, and what a CPU without
// SSE4.2 runs), the choice of unit (the one the element-wise kernels chose), and the split over the
// thread pool: contiguous chunks of at least kGrain elements, each computed exactly as it would be
// alone, so the thread count never changes a result.
#include <algorithm>
#include <cmath>

#include "tapegrad/tensor/fused_dispatch.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"
#include "tapegrad/tensor/kernels_ref.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace tg::kernels {
namespace detail {
namespace {

// Below this many elements per thread, waking a second thread costs more than it saves.
constexpr std::int64_t kGrain = 1 << 14;

template <class T>
void scalar_adam(const AdamStep<T>& s, T* w, const T* g, T* m, T* v, T* vmax, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) {
    T d = g[j];
    if (s.decoupled) {
      w[j] = w[j] * s.decay;  // param.mul_(1 - lr * weight_decay)
    } else if (s.has_weight_decay) {
      d = d + s.weight_decay * w[j];  // grad = grad.add(param, alpha=weight_decay)
    }
    m[j] =
        m[j] * s.beta1 + s.one_minus_beta1 * d;  // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    v[j] = v[j] * s.beta2 +
           s.one_minus_beta2 * d * d;  // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
    T second = v[j];
    if (s.amsgrad) {
      vmax[j] = std::max(vmax[j], v[j]);  // torch.maximum(max_exp_avg_sq, exp_avg_sq)
      second = vmax[j];
    }
    const T denom =
        std::sqrt(second) / s.bias_correction2_sqrt + s.eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
    w[j] = w[j] + s.neg_step_size * (m[j] / denom);  // param.addcdiv_(exp_avg, denom, -step_size)
  }
}

template <class T>
void scalar_sgd(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) {
    T d = g[j];
    if (s.has_weight_decay)
      d = d + s.weight_decay * w[j];  // d_p = d_p.add(param, alpha=weight_decay)
    if (s.has_momentum) {
      if (s.first) {
        buf[j] = d;  // buf = clone(d_p)
      } else {
        buf[j] = buf[j] * s.momentum +
                 s.one_minus_dampening * d;  // buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
      }
      d = s.nesterov ? d + s.momentum * buf[j] : buf[j];
    }
    w[j] = w[j] + s.neg_lr * d;  // param.add_(d_p, alpha=-lr)
  }
}

template <class T>
void scalar_relu_backward(const T* dy, const T* y, T* dx, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) dx[j] = y[j] > 0 ? dy[j] : T(0);
}

template <class T>
void scalar_bernoulli_log_prob(const T* l, const T* x, T* lp, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) lp[j] = x[j] * l[j] - ref::unary(Unary::softplus, l[j]);
}

template <class T>
void scalar_bernoulli_log_prob_backward(const T* dlp, const T* l, const T* x, T* dl,
                                        std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j)
    dl[j] = dlp[j] == 0 ? T(0) : dlp[j] * (x[j] - ref::unary(Unary::sigmoid, l[j]));
}

template <class T>
constexpr FusedKernels<T> scalar_kernels() {
  return {&scalar_adam<T>, &scalar_sgd<T>, &scalar_relu_backward<T>, &scalar_bernoulli_log_prob<T>,
          &scalar_bernoulli_log_prob_backward<T>};
}
constexpr FusedTable scalar_fused{scalar_kernels<float>(), scalar_kernels<double>()};

template <class T>
const FusedKernels<T>& current() {
  const FusedTable* t = &scalar_fused;
  switch (active_unit()) {
    case Unit::avx512:
      t = &avx512_fused;
      break;
    case Unit::avx2:
      t = &avx2_fused;
      break;
    case Unit::sse42:
      t = &sse42_fused;
      break;
    case Unit::scalar:
      break;
  }
  if constexpr (sizeof(T) == 4)
    return t->f32;
  else
    return t->f64;
}

// fn(offset, count) over [0, n) in contiguous chunks on the pool.
template <class F>
void chunked(std::int64_t n, F fn) {
  if (n <= 0) return;
  parallel_for(0, n, kGrain, [&](std::int64_t lo, std::int64_t hi) { fn(lo, hi - lo); });
}

}  // namespace
}  // namespace detail

template <class T>
void adam_step(const AdamStep<T>& s, T* w, const T* g, T* m, T* v, T* vmax, std::int64_t n) {
  const auto& k = detail::current<T>();
  detail::chunked(n, [&](std::int64_t o, std::int64_t c) {
    k.adam_step(s, w + o, g + o, m + o, v + o, s.amsgrad ? vmax + o : nullptr, c);
  });
}

template <class T>
void sgd_step(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n) {
  const auto& k = detail::current<T>();
  detail::chunked(n, [&](std::int64_t o, std::int64_t c) {
    k.sgd_step(s, w + o, g + o, s.has_momentum ? buf + o : nullptr, c);
  });
}

template <class T>
void relu_backward(const T* dy, const T* y, T* dx, std::int64_t n) {
  const auto& k = detail::current<T>();
  detail::chunked(
      n, [&](std::int64_t o, std::int64_t c) { k.relu_backward(dy + o, y + o, dx + o, c); });
}

template <class T>
void bernoulli_log_prob(const T* l, const T* x, T* lp, std::int64_t n) {
  const auto& k = detail::current<T>();
  detail::chunked(
      n, [&](std::int64_t o, std::int64_t c) { k.bernoulli_log_prob(l + o, x + o, lp + o, c); });
}

template <class T>
void bernoulli_log_prob_backward(const T* dlp, const T* l, const T* x, T* dl, std::int64_t n) {
  const auto& k = detail::current<T>();
  detail::chunked(n, [&](std::int64_t o, std::int64_t c) {
    k.bernoulli_log_prob_backward(dlp + o, l + o, x + o, dl + o, c);
  });
}

#define TG_INSTANTIATE(T)                                                                 \
  template void adam_step<T>(const AdamStep<T>&, T*, const T*, T*, T*, T*, std::int64_t); \
  template void sgd_step<T>(const SgdStep<T>&, T*, const T*, T*, std::int64_t);           \
  template void relu_backward<T>(const T*, const T*, T*, std::int64_t);                   \
  template void bernoulli_log_prob<T>(const T*, const T*, T*, std::int64_t);              \
  template void bernoulli_log_prob_backward<T>(const T*, const T*, const T*, T*, std::int64_t);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)
#undef TG_INSTANTIATE

}  // namespace tg::kernels
