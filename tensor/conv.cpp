// conv2d and its adjoints by im2col + GEMM. The index maps (docs/conv.md):
//
//   col[r][n P + p] = x[n, c, oh sh - ph + ki dh, ow sw - pw + kj dw]   (0 outside the image)
//     r = (c kh + ki) kw + kj  in [0, K = C kh kw),   p = oh Wo + ow  in [0, P = Ho Wo)
//
//   forward:          Y'(Co, N P) = W(Co, K) col(K, N P),          y[n, co, p] = Y'[co][n P + p] +
//   b[co] backward weight:  dW(Co, K)   = dY'(Co, N P) col(K, N P)^T      (GEMM's inner dimension:
//   no split) backward input:   dcol(K, N P) = W(Co, K)^T dY'(Co, N P),       dx = col2im(dcol),
//   the adjoint of
//                     im2col: every col entry is added back onto the pixel it was copied from.
//
// Large batches are done in chunks of images so that col stays below kColBudget elements; the chunk
// size depends on the shapes only (never the thread count), and the weight gradient adds the chunks
// in order with beta = 1, so results are the same for any thread count.
#include "tapegrad/tensor/conv.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "tapegrad/tensor/gemm.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace tg {
namespace {

using i64 = std::int64_t;

constexpr i64 kColBudget = i64(1) << 22;  // elements of the im2col buffer per chunk (16 MiB of f32)

// The geometry of one conv2d: input (N, C, H, W), weight (Co, C, kh, kw), output (N, Co, Ho, Wo).
struct Geom {
  i64 N, C, H, W, Co, kh, kw, Ho, Wo;
  i64 sh, sw, ph, pw, dh, dw;
  i64 K() const { return C * kh * kw; }
  i64 P() const { return Ho * Wo; }
};

void check_options(const ConvOptions& o, const char* op) {
  for (int a = 0; a < 2; ++a) {
    if (o.stride[a] < 1 || o.dilation[a] < 1 || o.padding[a] < 0 || o.output_padding[a] < 0)
      throw ValueError(
          fmt::format("{}: stride ({}, {}) and dilation ({}, {}) must be >= 1, padding ({}, {}) "
                      "and output_padding ({}, {}) >= 0",
                      op, o.stride[0], o.stride[1], o.dilation[0], o.dilation[1], o.padding[0],
                      o.padding[1], o.output_padding[0], o.output_padding[1]));
  }
}

void check_4d(const Shape& s, const char* op, const char* what, const char* layout) {
  if (s.size() != 4)
    throw ShapeError(fmt::format("{}: {} {} should be 4-D {}", op, what, shape_str(s), layout));
}

// The conv2d geometry of input x_shape and weight w_shape (Co, C, kh, kw); checks everything.
Geom geometry(const Shape& x, const Shape& w, const ConvOptions& o, const char* op) {
  check_options(o, op);
  check_4d(x, op, "input", "(N, C, H, W)");
  check_4d(w, op, "weight", "(out_channels, in_channels, kh, kw)");
  if (x[1] != w[1])
    throw ShapeError(fmt::format("{}: input {} has {} channels but weight {} expects {}", op,
                                 shape_str(x), x[1], shape_str(w), w[1]));
  Geom g{x[0], x[1],        x[2],        x[3],         w[0],         w[2],          w[3],         0,
         0,    o.stride[0], o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1]};
  if (g.kh < 1 || g.kw < 1 || g.Co < 1)
    throw ShapeError(fmt::format("{}: weight {} is empty", op, shape_str(w)));
  const i64 eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;  // the dilated kernel's extent
  if (g.H + 2 * g.ph < eh || g.W + 2 * g.pw < ew)
    throw ShapeError(
        fmt::format("{}: input {} padded by ({}, {}) is smaller than the (dilated) kernel ({}, {})",
                    op, shape_str(x), g.ph, g.pw, eh, ew));
  g.Ho = (g.H + 2 * g.ph - eh) / g.sh + 1;
  g.Wo = (g.W + 2 * g.pw - ew) / g.sw + 1;
  return g;
}

void check_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("{}: dtypes differ: {} and {} (convert one with .to())", op,
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
}

void check_defined(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw ValueError(fmt::format("{}: the {} is undefined", op, what));
}

void check_bias(const Tensor& b, const Tensor& x, i64 channels, const char* op) {
  if (!b.defined()) return;
  check_dtype(x, b, op);
  if (b.shape() != Shape{channels})
    throw ShapeError(
        fmt::format("{}: bias {} should be ({},)", op, shape_str(b.shape()), channels));
}

// The range [lo, hi) of output positions o whose input o s - p + k d lies in [0, n).
inline void valid_range(i64 n, i64 out, i64 s, i64 p, i64 off, i64& lo, i64& hi) {
  const i64 first = p - off;  // o s >= first
  lo = first <= 0 ? 0 : (first + s - 1) / s;
  const i64 last = n - 1 + p - off;  // o s <= last
  hi = last < 0 ? 0 : std::min(out, last / s + 1);
  lo = std::min(lo, hi);
}

// col (K, cols) with column offset n P for images [n0, n0 + nb) of x; cols = nb P. Images outer and
// taps inner, so the 16 taps of a 4x4 kernel re-read an input plane while it is still in L1.
template <class T>
void im2col(const T* x, T* col, const Geom& g, i64 n0, i64 nb) {
  const i64 K = g.K(), P = g.P(), cols = nb * P, khw = g.kh * g.kw;
  parallel_for(0, nb * K, std::max<i64>(1, 8192 / std::max<i64>(P, 1)), [&](i64 begin, i64 end) {
    for (i64 t = begin; t < end; ++t) {
      const i64 n = t / K, r = t % K;
      const i64 c = r / khw, ki = (r / g.kw) % g.kh, kj = r % g.kw;
      const T* plane = x + ((n0 + n) * g.C + c) * g.H * g.W;
      T* dst = col + r * cols + n * P;
      i64 lo, hi;
      valid_range(g.W, g.Wo, g.sw, g.pw, kj * g.dw, lo, hi);
      for (i64 oh = 0; oh < g.Ho; ++oh, dst += g.Wo) {
        const i64 ih = oh * g.sh - g.ph + ki * g.dh;
        if (ih < 0 || ih >= g.H) {
          for (i64 ow = 0; ow < g.Wo; ++ow) dst[ow] = T(0);
          continue;
        }
        const T* src =
            plane + ih * g.W - g.pw + kj * g.dw;  // src[ow sw] is x[.., ih, ow sw - pw + kj dw]
        for (i64 ow = 0; ow < lo; ++ow) dst[ow] = T(0);
        if (g.sw == 1)
          for (i64 ow = lo; ow < hi; ++ow) dst[ow] = src[ow];
        else
          for (i64 ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sw];
        for (i64 ow = hi; ow < g.Wo; ++ow) dst[ow] = T(0);
      }
    }
  });
}

// The adjoint of im2col: dx[n0 + n] += every col entry, at the pixel it was copied from. Threads
// own whole (image, channel) planes and add in a fixed order.
template <class T>
void col2im(const T* col, T* dx, const Geom& g, i64 n0, i64 nb) {
  const i64 P = g.P(), cols = nb * P;
  parallel_for(0, nb * g.C, std::max<i64>(1, 8192 / std::max<i64>(P * g.kh * g.kw, 1)),
               [&](i64 begin, i64 end) {
                 for (i64 t = begin; t < end; ++t) {
                   const i64 n = t / g.C, c = t % g.C;
                   T* plane = dx + ((n0 + n) * g.C + c) * g.H * g.W;
                   std::fill_n(plane, g.H * g.W, T(0));
                   for (i64 ki = 0; ki < g.kh; ++ki)
                     for (i64 kj = 0; kj < g.kw; ++kj) {
                       const T* src = col + ((c * g.kh + ki) * g.kw + kj) * cols + n * P;
                       i64 lo, hi;
                       valid_range(g.W, g.Wo, g.sw, g.pw, kj * g.dw, lo, hi);
                       for (i64 oh = 0; oh < g.Ho; ++oh, src += g.Wo) {
                         const i64 ih = oh * g.sh - g.ph + ki * g.dh;
                         if (ih < 0 || ih >= g.H) continue;
                         T* row = plane + ih * g.W - g.pw + kj * g.dw;
                         if (g.sw == 1)
                           for (i64 ow = lo; ow < hi; ++ow) row[ow] += src[ow];
                         else
                           for (i64 ow = lo; ow < hi; ++ow) row[ow * g.sw] += src[ow];
                       }
                     }
                 }
               });
}

// (nb, Co, P) images [n0, n0 + nb) of y  <->  Y'(Co, nb P).
template <class T>
void to_channel_major(const T* y, T* yc, i64 Co, i64 P, i64 n0, i64 nb) {
  parallel_for(0, nb * Co, std::max<i64>(1, 8192 / std::max<i64>(P, 1)), [&](i64 begin, i64 end) {
    for (i64 t = begin; t < end; ++t) {
      const i64 n = t / Co, co = t % Co;
      std::copy_n(y + ((n0 + n) * Co + co) * P, P, yc + co * nb * P + n * P);
    }
  });
}

template <class T>
void from_channel_major(const T* yc, T* y, const T* bias, i64 Co, i64 P, i64 n0, i64 nb) {
  parallel_for(0, nb * Co, std::max<i64>(1, 8192 / std::max<i64>(P, 1)), [&](i64 begin, i64 end) {
    for (i64 t = begin; t < end; ++t) {
      const i64 n = t / Co, co = t % Co;
      const T* src = yc + co * nb * P + n * P;
      T* dst = y + ((n0 + n) * Co + co) * P;
      if (bias) {
        const T b = bias[co];
        for (i64 p = 0; p < P; ++p) dst[p] = src[p] + b;
      } else {
        std::copy_n(src, P, dst);
      }
    }
  });
}

i64 chunk_images(const Geom& g) {
  return std::clamp<i64>(kColBudget / std::max<i64>(g.K() * g.P(), 1), 1, std::max<i64>(g.N, 1));
}

// Uninitialised scratch memory from the tensor allocator.
template <class T>
Tensor scratch(i64 n) {
  return Tensor::empty({n}, std::is_same_v<T, float> ? DType::f32 : DType::f64);
}

// y = conv2d(x, w) + bias (bias may be null): the forward product.
template <class T>
void forward(const T* x, const T* w, const T* bias, T* y, const Geom& g) {
  const i64 K = g.K(), P = g.P(), nbmax = chunk_images(g);
  Tensor col_t = scratch<T>(K * P * nbmax), yc_t = scratch<T>(g.Co * P * nbmax);
  T *col = col_t.data<T>(), *yc = yc_t.data<T>();
  for (i64 n0 = 0; n0 < g.N; n0 += nbmax) {
    const i64 nb = std::min(nbmax, g.N - n0), cols = nb * P;
    im2col(x, col, g, n0, nb);
    gemm<T>(false, false, g.Co, cols, K, T(1), w, K, col, cols, T(0), yc, cols);
    from_channel_major(yc, y, bias, g.Co, P, n0, nb);
  }
}

// dx = W^T dY', col2im'd.
template <class T>
void backward_input(const T* gy, const T* w, T* dx, const Geom& g) {
  const i64 K = g.K(), P = g.P(), nbmax = chunk_images(g);
  Tensor dcol_t = scratch<T>(K * P * nbmax), gyc_t = scratch<T>(g.Co * P * nbmax);
  T *dcol = dcol_t.data<T>(), *gyc = gyc_t.data<T>();
  for (i64 n0 = 0; n0 < g.N; n0 += nbmax) {
    const i64 nb = std::min(nbmax, g.N - n0), cols = nb * P;
    to_channel_major(gy, gyc, g.Co, P, n0, nb);
    gemm<T>(true, false, K, cols, g.Co, T(1), w, K, gyc, cols, T(0), dcol, cols);
    col2im(dcol, dx, g, n0, nb);
  }
}

// dW = dY' col^T, the chunks added in order.
template <class T>
void backward_weight(const T* gy, const T* x, T* dw, const Geom& g) {
  const i64 K = g.K(), P = g.P(), nbmax = chunk_images(g);
  Tensor col_t = scratch<T>(K * P * nbmax), gyc_t = scratch<T>(g.Co * P * nbmax);
  T *col = col_t.data<T>(), *gyc = gyc_t.data<T>();
  for (i64 n0 = 0; n0 < g.N; n0 += nbmax) {
    const i64 nb = std::min(nbmax, g.N - n0), cols = nb * P;
    im2col(x, col, g, n0, nb);
    to_channel_major(gy, gyc, g.Co, P, n0, nb);
    gemm<T>(false, true, g.Co, K, cols, T(1), gyc, cols, col, cols, n0 == 0 ? T(0) : T(1), dw, K);
  }
  if (g.N == 0) std::fill_n(dw, g.Co * K, T(0));
}

// The conv2d that conv_transpose2d is the adjoint of: its input has conv_transpose2d's output
// shape, its weight is w (Ci, Co, kh, kw) read as (out_channels = Ci, in_channels = Co).
Shape transpose_output(const Shape& x, const Shape& w, const ConvOptions& o, const char* op) {
  check_options(o, op);
  check_4d(x, op, "input", "(N, C, H, W)");
  check_4d(w, op, "weight", "(in_channels, out_channels, kh, kw)");
  if (x[1] != w[0])
    throw ShapeError(fmt::format("{}: input {} has {} channels but weight {} expects {}", op,
                                 shape_str(x), x[1], shape_str(w), w[0]));
  for (int a = 0; a < 2; ++a)
    if (o.output_padding[a] >= o.stride[a])
      throw ValueError(
          fmt::format("{}: output_padding ({}, {}) must be smaller than the stride ({}, {})", op,
                      o.output_padding[0], o.output_padding[1], o.stride[0], o.stride[1]));
  Shape y{x[0], w[1], 0, 0};
  for (int a = 0; a < 2; ++a) {
    y[2 + a] = (x[2 + a] - 1) * o.stride[a] - 2 * o.padding[a] + o.dilation[a] * (w[2 + a] - 1) +
               o.output_padding[a] + 1;
    if (y[2 + a] < 1 || x[2 + a] < 1)
      throw ShapeError(fmt::format(
          "{}: input {} with weight {}, stride ({}, {}), padding ({}, {}) gives an empty "
          "output",
          op, shape_str(x), shape_str(w), o.stride[0], o.stride[1], o.padding[0], o.padding[1]));
  }
  return y;
}

ConvOptions without_output_padding(ConvOptions o) {
  o.output_padding = {0, 0};
  return o;
}

// The geometry of a backward product of the conv2d of x_shape by w_shape, checking gy (the output
// gradient) and `other` (the weight or the input it is multiplied with).
Geom backward_geometry(const Tensor& gy, const Tensor& other, const Shape& x_shape,
                       const Shape& w_shape, const ConvOptions& o, const char* op) {
  check_defined(gy, op, "gradient");
  check_dtype(gy, other, op);
  const Geom g = geometry(x_shape, w_shape, without_output_padding(o), op);
  if (gy.shape() != Shape{g.N, g.Co, g.Ho, g.Wo})
    throw ShapeError(fmt::format("{}: gradient {} should be {} (conv2d of {} by {})", op,
                                 shape_str(gy.shape()), shape_str({g.N, g.Co, g.Ho, g.Wo}),
                                 shape_str(x_shape), shape_str(w_shape)));
  return g;
}

}  // namespace

Shape conv2d_output_shape(const Shape& x, const Shape& w, const ConvOptions& o) {
  if (o.output_padding != std::array<i64, 2>{0, 0})
    throw ValueError("conv2d: output_padding is for conv_transpose2d only");
  const Geom g = geometry(x, w, o, "conv2d");
  return {g.N, g.Co, g.Ho, g.Wo};
}

Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, const ConvOptions& o) {
  return transpose_output(x, w, o, "conv_transpose2d");
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o) {
  check_defined(x, "conv2d", "input");
  check_defined(w, "conv2d", "weight");
  check_dtype(x, w, "conv2d");
  const Shape ys = conv2d_output_shape(x.shape(), w.shape(), o);
  check_bias(b, x, w.size(0), "conv2d");
  const Geom g = geometry(x.shape(), w.shape(), o, "conv2d");
  Tensor y = Tensor::empty(ys, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    forward<T>(x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, y.data<T>(), g);
  });
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const Shape& x_shape,
                             const ConvOptions& o) {
  check_defined(w, "conv2d_backward_input", "weight");
  const Geom g = backward_geometry(gy, w, x_shape, w.shape(), o, "conv2d_backward_input");
  Tensor dx = Tensor::empty(x_shape, gy.dtype());
  visit_dtype(gy.dtype(),
              [&]<class T>() { backward_input<T>(gy.data<T>(), w.data<T>(), dx.data<T>(), g); });
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape,
                              const ConvOptions& o) {
  check_defined(x, "conv2d_backward_weight", "input");
  const Geom g = backward_geometry(gy, x, x.shape(), w_shape, o, "conv2d_backward_weight");
  Tensor dw = Tensor::empty(w_shape, gy.dtype());
  visit_dtype(gy.dtype(),
              [&]<class T>() { backward_weight<T>(gy.data<T>(), x.data<T>(), dw.data<T>(), g); });
  return dw;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o) {
  check_defined(x, "conv_transpose2d", "input");
  check_defined(w, "conv_transpose2d", "weight");
  check_dtype(x, w, "conv_transpose2d");
  const Shape ys = transpose_output(x.shape(), w.shape(), o, "conv_transpose2d");
  check_bias(b, x, w.size(1), "conv_transpose2d");
  const Geom g = geometry(ys, w.shape(), without_output_padding(o), "conv_transpose2d");
  Tensor y = Tensor::empty(ys, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    backward_input<T>(x.data<T>(), w.data<T>(), y.data<T>(), g);
    if (b.defined()) {
      const T* pb = b.data<T>();
      T* py = y.data<T>();
      const i64 plane = ys[2] * ys[3];
      parallel_for(0, ys[0] * ys[1], std::max<i64>(1, 8192 / plane), [&](i64 begin, i64 end) {
        for (i64 t = begin; t < end; ++t) {
          const T bv = pb[t % ys[1]];
          for (i64 i = 0; i < plane; ++i) py[t * plane + i] += bv;
        }
      });
    }
  });
  return y;
}

}  // namespace tg
