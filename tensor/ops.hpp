// The tensor operations: element-wise with NumPy broadcasting, reductions, shape ops, linear
// algebra. These know nothing of gradients; autograd/ wraps them. Binary ops need operands of the
// same dtype (a DTypeError otherwise; convert with .to()). Shape errors name the op and show both
// shapes.
#pragma once
#include <cstdint>
#include <vector>

#include "tapegrad/tensor/elementwise.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace tg {

using Axes = std::vector<std::int64_t>;

// --- element-wise (tensor/elementwise.hpp lists them, with their formulas)
// ------------------------ Binary, broadcasting: add sub mul div pow maximum minimum; the
// comparisons eq ne lt le gt ge give masks of the operands' dtype (1 where true, 0 where false);
// mul_or_zero and div_or_zero are a * b and a / b except that a zero a gives an exact 0 whatever b
// is (0 * inf, 0 * NaN, 0 / 0 -> 0): how a backward multiplies its incoming gradient a by a
// derivative b, so that a zero gradient (the branch where did not take) stays zero even where the
// derivative is infinite or undefined.
#define TG_DECLARE_BINARY(name, ...) Tensor name(const Tensor& a, const Tensor& b);
TG_BINARY_OPS(TG_DECLARE_BINARY)
#undef TG_DECLARE_BINARY
// Unary: neg abs square sqrt reciprocal exp expm1 log log1p tanh sigmoid relu softplus (log(1 +
// e^x), stable for any x) log_sigmoid (log(sigmoid(x)) = -softplus(-x)) erf lgamma digamma sign
// step (1 where x > 0, else 0).
#define TG_DECLARE_UNARY(name, ...) Tensor name(const Tensor& x);
TG_UNARY_OPS(TG_DECLARE_UNARY)
#undef TG_DECLARE_UNARY

// mask != 0 ? a : b, broadcasting all three.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, double lo, double hi);

// --- operators (scalars take the tensor's dtype)
// ---------------------------------------------------
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

// --- reductions
// ------------------------------------------------------------------------------------ Over `axes`
// (empty: over everything); keepdim keeps reduced axes as size 1. The order of additions is fixed,
// so the result is bitwise the same for any thread count.
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Index of the largest element along `axis` (the first one on ties), as values of x's dtype.
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Sums x down to `shape`, the inverse of broadcasting: the gradient of broadcast_to.
Tensor sum_to(const Tensor& x, const Shape& shape);

// --- shape ops (all but reshape materialise)
// -------------------------------------------------------
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

// --- linear algebra
// -------------------------------------------------------------------------------- Matrix product
// of 2-D tensors: (M, K) x (K, N) -> (M, N), with optional transposes of either side.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// x W^T + b for x (B, in), W (out, in), b (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// --- fused (tensor/fused.hpp): one pass where the op-by-op version makes temporaries
// --------------- The operands have one shape (no broadcasting) and one dtype. relu's backward: dy
// where y > 0, else 0 (also where dy is NaN or Inf).
Tensor relu_backward(const Tensor& dy, const Tensor& y);
// x l - softplus(l): the log-likelihood of x under a Bernoulli with logits l.
Tensor bernoulli_log_prob(const Tensor& logits, const Tensor& x);
// g (x - sigmoid(l)): its gradient with respect to the logits, times g (0 where g is 0).
Tensor bernoulli_log_prob_backward(const Tensor& g, const Tensor& logits, const Tensor& x);

// --- comparisons for tests
// ------------------------------------------------------------------------- |a - b| <= atol + rtol
// * |b| everywhere (NaN equals NaN when equal_nan), shapes equal.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);

}  // namespace tg
