// The fused kernels of fused.hpp, written once as templates on the xsimd architecture and
// instantiated by fused_avx512.cpp, fused_avx2.cpp and fused_sse42.cpp, each compiled with its
// unit's flags. The same ODR rules as kernels_impl.hpp hold (everything in an anonymous namespace,
// no std:: inline function at run time), and the element-wise kernels' Simd helpers (exp, softplus,
// sigmoid) are reused, so a fused loop computes what the op-by-op kernels would.
//
// Products go through opaque() where the scalar loop rounds them on their own: GCC would otherwise
// contract `a * b + c` into an FMA on units that have one, and the update would differ from the
// scalar loop's (and from PyTorch's) in the last bit.
#pragma once
#include "tapegrad/tensor/fused_dispatch.hpp"
#include "tapegrad/tensor/kernels_impl.hpp"

namespace tg::kernels::detail {
namespace {

template <class T, class Arch>
struct Fused {
  using S = Simd<T, Arch>;
  using B = typename S::B;
  static constexpr std::int64_t width = S::width;

  // Runs body(i, B* lanes...) over [0, n) in whole batches, then once more on zero-padded copies of
  // the tail, storing only the first n - i elements back. `in` arrays are read, `out` ones written
  // (an array may be both: it is then listed in both, read first).
  template <int In, int Out, class Body>
  static void loop(std::int64_t n, const T* const (&in)[In], T* const (&out)[Out], Body body) {
    std::int64_t i = 0;
    for (; i + width <= n; i += width) {
      B a[In], r[Out];
      for (int k = 0; k < In; ++k) a[k] = B::load_unaligned(in[k] + i);
      body(a, r);
      for (int k = 0; k < Out; ++k) r[k].store_unaligned(out[k] + i);
    }
    if (i < n) {
      B a[In], r[Out];
      for (int k = 0; k < In; ++k) a[k] = S::load_tail(in[k] + i, n - i);
      body(a, r);
      for (int k = 0; k < Out; ++k) S::store_tail(r[k], out[k] + i, n - i);
    }
  }

  template <bool decoupled, bool weight_decay, bool amsgrad>
  static void adam(const AdamStep<T>& s, T* w, const T* g, T* m, T* v, T* vmax, std::int64_t n) {
    const B b1(s.beta1), one_b1(s.one_minus_beta1), b2(s.beta2), one_b2(s.one_minus_beta2);
    const B bc2(s.bias_correction2_sqrt), eps(s.eps), neg_step(s.neg_step_size);
    const B wd(s.weight_decay), decay(s.decay);
    auto body = [&](const B* a, B* r) {
      B pw = a[0], d = a[1];
      if constexpr (decoupled)
        pw = opaque(pw * decay);
      else if constexpr (weight_decay)
        d = d + opaque(wd * pw);
      const B pm = opaque(a[2] * b1) + opaque(one_b1 * d);
      const B pv = opaque(a[3] * b2) + opaque(opaque(one_b2 * d) * d);
      B second = pv;
      if constexpr (amsgrad)
        second = r[3] = xsimd::select(a[4] < pv, pv, a[4]);  // std::max(vmax, v)
      const B denom = xsimd::sqrt(second) / bc2 + eps;
      r[0] = pw + opaque(neg_step * (pm / denom));
      r[1] = pm;
      r[2] = pv;
    };
    if constexpr (amsgrad) {
      loop<5, 4>(n, {w, g, m, v, vmax}, {w, m, v, vmax}, body);
    } else {
      loop<4, 3>(n, {w, g, m, v}, {w, m, v}, body);
    }
  }

  static void adam_any(const AdamStep<T>& s, T* w, const T* g, T* m, T* v, T* vmax,
                       std::int64_t n) {
    const bool wd = s.has_weight_decay;
    if (s.decoupled) {
      s.amsgrad ? adam<true, false, true>(s, w, g, m, v, vmax, n)
                : adam<true, false, false>(s, w, g, m, v, vmax, n);
    } else if (wd) {
      s.amsgrad ? adam<false, true, true>(s, w, g, m, v, vmax, n)
                : adam<false, true, false>(s, w, g, m, v, vmax, n);
    } else {
      s.amsgrad ? adam<false, false, true>(s, w, g, m, v, vmax, n)
                : adam<false, false, false>(s, w, g, m, v, vmax, n);
    }
  }

  template <bool weight_decay, bool momentum, bool nesterov, bool first>
  static void sgd(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n) {
    const B wd(s.weight_decay), mom(s.momentum), damp(s.one_minus_dampening), neg_lr(s.neg_lr);
    auto body = [&](const B* a, B* r) {
      B d = a[1];
      if constexpr (weight_decay) d = d + opaque(wd * a[0]);
      if constexpr (momentum) {
        B b;
        if constexpr (first)
          b = d;
        else
          b = opaque(a[2] * mom) + opaque(damp * d);
        d = nesterov ? d + opaque(mom * b) : b;
        r[1] = b;
      }
      r[0] = a[0] + opaque(neg_lr * d);
    };
    if constexpr (momentum)
      loop<3, 2>(n, {w, g, buf}, {w, buf}, body);
    else
      loop<2, 1>(n, {w, g}, {w}, body);
  }

  template <bool weight_decay>
  static void sgd_wd(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n) {
    if (!s.has_momentum) return sgd<weight_decay, false, false, false>(s, w, g, buf, n);
    if (s.nesterov)
      return s.first ? sgd<weight_decay, true, true, true>(s, w, g, buf, n)
                     : sgd<weight_decay, true, true, false>(s, w, g, buf, n);
    return s.first ? sgd<weight_decay, true, false, true>(s, w, g, buf, n)
                   : sgd<weight_decay, true, false, false>(s, w, g, buf, n);
  }
  static void sgd_any(const SgdStep<T>& s, T* w, const T* g, T* buf, std::int64_t n) {
    s.has_weight_decay ? sgd_wd<true>(s, w, g, buf, n) : sgd_wd<false>(s, w, g, buf, n);
  }

  static void relu_backward(const T* dy, const T* y, T* dx, std::int64_t n) {
    const B zero(T(0));
    loop<2, 1>(n, {dy, y}, {dx},
               [&](const B* a, B* r) { r[0] = xsimd::select(a[1] > zero, a[0], zero); });
  }

  // lp = x l - softplus(l): the products and the softplus of the op-by-op kernels, one pass.
  static void bernoulli_log_prob(const T* l, const T* x, T* lp, std::int64_t n) {
    loop<2, 1>(n, {l, x}, {lp}, [&](const B* a, B* r) {
      r[0] = opaque(a[1] * a[0]) - S::template unary<Unary::softplus>(a[0]);
    });
  }
  // dl = dlp (x - sigmoid(l)); where dlp is 0 the result is 0 whatever x and l are.
  static void bernoulli_log_prob_backward(const T* dlp, const T* l, const T* x, T* dl,
                                          std::int64_t n) {
    const B zero(T(0));
    loop<3, 1>(n, {dlp, l, x}, {dl}, [&](const B* a, B* r) {
      const B d = a[0] * (a[2] - S::template unary<Unary::sigmoid>(a[1]));
      r[0] = xsimd::select(a[0] == zero, zero, d);
    });
  }

  static constexpr FusedKernels<T> table() {
    return {&adam_any, &sgd_any, &relu_backward, &bernoulli_log_prob, &bernoulli_log_prob_backward};
  }
};

template <class Arch>
constexpr FusedTable make_fused_table() {
  return {Fused<float, Arch>::table(), Fused<double, Arch>::table()};
}

}  // namespace
}  // namespace tg::kernels::detail
