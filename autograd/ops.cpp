// The differentiable ops. Each one: a formula comment, the forward (a tensor op), and the backward
// beside it, written with these same differentiable ops so that create_graph can differentiate it
// again. `g.out()` is dL/dy; `g.accumulate(i, ...)` adds dL/d(input i). Broadcasting ops send each
// input's gradient through sum_to, the adjoint of broadcasting.
//
// A zero incoming gradient stays an exact zero: element-wise backwards multiply g.out() by their
// derivative with mul_or_zero / div_or_zero (0 * inf = 0 / 0 = 0), so the branch where did not take
// sends back 0 even where its derivative is infinite or NaN (log at 0, sqrt below 0).
#include "tapegrad/autograd/ops.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <numeric>

namespace tg {
namespace {

// A constant (no gradient) of the same dtype as `like`.
Variable constant(const Tensor& t) { return Variable(t); }
Variable scalar_like(const Variable& like, double v) {
  return Variable(Tensor::scalar(v, like.dtype()));
}

// The shape a reduction over `axes` has with keepdim = true.
Shape keepdim_shape(const Shape& s, const Axes& axes) {
  Shape out = s;
  if (axes.empty()) {
    std::fill(out.begin(), out.end(), 1);
  } else {
    for (auto a : axes) out[normalize_axis(a, s.size(), "reduce")] = 1;
  }
  return out;
}

// trigamma(x) = d digamma / dx: recurrence up to x >= 6, then the asymptotic series; reflection
// below 0.5.
double trigamma_scalar(double x) {
  if (x <= 0 && x == std::floor(x)) return INFINITY;
  if (x < 0.5) {
    const double s = std::sin(std::numbers::pi * x);
    return std::numbers::pi * std::numbers::pi / (s * s) - trigamma_scalar(1 - x);
  }
  double acc = 0;
  while (x < 6) {
    acc += 1 / (x * x);
    x += 1;
  }
  const double r = 1 / x, r2 = r * r;
  return acc + r + r2 / 2 + r * r2 * (1.0 / 6 - r2 * (1.0 / 30 - r2 * (1.0 / 42 - r2 / 30)));
}

// trigamma, recorded so that lgamma's second derivative exists; its own derivative is not
// implemented.
Variable trigamma(const Variable& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    for (std::int64_t i = 0; i < y.numel(); ++i) py[i] = static_cast<T>(trigamma_scalar(px[i]));
  });
  return record("trigamma", {x}, y, {}, [](Grad&) {
    throw AutogradError(
        "backward of 'trigamma': the derivative of trigamma (polygamma(2)) is not "
        "implemented, so digamma is differentiable only once");
  });
}

// C = op(A) op(B), the primitive behind matmul and linear's backward.
//   dop(A) = dC op(B)^T,  dop(B) = op(A)^T dC; transposing those back gives the cases below.
Variable mm(const Variable& a, const Variable& b, bool ta, bool tb) {
  return record("matmul", {a, b}, matmul(a.value(), b.value(), ta, tb), save(a, b),
                [ta, tb](Grad& g) {
                  const Variable &A = g.saved(0), &B = g.saved(1), &G = g.out();
                  if (g.needs(0)) g.accumulate(0, ta ? mm(B, G, tb, true) : mm(G, B, false, !tb));
                  if (g.needs(1)) g.accumulate(1, tb ? mm(G, A, true, ta) : mm(A, G, !ta, false));
                });
}

// The adjoint of index_select: scatter-add rows of src into zeros of `shape`.
Variable index_add(const Shape& shape, std::int64_t axis, const std::vector<std::int64_t>& index,
                   const Variable& src) {
  return record("index_add", {src}, tg::index_add(shape, axis, index, src.value()), {},
                [axis, index](Grad& g) { g.accumulate(0, index_select(g.out(), axis, index)); });
}

Variable reduce(const Variable& x, Reduction r) {
  switch (r) {
    case Reduction::none:
      return x;
    case Reduction::sum:
      return sum(x);
    case Reduction::mean:
      return mean(x);
  }
  return x;
}

}  // namespace

// --- element-wise, binary ------------------------------------------------------------------------

// add: y = a + b,  dy/da = 1, dy/db = 1
Variable add(const Variable& a, const Variable& b) {
  return record("add", {a, b}, add(a.value(), b.value()), {}, [](Grad& g) {
    if (g.needs(0)) g.accumulate(0, sum_to(g.out(), g.input_shape(0)));
    if (g.needs(1)) g.accumulate(1, sum_to(g.out(), g.input_shape(1)));
  });
}

// sub: y = a - b,  dy/da = 1, dy/db = -1
Variable sub(const Variable& a, const Variable& b) {
  return record("sub", {a, b}, sub(a.value(), b.value()), {}, [](Grad& g) {
    if (g.needs(0)) g.accumulate(0, sum_to(g.out(), g.input_shape(0)));
    if (g.needs(1)) g.accumulate(1, sum_to(-g.out(), g.input_shape(1)));
  });
}

// mul: y = a b,  dy/da = b, dy/db = a
Variable mul(const Variable& a, const Variable& b) {
  return record("mul", {a, b}, mul(a.value(), b.value()), save(a, b), [](Grad& g) {
    if (g.needs(0)) g.accumulate(0, sum_to(mul_or_zero(g.out(), g.saved(1)), g.input_shape(0)));
    if (g.needs(1)) g.accumulate(1, sum_to(mul_or_zero(g.out(), g.saved(0)), g.input_shape(1)));
  });
}

// div: y = a / b,  dy/da = 1 / b, dy/db = -a / b^2
Variable div(const Variable& a, const Variable& b) {
  return record("div", {a, b}, div(a.value(), b.value()), save(a, b), [](Grad& g) {
    const Variable &A = g.saved(0), &B = g.saved(1);
    if (g.needs(0)) g.accumulate(0, sum_to(div_or_zero(g.out(), B), g.input_shape(0)));
    if (g.needs(1))
      g.accumulate(1, sum_to(-div_or_zero(mul_or_zero(g.out(), A), square(B)), g.input_shape(1)));
  });
}

// pow: y = a^b,  dy/da = b a^(b-1), dy/db = y log a  (0 where a = 0, as PyTorch does)
Variable pow(const Variable& a, const Variable& b) {
  return record("pow", {a, b}, pow(a.value(), b.value()), save_with_result(a, b), [](Grad& g) {
    const Variable &A = g.saved(0), &B = g.saved(1);
    if (g.needs(0))
      g.accumulate(0, sum_to(mul_or_zero(g.out(), B * pow(A, B - 1.0)), g.input_shape(0)));
    if (g.needs(1)) {
      const Variable a_zero = constant(eq(A.value(), Tensor::scalar(0, A.dtype())));
      const Variable safe_log =
          where(a_zero, scalar_like(A, 0), log(where(a_zero, scalar_like(A, 1), A)));
      g.accumulate(1, sum_to(mul_or_zero(g.out(), g.result() * safe_log), g.input_shape(1)));
    }
  });
}

// pow with a constant exponent: y = a^p,  dy/da = p a^(p-1)
Variable pow(const Variable& a, double p) {
  const Tensor pt = Tensor::scalar(p, a.dtype());
  return record("pow", {a}, pow(a.value(), pt), save(a), [p](Grad& g) {
    g.accumulate(0, mul_or_zero(g.out(), p * pow(g.saved(0), p - 1)));
  });
}

// maximum: y = max(a, b),  dy/da = [a > b] + [a = b] / 2, dy/db = 1 - dy/da
Variable maximum(const Variable& a, const Variable& b) {
  return record("maximum", {a, b}, maximum(a.value(), b.value()), save(a, b), [](Grad& g) {
    const Tensor &A = g.saved(0).value(), &B = g.saved(1).value();
    const Tensor wa = gt(A, B) + eq(A, B) * 0.5;
    if (g.needs(0)) g.accumulate(0, sum_to(g.out() * constant(wa), g.input_shape(0)));
    if (g.needs(1)) g.accumulate(1, sum_to(g.out() * constant(1.0 - wa), g.input_shape(1)));
  });
}

// minimum: y = min(a, b),  dy/da = [a < b] + [a = b] / 2, dy/db = 1 - dy/da
Variable minimum(const Variable& a, const Variable& b) {
  return record("minimum", {a, b}, minimum(a.value(), b.value()), save(a, b), [](Grad& g) {
    const Tensor &A = g.saved(0).value(), &B = g.saved(1).value();
    const Tensor wa = lt(A, B) + eq(A, B) * 0.5;
    if (g.needs(0)) g.accumulate(0, sum_to(g.out() * constant(wa), g.input_shape(0)));
    if (g.needs(1)) g.accumulate(1, sum_to(g.out() * constant(1.0 - wa), g.input_shape(1)));
  });
}

// mul_or_zero: y = a b, but 0 where a = 0 (whatever b),  dy/da = b, dy/db = a. Where a = 0, y is 0
// for every b, so dy/db is exactly 0 there even if the incoming gradient is infinite:
// mul_or_zero(a, g)
Variable mul_or_zero(const Variable& a, const Variable& b) {
  return record("mul_or_zero", {a, b}, mul_or_zero(a.value(), b.value()), save(a, b), [](Grad& g) {
    if (g.needs(0)) g.accumulate(0, sum_to(mul_or_zero(g.out(), g.saved(1)), g.input_shape(0)));
    if (g.needs(1)) g.accumulate(1, sum_to(mul_or_zero(g.saved(0), g.out()), g.input_shape(1)));
  });
}

// div_or_zero: y = a / b, but 0 where a = 0,  dy/da = 1 / b, dy/db = -y / b (exactly 0 where a = 0)
Variable div_or_zero(const Variable& a, const Variable& b) {
  return record(
      "div_or_zero", {a, b}, div_or_zero(a.value(), b.value()), save_with_result(b), [](Grad& g) {
        const Variable& B = g.saved(0);
        if (g.needs(0)) g.accumulate(0, sum_to(div_or_zero(g.out(), B), g.input_shape(0)));
        if (g.needs(1))
          g.accumulate(1,
                       sum_to(-div_or_zero(mul_or_zero(g.result(), g.out()), B), g.input_shape(1)));
      });
}

// where: y = m ? a : b,  dy/da = m, dy/db = 1 - m. Selecting (not multiplying by the mask) keeps a
// NaN gradient of the branch not taken out: 0 * NaN would be NaN.
Variable where(const Variable& mask, const Variable& a, const Variable& b) {
  return record("where", {mask, a, b}, where(mask.value(), a.value(), b.value()), save(mask),
                [](Grad& g) {
                  const Variable& m = g.saved(0);
                  const Variable zero = scalar_like(g.out(), 0);
                  if (g.needs(1))
                    g.accumulate(1, sum_to(where(m, g.out(), zero), g.input_shape(1)));
                  if (g.needs(2))
                    g.accumulate(2, sum_to(where(m, zero, g.out()), g.input_shape(2)));
                });
}

// clamp: y = min(max(x, lo), hi),  dy/dx = [lo <= x <= hi]
Variable clamp(const Variable& x, double lo, double hi) {
  return record("clamp", {x}, clamp(x.value(), lo, hi), save(x), [lo, hi](Grad& g) {
    const Tensor& X = g.saved(0).value();
    const Tensor inside =
        ge(X, Tensor::scalar(lo, X.dtype())) * le(X, Tensor::scalar(hi, X.dtype()));
    g.accumulate(0, where(constant(inside), g.out(), scalar_like(g.out(), 0)));
  });
}

// --- element-wise, unary -------------------------------------------------------------------------

// neg: y = -x,  dy/dx = -1
Variable neg(const Variable& x) {
  return record("neg", {x}, neg(x.value()), {}, [](Grad& g) { g.accumulate(0, -g.out()); });
}

// exp: y = e^x,  dy/dx = y
Variable exp(const Variable& x) {
  return record("exp", {x}, exp(x.value()), save_result(),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), g.result())); });
}

// expm1: y = e^x - 1,  dy/dx = y + 1
Variable expm1(const Variable& x) {
  return record("expm1", {x}, expm1(x.value()), save_result(),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), g.result() + 1.0)); });
}

// log: y = ln x,  dy/dx = 1 / x
Variable log(const Variable& x) {
  return record("log", {x}, log(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, div_or_zero(g.out(), g.saved(0))); });
}

// log1p: y = ln(1 + x),  dy/dx = 1 / (1 + x)
Variable log1p(const Variable& x) {
  return record("log1p", {x}, log1p(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, div_or_zero(g.out(), g.saved(0) + 1.0)); });
}

// sqrt: y = x^(1/2),  dy/dx = 1 / (2 y)
Variable sqrt(const Variable& x) {
  return record("sqrt", {x}, sqrt(x.value()), save_result(),
                [](Grad& g) { g.accumulate(0, div_or_zero(g.out(), g.result() * 2.0)); });
}

// square: y = x^2,  dy/dx = 2 x
Variable square(const Variable& x) {
  return record("square", {x}, square(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), g.saved(0) * 2.0)); });
}

// abs: y = |x|,  dy/dx = sign(x)  (0 at x = 0)
Variable abs(const Variable& x) {
  return record("abs", {x}, abs(x.value()), save(x), [](Grad& g) {
    g.accumulate(0, mul_or_zero(g.out(), constant(sign(g.saved(0).value()))));
  });
}

// tanh: y = tanh x,  dy/dx = 1 - y^2
Variable tanh(const Variable& x) {
  return record("tanh", {x}, tanh(x.value()), save_result(),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), 1.0 - square(g.result()))); });
}

// sigmoid: y = 1 / (1 + e^-x),  dy/dx = y (1 - y)   (saves the result, not the input)
Variable sigmoid(const Variable& x) {
  return record("sigmoid", {x}, sigmoid(x.value()), save_result(), [](Grad& g) {
    g.accumulate(0, mul_or_zero(g.out(), g.result() * (1.0 - g.result())));
  });
}

// relu: y = max(x, 0),  dy/dx = [x > 0] = [y > 0]
//   backward: dx = dy where y > 0, else 0, in one fused pass (no 0/1 mask is made); with
//   create_graph, dy * [y > 0] with the mask a constant, so that it can be differentiated again
Variable relu(const Variable& x) {
  return record("relu", {x}, relu(x.value()), save_result(), [](Grad& g) {
    if (grad_mode_enabled())
      g.accumulate(0, g.out() * constant(step(g.result().value())));
    else
      g.accumulate(0, Variable(relu_backward(g.out().value(), g.result().value())));
  });
}

// softplus: y = ln(1 + e^x),  dy/dx = sigmoid(x)
Variable softplus(const Variable& x) {
  return record("softplus", {x}, softplus(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), sigmoid(g.saved(0)))); });
}

// log_sigmoid: y = ln sigmoid(x) = -softplus(-x),  dy/dx = sigmoid(-x)
Variable log_sigmoid(const Variable& x) {
  return record("log_sigmoid", {x}, log_sigmoid(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), sigmoid(-g.saved(0)))); });
}

// erf: y = erf x,  dy/dx = 2 / sqrt(pi) e^(-x^2)
Variable erf(const Variable& x) {
  return record("erf", {x}, erf(x.value()), save(x), [](Grad& g) {
    g.accumulate(
        0, mul_or_zero(g.out(), exp(-square(g.saved(0))) * (2.0 / std::sqrt(std::numbers::pi))));
  });
}

// lgamma: y = ln |Gamma(x)|,  dy/dx = digamma(x)
Variable lgamma(const Variable& x) {
  return record("lgamma", {x}, lgamma(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), digamma(g.saved(0)))); });
}

// digamma: y = psi(x),  dy/dx = trigamma(x)
Variable digamma(const Variable& x) {
  return record("digamma", {x}, digamma(x.value()), save(x),
                [](Grad& g) { g.accumulate(0, mul_or_zero(g.out(), trigamma(g.saved(0)))); });
}

// reciprocal: y = 1 / x,  dy/dx = -y^2
Variable reciprocal(const Variable& x) {
  return record("reciprocal", {x}, reciprocal(x.value()), save_result(),
                [](Grad& g) { g.accumulate(0, -mul_or_zero(g.out(), square(g.result()))); });
}

// rsqrt: y = x^(-1/2),  dy/dx = -y^3 / 2   (composed: reciprocal(sqrt(x)))
Variable rsqrt(const Variable& x) { return reciprocal(sqrt(x)); }

// masked_fill: y = m ? value : x,  dy/dx = 1 - m   (composed with where)
Variable masked_fill(const Variable& x, const Variable& mask, double value) {
  return where(mask, scalar_like(x, value), x);
}

// erfinv: y = erf^-1(x),  dy/dx = 1 / erf'(y) = sqrt(pi) / 2 e^(y^2)  (saves the result).
// At x = +-1 the derivative is +inf: an incoming gradient of exactly 0 stays 0 there (not 0 inf).
Variable erfinv(const Variable& x) {
  return record("erfinv", {x}, erfinv(x.value()), save_result(), [](Grad& g) {
    // mul_or_zero: a zero incoming gradient stays 0 at +-1, where e^(y^2) is infinite
    g.accumulate(0,
                 mul_or_zero(g.out(), exp(square(g.result())) * (std::sqrt(std::numbers::pi) / 2)));
  });
}

// --- operators -----------------------------------------------------------------------------------

Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator-(const Variable& a) { return neg(a); }
Variable operator+(const Variable& a, double b) { return add(a, scalar_like(a, b)); }
Variable operator-(const Variable& a, double b) { return sub(a, scalar_like(a, b)); }
Variable operator*(const Variable& a, double b) { return mul(a, scalar_like(a, b)); }
Variable operator/(const Variable& a, double b) { return mul(a, scalar_like(a, 1.0 / b)); }
Variable operator+(double a, const Variable& b) { return add(scalar_like(b, a), b); }
Variable operator-(double a, const Variable& b) { return sub(scalar_like(b, a), b); }
Variable operator*(double a, const Variable& b) { return mul(scalar_like(b, a), b); }
Variable operator/(double a, const Variable& b) { return div(scalar_like(b, a), b); }

// --- reductions ----------------------------------------------------------------------------------

// sum: y = sum_i x_i,  dy/dx_i = 1: the gradient is broadcast back over the reduced axes
Variable sum(const Variable& x, const Axes& axes, bool keepdim) {
  const Shape kept = keepdim_shape(x.shape(), axes);
  return record("sum", {x}, sum(x.value(), axes, keepdim), {}, [kept](Grad& g) {
    g.accumulate(0, broadcast_to(reshape(g.out(), kept), g.input_shape(0)));
  });
}

// mean: y = sum(x) / n
Variable mean(const Variable& x, const Axes& axes, bool keepdim) {
  const Variable s = sum(x, axes, keepdim);
  const std::int64_t n = s.numel() == 0 ? 0 : x.numel() / s.numel();
  return s * (1.0 / static_cast<double>(n));
}

// max: y = max_i x_i,  dy/dx_i = [x_i = y] / (number of maxima): ties share the gradient
Variable max(const Variable& x, const Axes& axes, bool keepdim) {
  const Shape kept = keepdim_shape(x.shape(), axes);
  return record("max", {x}, max(x.value(), axes, keepdim), save_with_result(x),
                [kept, axes](Grad& g) {
                  const Tensor& X = g.saved(0).value();
                  const Tensor hit = eq(X, g.result().value().reshape(kept));
                  const Tensor share = hit / sum(hit, axes, /*keepdim=*/true);
                  g.accumulate(0, mul_or_zero(reshape(g.out(), kept), constant(share)));
                });
}

// logsumexp: y = ln sum_i e^(x_i),  dy/dx_i = e^(x_i - y) = softmax(x)_i
Variable logsumexp(const Variable& x, const Axes& axes, bool keepdim) {
  const Shape kept = keepdim_shape(x.shape(), axes);
  return record(
      "logsumexp", {x}, logsumexp(x.value(), axes, keepdim), save_with_result(x), [kept](Grad& g) {
        g.accumulate(
            0, mul_or_zero(reshape(g.out(), kept), exp(g.saved(0) - reshape(g.result(), kept))));
      });
}

// softmax: y = e^(x - logsumexp(x)),  dx = y (g - sum(g y))   along the axis
Variable softmax(const Variable& x, std::int64_t axis) {
  const Tensor y = exp(x.value() - logsumexp(x.value(), {axis}, /*keepdim=*/true));
  return record("softmax", {x}, y, save_result(), [axis](Grad& g) {
    const Variable& y = g.result();
    g.accumulate(0,
                 mul_or_zero(g.out() - sum(mul_or_zero(g.out(), y), {axis}, /*keepdim=*/true), y));
  });
}

// log_softmax: y = x - logsumexp(x),  dx = g - e^y sum(g)   along the axis
Variable log_softmax(const Variable& x, std::int64_t axis) {
  const Tensor y = x.value() - logsumexp(x.value(), {axis}, /*keepdim=*/true);
  return record("log_softmax", {x}, y, save_result(), [axis](Grad& g) {
    g.accumulate(0, g.out() - mul_or_zero(sum(g.out(), {axis}, /*keepdim=*/true), exp(g.result())));
  });
}

// --- shape ops -----------------------------------------------------------------------------------

// reshape: same values, new shape; the gradient takes the old shape back
Variable reshape(const Variable& x, const Shape& shape) {
  return record("reshape", {x}, x.value().reshape(shape), {},
                [](Grad& g) { g.accumulate(0, reshape(g.out(), g.input_shape(0))); });
}

// transpose: swap two axes; the gradient swaps them back
Variable transpose(const Variable& x, std::int64_t axis0, std::int64_t axis1) {
  return record("transpose", {x}, transpose(x.value(), axis0, axis1), {},
                [axis0, axis1](Grad& g) { g.accumulate(0, transpose(g.out(), axis0, axis1)); });
}

// permute: y = x with axes reordered by perm; the gradient applies the inverse permutation
Variable permute(const Variable& x, const Axes& perm) {
  Axes inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i)
    inverse[normalize_axis(perm[i], perm.size(), "permute")] = static_cast<std::int64_t>(i);
  return record("permute", {x}, permute(x.value(), perm), {},
                [inverse](Grad& g) { g.accumulate(0, permute(g.out(), inverse)); });
}

// slice: y = x[start:stop] along axis; the gradient is g padded with zeros to x's shape
Variable slice(const Variable& x, std::int64_t axis, std::int64_t start, std::int64_t stop) {
  const int ax = normalize_axis(axis, x.shape().size(), "slice");
  const std::int64_t n = x.shape()[ax];
  const std::int64_t lo = std::clamp<std::int64_t>(start < 0 ? start + n : start, 0, n);
  const std::int64_t hi = std::clamp<std::int64_t>(stop < 0 ? stop + n : stop, lo, n);
  return record("slice", {x}, slice(x.value(), ax, lo, hi), {}, [ax, lo, hi, n](Grad& g) {
    std::vector<Variable> parts;
    Shape s = g.input_shape(0);
    if (lo > 0) {
      s[ax] = lo;
      parts.push_back(constant(Tensor::zeros(s, g.out().dtype())));
    }
    parts.push_back(g.out());
    if (hi < n) {
      s[ax] = n - hi;
      parts.push_back(constant(Tensor::zeros(s, g.out().dtype())));
    }
    g.accumulate(0, parts.size() == 1 ? g.out() : concat(parts, ax));
  });
}

// concat: y = [x_0, x_1, ...] along axis; each input's gradient is its slice of g
Variable concat(const std::vector<Variable>& xs, std::int64_t axis) {
  std::vector<Tensor> values;
  for (const auto& x : xs) values.push_back(x.value());
  Tensor y = concat(values, axis);
  const int ax = normalize_axis(axis, y.shape().size(), "concat");
  return record("concat", xs, y, {}, [ax, count = xs.size()](Grad& g) {
    std::int64_t offset = 0;
    for (std::size_t k = 0; k < count; ++k) {
      const std::int64_t len = g.input_shape(k)[ax];
      if (g.needs(k)) g.accumulate(k, slice(g.out(), ax, offset, offset + len));
      offset += len;
    }
  });
}

// index_select: y = x[index] along axis; the gradient scatter-adds g back (repeats add up)
Variable index_select(const Variable& x, std::int64_t axis,
                      const std::vector<std::int64_t>& index) {
  return record("index_select", {x}, index_select(x.value(), axis, index), {},
                [axis, index](Grad& g) {
                  g.accumulate(0, index_add(g.input_shape(0), axis, index, g.out()));
                });
}

// broadcast_to: y = x repeated over new or size-1 axes; the gradient sums back: sum_to
Variable broadcast_to(const Variable& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return record("broadcast_to", {x}, broadcast_to(x.value(), shape), {},
                [](Grad& g) { g.accumulate(0, sum_to(g.out(), g.input_shape(0))); });
}

// sum_to: y = x summed down to shape (the adjoint of broadcast_to); the gradient broadcasts back
Variable sum_to(const Variable& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return record("sum_to", {x}, sum_to(x.value(), shape), {},
                [](Grad& g) { g.accumulate(0, broadcast_to(g.out(), g.input_shape(0))); });
}

Variable squeeze(const Variable& x, std::int64_t axis) {
  return reshape(x, squeeze(x.value(), axis).shape());
}

Variable unsqueeze(const Variable& x, std::int64_t axis) {
  return reshape(x, unsqueeze(x.value(), axis).shape());
}

// stack: y = [x_0, x_1, ...] along a new axis   (composed: unsqueeze each, concat)
Variable stack(const std::vector<Variable>& xs, std::int64_t axis) {
  if (xs.empty()) throw ValueError("stack: no tensors to stack");
  for (const auto& x : xs)
    if (x.shape() != xs[0].shape())
      throw ShapeError(fmt::format("stack: shapes differ: {} and {}", shape_str(xs[0].shape()),
                                   shape_str(x.shape())));
  const std::int64_t ax = axis < 0 ? axis + xs[0].dim() + 1 : axis;
  std::vector<Variable> parts;
  for (const auto& x : xs) parts.push_back(unsqueeze(x, ax));
  return concat(parts, ax);
}

// --- linear algebra ------------------------------------------------------------------------------

// matmul: C = A B,  dA = dC B^T, dB = A^T dC
Variable matmul(const Variable& a, const Variable& b) { return mm(a, b, false, false); }

// linear: y = x W^T + b,  dx = dy W, dW = dy^T x, db = sum over the batch of dy
Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  Tensor y = linear(x.value(), w.value(), b.defined() ? b.value() : Tensor());
  std::vector<Variable> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return record("linear", inputs, std::move(y), save(x, w), [](Grad& g) {
    const Variable &X = g.saved(0), &W = g.saved(1), &G = g.out();
    if (g.needs(0)) g.accumulate(0, mm(G, W, false, false));
    if (g.needs(1)) g.accumulate(1, mm(G, X, true, false));
    if (g.needs(2)) g.accumulate(2, sum(G, {0}));
  });
}

// --- losses --------------------------------------------------------------------------------------

// bce_with_logits: l = softplus(z) - y z  (= -[y ln s(z) + (1-y) ln(1-s(z))]),
//   dl/dz = sigmoid(z) - y,  dl/dy = -z
Variable binary_cross_entropy_with_logits(const Variable& logits, const Variable& target,
                                          Reduction reduction) {
  if (logits.shape() != target.shape())
    throw ShapeError(fmt::format("binary_cross_entropy_with_logits: logits {} and target {} differ",
                                 shape_str(logits.shape()), shape_str(target.shape())));
  Tensor l = softplus(logits.value()) - target.value() * logits.value();
  Variable loss =
      record("bce_with_logits", {logits, target}, std::move(l), save(logits, target), [](Grad& g) {
        const Variable &Z = g.saved(0), &Y = g.saved(1);
        if (g.needs(0)) g.accumulate(0, mul_or_zero(g.out(), sigmoid(Z) - Y));
        if (g.needs(1)) g.accumulate(1, -mul_or_zero(g.out(), Z));
      });
  return reduce(loss, reduction);
}

// bernoulli_log_prob: lp = x l - softplus(l)  (= log p(x) for a Bernoulli with logits l),
//   dlp/dl = x - sigmoid(l),  dlp/dx = l
// Forward and the logits' gradient are one fused pass each (tensor/fused.hpp); with create_graph
// the backward is the same formula in differentiable ops. Broadcasting operands are expanded first.
Variable bernoulli_log_prob(const Variable& logits, const Variable& x) {
  if (logits.shape() != x.shape()) {
    const Shape s = broadcast_shapes(logits.shape(), x.shape(), "bernoulli_log_prob");
    return bernoulli_log_prob(broadcast_to(logits, s), broadcast_to(x, s));
  }
  return record("bernoulli_log_prob", {logits, x}, bernoulli_log_prob(logits.value(), x.value()),
                save(logits, x), [](Grad& g) {
                  const Variable &L = g.saved(0), &X = g.saved(1);
                  if (g.needs(0)) {
                    if (grad_mode_enabled())
                      g.accumulate(0, g.out() * (X - sigmoid(L)));
                    else
                      g.accumulate(0, Variable(bernoulli_log_prob_backward(g.out().value(),
                                                                           L.value(), X.value())));
                  }
                  if (g.needs(1)) g.accumulate(1, g.out() * L);
                });
}

// mse_loss: l = (x - y)^2, composed from differentiable ops (no backward of its own)
Variable mse_loss(const Variable& x, const Variable& y, Reduction reduction) {
  if (x.shape() != y.shape())
    throw ShapeError(fmt::format("mse_loss: input {} and target {} differ", shape_str(x.shape()),
                                 shape_str(y.shape())));
  return reduce(square(x - y), reduction);
}

// l1_loss: l = |x - y|, composed (abs's derivative is sign, 0 at a tie)
Variable l1_loss(const Variable& x, const Variable& y, Reduction reduction) {
  if (x.shape() != y.shape())
    throw ShapeError(fmt::format("l1_loss: input {} and target {} differ", shape_str(x.shape()),
                                 shape_str(y.shape())));
  return reduce(abs(x - y), reduction);
}

// huber_loss: l = |d| < delta ? d^2 / 2 : delta (|d| - delta / 2), d = x - y;
//   dl/dd = |d| < delta ? d : delta sign(d)   (composed with where)
Variable huber_loss(const Variable& x, const Variable& y, Reduction reduction, double delta) {
  if (x.shape() != y.shape())
    throw ShapeError(fmt::format("huber_loss: input {} and target {} differ", shape_str(x.shape()),
                                 shape_str(y.shape())));
  if (!(delta > 0))
    throw ValueError(fmt::format("huber_loss: delta must be positive, got {}", delta));
  const Variable d = x - y;
  const Variable a = abs(d);
  const Variable inside(lt(a.value(), Tensor::scalar(delta, d.dtype())));
  return reduce(where(inside, square(d) * 0.5, (a - 0.5 * delta) * delta), reduction);
}

}  // namespace tg
