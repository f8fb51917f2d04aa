// The tensor operations: element-wise with NumPy broadcasting, reductions, shape ops, linear algebra.
// These know nothing of gradients; autograd/ wraps them. Binary ops need operands of the same dtype
// (a DTypeError otherwise; convert with .to()). Shape errors name the op and show both shapes.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace tg {

using Axes = std::vector<std::int64_t>;

// --- element-wise, binary (broadcasting) ----------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons give masks of the operands' dtype: 1 where true, 0 where false.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// a * b and a / b, except that a zero a gives an exact 0 whatever b is (0 * inf, 0 * NaN, 0 / 0 -> 0):
// how a backward multiplies its incoming gradient a by a derivative b, so that a zero gradient (the
// branch where did not take) stays zero even where the derivative is infinite or undefined.
Tensor mul_or_zero(const Tensor& a, const Tensor& b);
Tensor div_or_zero(const Tensor& a, const Tensor& b);
// mask != 0 ? a : b, broadcasting all three.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, double lo, double hi);

// --- element-wise, unary --------------------------------------------------------------------------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor softplus(const Tensor& x);     // log(1 + e^x), stable for any x
Tensor log_sigmoid(const Tensor& x);  // log(sigmoid(x)) = -softplus(-x), stable for any x
Tensor erf(const Tensor& x);
Tensor lgamma(const Tensor& x);
Tensor digamma(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor step(const Tensor& x);  // 1 where x > 0, else 0

// --- operators (scalars take the tensor's dtype) ---------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// --- reductions ------------------------------------------------------------------------------------
// Over `axes` (empty: over everything); keepdim keeps reduced axes as size 1. The order of additions
// is fixed, so the result is bitwise the same for any thread count.
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Index of the largest element along `axis` (the first one on ties), as values of x's dtype.
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Sums x down to `shape`, the inverse of broadcasting: the gradient of broadcast_to.
Tensor sum_to(const Tensor& x, const Shape& shape);

// --- shape ops (all but reshape materialise) -------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, std::int64_t axis0 = -2, std::int64_t axis1 = -1);
Tensor permute(const Tensor& x, const Axes& perm);
// Elements [start, stop) along axis (negative start/stop count from the end, like Python).
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop);
Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis = 0);
// Rows (entries along `axis`) picked by index, in the order given; repeats allowed.
Tensor index_select(const Tensor& x, std::int64_t axis, const std::vector<std::int64_t>& index);
// The gradient of index_select: a zero tensor of `shape` with `src`'s slices added at `index`.
Tensor index_add(const Shape& shape, std::int64_t axis, const std::vector<std::int64_t>& index,
                 const Tensor& src);
Tensor squeeze(const Tensor& x, std::int64_t axis);
Tensor unsqueeze(const Tensor& x, std::int64_t axis);

// --- linear algebra --------------------------------------------------------------------------------
// Matrix product of 2-D tensors: (M, K) x (K, N) -> (M, N), with optional transposes of either side.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// x W^T + b for x (B, in), W (out, in), b (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// --- comparisons for tests -------------------------------------------------------------------------
// |a - b| <= atol + rtol * |b| everywhere (NaN equals NaN when equal_nan), shapes equal.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);

}  // namespace tg
