// Helpers shared by the distributions' .cpp files (not part of the user-facing API): masks, safe
// selections for infinite parameters, parameter broadcasting and uniform draws.
#pragma once
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/tensor/ops.hpp"
#include "tapegrad/tensor/random.hpp"

namespace tg::dist::detail {

inline constexpr double inf = std::numeric_limits<double>::infinity();

// A constant scalar of the given dtype.
inline Variable cst(double v, DType dtype) { return Variable(Tensor::scalar(v, dtype)); }

// Element-wise predicate as a 0/1 tensor of x's dtype.
template <class Pred>
Tensor mask_of(const Tensor& x, Pred pred) {
  Tensor m = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* pm = m.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      pm[i] = pred(static_cast<double>(px[i])) ? T(1) : T(0);
  });
  return m;
}
// Does pred hold for any (every) element? One pass, no mask allocated: for the common-case checks
// on hot paths (are there infinite logits? are all values inside the support?).
template <class Pred>
bool any_of(const Tensor& x, Pred pred) {
  return visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      if (pred(static_cast<double>(px[i]))) return true;
    return false;
  });
}
template <class Pred>
bool all_of(const Tensor& x, Pred pred) {
  return !any_of(x, [&](double v) { return !pred(v); });
}
inline Tensor isinf_mask(const Tensor& x) {
  return mask_of(x, [](double v) { return std::isinf(v); });
}

// mask ? a : b with a constant on one side (the side not taken gets no gradient, never its NaN).
inline Variable where(const Tensor& mask, const Variable& a, const Variable& b) {
  return tg::where(Variable(mask), a, b);
}
inline Variable where(const Tensor& mask, const Variable& a, double b) {
  return tg::where(Variable(mask), a, cst(b, a.dtype()));
}
inline Variable where(const Tensor& mask, double a, const Variable& b) {
  return tg::where(Variable(mask), cst(a, b.dtype()), b);
}

// log_prob with -inf where `inside` is 0.
inline Variable outside_to_neg_inf(const Tensor& inside, const Variable& lp) {
  return where(inside, lp, -inf);
}

// Sum over the last n axes (n = 0: x itself).
inline Variable sum_rightmost(const Variable& x, std::int64_t n) {
  if (n <= 0) return x;
  Axes axes;
  for (std::int64_t k = 0; k < n; ++k) axes.push_back(x.dim() - 1 - k);
  return tg::sum(x, axes);
}

// Broadcasts the parameters to their common shape (ShapeError naming `who` otherwise) and checks
// they share one dtype (DTypeError otherwise): shapes first, then dtypes.
std::vector<Variable> broadcast_params(const char* who, const std::vector<Variable>& params);

// U[low, high) draws of the given shape and dtype (the default generator when gen is null).
Tensor uniform(const Shape& shape, DType dtype, Generator* gen, double low, double high);

// "Normal(loc, scale): <what>" ValueError when validation finds a bad parameter.
void require(bool ok, const std::string& who, const std::string& what);

}  // namespace tg::dist::detail
