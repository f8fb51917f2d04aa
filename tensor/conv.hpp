// 2-D convolution of (N, C, H, W) tensors, and its adjoint (the transposed convolution), by im2col
// feeding the GEMM (tensor/gemm.hpp). PyTorch's semantics (cross-correlation, groups = 1):
//
//   conv2d:            x (N, C, H, W), w (Co, C, kh, kw), b (Co) -> y (N, Co, Ho, Wo)
//                      Ho = (H + 2 ph - dh (kh - 1) - 1) / sh + 1   (floor), Wo likewise
//   conv_transpose2d:  x (N, Ci, H, W), w (Ci, Co, kh, kw), b (Co) -> y (N, Co, Ho, Wo)
//                      Ho = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1, Wo likewise
//
// conv_transpose2d(x, w) is conv2d_backward_input(x, w) (the adjoint of conv2d with the same
// weight), so the three products below are all there is. How they map onto the GEMM, with the index
// arithmetic: docs/conv.md. Threads split the im2col/col2im copies by image plane and the GEMM by
// output tiles, never a sum, so every result is bitwise the same for any thread count.
#pragma once
#include <array>
#include <cstdint>

#include "tapegrad/tensor/tensor.hpp"

namespace tg {

// Stride, zero padding and dilation per spatial axis (height, width), like PyTorch's tuples.
// output_padding is for conv_transpose2d only (extra rows/columns at the bottom/right of its
// output, to pick one of the input sizes a strided conv2d maps to the same output size); it must be
// smaller than the stride or the dilation, as in PyTorch. conv2d rejects a nonzero one.
struct ConvOptions {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::array<std::int64_t, 2> output_padding{0, 0};

  ConvOptions& set_stride(std::int64_t s) {
    stride = {s, s};
    return *this;
  }
  ConvOptions& set_padding(std::int64_t p) {
    padding = {p, p};
    return *this;
  }
  ConvOptions& set_dilation(std::int64_t d) {
    dilation = {d, d};
    return *this;
  }
  ConvOptions& set_output_padding(std::int64_t p) {
    output_padding = {p, p};
    return *this;
  }
};

// The output shapes; ShapeError (naming the op and both shapes) when they do not fit.
Shape conv2d_output_shape(const Shape& x, const Shape& w, const ConvOptions& o);
Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, const ConvOptions& o);

// y = conv2d(x, w) + b; b may be undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o);
// The two backward products of conv2d, for gy (N, Co, Ho, Wo):
//   dx = conv2d_backward_input(gy, w, x's shape)    (the adjoint of x -> conv2d(x, w))
//   dw = conv2d_backward_weight(gy, x, w's shape)   (the adjoint of w -> conv2d(x, w))
// x_shape is needed because a strided conv2d maps several input sizes to the same output size.
Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const Shape& x_shape,
                             const ConvOptions& o);
Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape,
                              const ConvOptions& o);
// y = conv_transpose2d(x, w) + b; b may be undefined.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o);

}  // namespace tg
