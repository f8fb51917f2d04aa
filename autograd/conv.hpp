// The convolutions as differentiable ops (conv.cpp): conv2d and conv_transpose2d with PyTorch's
// semantics (tensor/conv.hpp has the shapes and options), plus conv2d's two backward products as
// ops of their own, so that the backward is itself differentiable (gradients of gradients).
#pragma once
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/conv.hpp"

namespace tg {

// x (N, C, H, W), w (Co, C, kh, kw), b (Co) or undefined -> (N, Co, Ho, Wo):
// torch.nn.functional.conv2d.
Variable conv2d(const Variable& x, const Variable& w, const Variable& b = {},
                const ConvOptions& o = {});
// x (N, Ci, H, W), w (Ci, Co, kh, kw), b (Co) or undefined -> (N, Co, Ho, Wo): the adjoint of
// conv2d (torch.nn.functional.conv_transpose2d with groups = 1). o.output_padding must be <
// o.stride.
Variable conv_transpose2d(const Variable& x, const Variable& w, const Variable& b = {},
                          const ConvOptions& o = {});

// conv2d's backward products, differentiable: dx = conv2d_backward_input(dy, w, x's shape) and
// dw = conv2d_backward_weight(dy, x, w's shape) for y = conv2d(x, w).
Variable conv2d_backward_input(const Variable& gy, const Variable& w, const Shape& x_shape,
                               const ConvOptions& o);
Variable conv2d_backward_weight(const Variable& gy, const Variable& x, const Shape& w_shape,
                                const ConvOptions& o);

}  // namespace tg
