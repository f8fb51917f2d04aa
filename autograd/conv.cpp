// The convolutions, forward and backward side by side. Notation: A_w is the linear map x ->
// conv2d(x, w) (no bias), so y = A_w x + b and, because conv2d is bilinear in (x, w),
//
//   y[n, co, oh, ow] = b[co] + sum_{c, ki, kj} w[co, c, ki, kj] x[n, c, oh sh - ph + ki dh, ow sw -
//   pw + kj dw]
//
// (x is 0 outside the image). Each backward is an adjoint of that one index map:
//   dL/dx = A_w^T dy                       = conv2d_backward_input(dy, w)   (= conv_transpose2d(dy,
//   w)) dL/dw[co, c, ki, kj] = sum_{n, oh, ow} dy[n, co, oh, ow] x[n, c, oh sh - ph + ki dh, ...]
//                                          = conv2d_backward_weight(dy, x)
//   dL/db[co] = sum_{n, oh, ow} dy[n, co, oh, ow]
// and <G, conv2d_backward_weight(dy, x)> = <dy, conv2d(x, G)> = <x, conv2d_backward_input(dy, G)>
// gives the backward of the backward products. How each maps onto the GEMM: docs/conv.md.
//
// Forward mode (jvp) rules, for when autograd has forward mode: every op here is bilinear, so its
// tangent is the sum of the op applied to one tangent at a time; each rule is written beside its
// op.
#include "tapegrad/autograd/conv.hpp"

#include "tapegrad/autograd/ops.hpp"

namespace tg {
namespace {

ConvOptions no_output_padding(ConvOptions o) {
  o.output_padding = {0, 0};
  return o;
}

Tensor value_or_undefined(const Variable& v) { return v.defined() ? v.value() : Tensor(); }

}  // namespace

// conv2d: y = A_w x + b,  dx = A_w^T dy,  dw = conv2d_backward_weight(dy, x),  db = sum_{n,h,w} dy
//   jvp: y' = conv2d(x', w) + conv2d(x, w') + b'[None, :, None, None]
Variable conv2d(const Variable& x, const Variable& w, const Variable& b, const ConvOptions& o) {
  Tensor y = conv2d(x.value(), w.value(), value_or_undefined(b), o);
  std::vector<Variable> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return record("conv2d", inputs, std::move(y), save(x, w), [o](Grad& g) {
    const Variable &X = g.saved(0), &W = g.saved(1), &G = g.out();
    if (g.needs(0)) g.accumulate(0, conv2d_backward_input(G, W, X.shape(), o));
    if (g.needs(1)) g.accumulate(1, conv2d_backward_weight(G, X, W.shape(), o));
    if (g.needs(2)) g.accumulate(2, sum(G, {0, 2, 3}));
  });
}

// conv2d_backward_input: dx = A_w^T gy (linear in gy, bilinear in (gy, w)). For an incoming G (x's
// shape):
//   d/dgy = A_w G = conv2d(G, w),  d/dw = conv2d_backward_weight(gy, G)   (from <G, A_w^T gy> =
//   <A_w G, gy>) jvp: dx' = conv2d_backward_input(gy', w) + conv2d_backward_input(gy, w')
Variable conv2d_backward_input(const Variable& gy, const Variable& w, const Shape& x_shape,
                               const ConvOptions& o) {
  Tensor dx = conv2d_backward_input(gy.value(), w.value(), x_shape, o);
  return record("conv2d_backward_input", {gy, w}, std::move(dx), save(gy, w), [o](Grad& g) {
    const Variable &GY = g.saved(0), &W = g.saved(1), &G = g.out();
    if (g.needs(0)) g.accumulate(0, conv2d(G, W, {}, o));
    if (g.needs(1)) g.accumulate(1, conv2d_backward_weight(GY, G, W.shape(), o));
  });
}

// conv2d_backward_weight: dw = B(gy, x), bilinear. For an incoming G (w's shape):
//   d/dgy = conv2d(x, G),  d/dx = conv2d_backward_input(gy, G)
//   (from <G, B(gy, x)> = sum G[co,c,ki,kj] gy[n,co,oh,ow] x[n,c,..] = <gy, A_G x> = <A_G^T gy, x>)
//   jvp: dw' = conv2d_backward_weight(gy', x) + conv2d_backward_weight(gy, x')
Variable conv2d_backward_weight(const Variable& gy, const Variable& x, const Shape& w_shape,
                                const ConvOptions& o) {
  Tensor dw = conv2d_backward_weight(gy.value(), x.value(), w_shape, o);
  return record("conv2d_backward_weight", {gy, x}, std::move(dw), save(gy, x), [o](Grad& g) {
    const Variable &GY = g.saved(0), &X = g.saved(1), &G = g.out();
    if (g.needs(0)) g.accumulate(0, conv2d(X, G, {}, o));
    if (g.needs(1)) g.accumulate(1, conv2d_backward_input(GY, G, X.shape(), o));
  });
}

// conv_transpose2d: y = A_w^T x + b, where A_w is the conv2d (same stride, padding, dilation) whose
// input has y's shape and whose weight is w (Ci, Co, kh, kw) read as (out = Ci, in = Co). So
//   dx = A_w dy = conv2d(dy, w),  dw = conv2d_backward_weight(x, dy)  (x plays A_w's output
//   gradient), db = sum_{n,h,w} dy jvp: y' = conv_transpose2d(x', w) + conv_transpose2d(x, w') +
//   b'[None, :, None, None]
Variable conv_transpose2d(const Variable& x, const Variable& w, const Variable& b,
                          const ConvOptions& o) {
  Tensor y = conv_transpose2d(x.value(), w.value(), value_or_undefined(b), o);
  std::vector<Variable> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return record("conv_transpose2d", inputs, std::move(y), save(x, w),
                [oc = no_output_padding(o)](Grad& g) {
                  const Variable &X = g.saved(0), &W = g.saved(1), &G = g.out();
                  if (g.needs(0)) g.accumulate(0, conv2d(G, W, {}, oc));
                  if (g.needs(1)) g.accumulate(1, conv2d_backward_weight(X, G, W.shape(), oc));
                  if (g.needs(2)) g.accumulate(2, sum(G, {0, 2, 3}));
                });
}

}  // namespace tg
