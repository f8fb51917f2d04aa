// The differentiable ops: each builds its output with the tensor library and records its backward
// beside it (ops.cpp). Broadcasting ops reduce their gradients back to each input's shape with
// sum_to. Scalars (double) take the other operand's dtype.
#pragma once
#include <cstdint>
#include <vector>

#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace tg {

// --- element-wise, binary (broadcasting) --------------------------------------------------------
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable pow(const Variable& a, const Variable& b);
Variable pow(const Variable& a, double exponent);
Variable maximum(const Variable& a, const Variable& b);  // ties send the gradient half to each side
Variable minimum(const Variable& a, const Variable& b);
// a * b and a / b, but an exact 0 where a is 0, whatever b (0 * inf, 0 / 0 -> 0): what every
// element-wise backward multiplies its incoming gradient with (docs/autograd.md, "where").
Variable mul_or_zero(const Variable& a, const Variable& b);
Variable div_or_zero(const Variable& a, const Variable& b);
// mask != 0 ? a : b. The branch not taken gets an exact zero gradient, never its NaN, even at that
// branch's own singularity (where(x > 0, log(x), 0) at x = 0); mask gets none.
Variable where(const Variable& mask, const Variable& a, const Variable& b);
Variable clamp(const Variable& x, double lo, double hi);

// --- element-wise, unary -------------------------------------------------------------------------
Variable neg(const Variable& x);
Variable exp(const Variable& x);
Variable expm1(const Variable& x);
Variable log(const Variable& x);
Variable log1p(const Variable& x);
Variable sqrt(const Variable& x);
Variable square(const Variable& x);
Variable abs(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
Variable softplus(const Variable& x);
Variable log_sigmoid(const Variable& x);
Variable erf(const Variable& x);
Variable lgamma(const Variable& x);
Variable digamma(const Variable& x);  // differentiable once (its derivative, trigamma, is not)
Variable erfinv(const Variable& x);   // the inverse of erf on (-1, 1)
Variable reciprocal(const Variable& x);
Variable rsqrt(const Variable& x);  // 1 / sqrt(x)
// mask != 0 ? value : x (PyTorch's masked_fill); the filled places get no gradient.
Variable masked_fill(const Variable& x, const Variable& mask, double value);

// --- operators -----------------------------------------------------------------------------------
Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator-(const Variable& a);
Variable operator+(const Variable& a, double b);
Variable operator-(const Variable& a, double b);
Variable operator*(const Variable& a, double b);
Variable operator/(const Variable& a, double b);
Variable operator+(double a, const Variable& b);
Variable operator-(double a, const Variable& b);
Variable operator*(double a, const Variable& b);
Variable operator/(double a, const Variable& b);

// --- reductions ----------------------------------------------------------------------------------
Variable sum(const Variable& x, const Axes& axes = {}, bool keepdim = false);
Variable mean(const Variable& x, const Axes& axes = {}, bool keepdim = false);
Variable max(const Variable& x, const Axes& axes = {},
             bool keepdim = false);  // ties share the gradient
Variable logsumexp(const Variable& x, const Axes& axes = {}, bool keepdim = false);
Variable softmax(const Variable& x, std::int64_t axis = -1);
Variable log_softmax(const Variable& x, std::int64_t axis = -1);

// --- shape ops -----------------------------------------------------------------------------------
Variable reshape(const Variable& x, const Shape& shape);
Variable transpose(const Variable& x, std::int64_t axis0 = -2, std::int64_t axis1 = -1);
Variable permute(const Variable& x, const Axes& perm);
Variable slice(const Variable& x, std::int64_t axis, std::int64_t start, std::int64_t stop);
Variable concat(const std::vector<Variable>& xs, std::int64_t axis = 0);
Variable index_select(const Variable& x, std::int64_t axis, const std::vector<std::int64_t>& index);
Variable broadcast_to(const Variable& x, const Shape& shape);
Variable sum_to(const Variable& x, const Shape& shape);
Variable squeeze(const Variable& x, std::int64_t axis);
Variable unsqueeze(const Variable& x, std::int64_t axis);
// Joins same-shape tensors along a new axis (torch.stack).
Variable stack(const std::vector<Variable>& xs, std::int64_t axis = 0);

// --- linear algebra ------------------------------------------------------------------------------
Variable matmul(const Variable& a, const Variable& b);  // 2-D: (M, K) x (K, N)
// x W^T + b in one GEMM, x (B, in), W (out, in), b (out) or undefined: PyTorch's nn.Linear.
Variable linear(const Variable& x, const Variable& w, const Variable& b = {});

// --- losses --------------------------------------------------------------------------------------
enum class Reduction { none, mean, sum };
// -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] = softplus(z) - y z, stable for any logit z.
Variable binary_cross_entropy_with_logits(const Variable& logits, const Variable& target,
                                          Reduction reduction = Reduction::mean);
// log p(x) of a Bernoulli with logits l, element-wise: x l - softplus(l) (x in [0, 1]; grey values
// give the cross-entropy). Fused forward and backward; broadcasts.
Variable bernoulli_log_prob(const Variable& logits, const Variable& x);
// (x - y)^2, reduced.
Variable mse_loss(const Variable& x, const Variable& y, Reduction reduction = Reduction::mean);
// |x - y|, reduced (torch.nn.functional.l1_loss).
Variable l1_loss(const Variable& x, const Variable& y, Reduction reduction = Reduction::mean);
// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), d = x - y
// (torch.nn.functional.huber_loss).
Variable huber_loss(const Variable& x, const Variable& y, Reduction reduction = Reduction::mean,
                    double delta = 1.0);

}  // namespace tg
