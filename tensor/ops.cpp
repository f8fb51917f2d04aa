// Tensor operations: broadcasting element-wise ops, reductions, shape ops, matmul.
//
// Element-wise ops go through one planner (Plan below): it aligns every operand's strides to the
// output shape (stride 0 on a broadcast axis), merges axes that are contiguous for every operand,
// and leaves an innermost run in which each operand's step is 0 or 1. That run is handed to a SIMD
// kernel (kernels.hpp); the outer rows are split over the thread pool. Each output element is
// computed by exactly one thread from the same inputs, so results never depend on the thread count.
#include "tapegrad/tensor/ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "tapegrad/tensor/fused.hpp"
#include "tapegrad/tensor/gemm.hpp"
#include "tapegrad/tensor/kernels.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace tg {
namespace {

using kernels::Binary;
using kernels::Unary;

constexpr std::int64_t kGrain = 1 << 15;  // elements below which work is not split over threads

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("{}: dtypes differ: {} and {} (convert one with .to())", op,
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
}

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(fmt::format("{}: the tensor is undefined", op));
}

// --- the broadcasting planner ------------------------------------------------------------------

template <int N>
struct Plan {
  std::vector<std::int64_t> outer;                      // sizes of the outer (row) axes
  std::vector<std::array<std::int64_t, N>> outer_step;  // per outer axis, per operand
  std::int64_t inner = 1;                               // length of the innermost run
  std::array<int, N> inner_step{};                      // 0 or 1 per operand
};

template <int N>
Plan<N> make_plan(const Shape& out, const std::array<const Shape*, N>& in) {
  const std::size_t nd = out.size();
  std::array<std::vector<std::int64_t>, N> in_stride;
  for (int k = 0; k < N; ++k) in_stride[k] = contiguous_strides(*in[k]);
  // Aligned strides, dropping axes of size 1 (they contribute nothing). An axis merges into the one
  // before it when every operand steps through the two as one.
  std::vector<std::int64_t> size;
  std::vector<std::array<std::int64_t, N>> stride;
  for (std::size_t ax = 0; ax < nd; ++ax) {
    if (out[ax] == 1) continue;
    std::array<std::int64_t, N> st{};
    for (int k = 0; k < N; ++k) {
      const Shape& s = *in[k];
      const std::size_t lead = nd - s.size();
      st[k] = ax < lead || s[ax - lead] == 1 ? 0 : in_stride[k][ax - lead];
    }
    bool merge = !size.empty();
    for (int k = 0; merge && k < N; ++k) merge = stride.back()[k] == st[k] * out[ax];
    if (merge) {
      size.back() *= out[ax];
      stride.back() = st;
    } else {
      size.push_back(out[ax]);
      stride.push_back(st);
    }
  }
  Plan<N> p;
  if (!size.empty()) {
    p.inner = size.back();
    for (int k = 0; k < N; ++k) p.inner_step[k] = static_cast<int>(stride.back()[k]);
    size.pop_back();
    stride.pop_back();
  }
  p.outer = std::move(size);
  p.outer_step = std::move(stride);
  return p;
}

// Calls fn(offsets, out_offset, len) for every run of the plan, in parallel over rows (or over
// chunks of the single run when there are no outer axes).
template <int N, class F>
void run_plan(const Plan<N>& p, F&& fn) {
  const std::int64_t rows =
      std::accumulate(p.outer.begin(), p.outer.end(), std::int64_t{1}, std::multiplies<>());
  if (rows == 0 || p.inner == 0) return;
  if (p.outer.empty()) {
    parallel_for(0, p.inner, kGrain, [&](std::int64_t lo, std::int64_t hi) {
      std::array<std::int64_t, N> off{};
      for (int k = 0; k < N; ++k) off[k] = lo * p.inner_step[k];
      fn(off, lo, hi - lo);
    });
    return;
  }
  const std::int64_t grain = std::max<std::int64_t>(1, kGrain / p.inner);
  parallel_for(0, rows, grain, [&](std::int64_t lo, std::int64_t hi) {
    const std::size_t nd = p.outer.size();
    std::vector<std::int64_t> idx(nd);
    std::array<std::int64_t, N> off{};
    std::int64_t r = lo;
    for (std::size_t ax = nd; ax-- > 0;) {  // row index -> multi-index -> offsets
      idx[ax] = r % p.outer[ax];
      r /= p.outer[ax];
      for (int k = 0; k < N; ++k) off[k] += idx[ax] * p.outer_step[ax][k];
    }
    for (std::int64_t row = lo; row < hi; ++row) {
      fn(off, row * p.inner, p.inner);
      for (std::size_t ax = nd; ax-- > 0;) {  // increment the multi-index like an odometer
        for (int k = 0; k < N; ++k) off[k] += p.outer_step[ax][k];
        if (++idx[ax] < p.outer[ax]) break;
        for (int k = 0; k < N; ++k) off[k] -= p.outer[ax] * p.outer_step[ax][k];
        idx[ax] = 0;
      }
    }
  });
}

const char* binary_name(Binary op) {
  switch (op) {
#define TG_NAME(name, ...) \
  case Binary::name:       \
    return #name;
    TG_BINARY_OPS(TG_NAME)
#undef TG_NAME
  }
  return "binary";
}

Tensor binary_op(Binary op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_defined(a, name);
  check_defined(b, name);
  check_same_dtype(a, b, name);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape, a.dtype());
  const auto plan = make_plan<2>(out_shape, {&a.shape(), &b.shape()});
  visit_dtype(a.dtype(), [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    run_plan(plan, [&](const std::array<std::int64_t, 2>& off, std::int64_t o, std::int64_t len) {
      kernels::binary<T>(op, pa + off[0], plan.inner_step[0], pb + off[1], plan.inner_step[1],
                         po + o, len);
    });
  });
  return out;
}

Tensor unary_op(Unary op, const Tensor& x) {
  check_defined(x, "unary op");
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(0, x.numel(), kGrain, [&](std::int64_t lo, std::int64_t hi) {
      kernels::unary<T>(op, px + lo, po + lo, hi - lo);
    });
  });
  return out;
}

Tensor scalar_like(const Tensor& t, double v) { return Tensor::scalar(v, t.dtype()); }

}  // namespace

// --- element-wise ------------------------------------------------------------------------------

#define TG_DEFINE_BINARY(name, ...) \
  Tensor name(const Tensor& a, const Tensor& b) { return binary_op(Binary::name, a, b); }
TG_BINARY_OPS(TG_DEFINE_BINARY)
#undef TG_DEFINE_BINARY

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  check_defined(mask, "where");
  check_defined(a, "where");
  check_defined(b, "where");
  check_same_dtype(a, b, "where");
  check_same_dtype(mask, a, "where");
  const Shape out_shape =
      broadcast_shapes(broadcast_shapes(mask.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(out_shape, a.dtype());
  const auto plan = make_plan<3>(out_shape, {&mask.shape(), &a.shape(), &b.shape()});
  visit_dtype(a.dtype(), [&]<class T>() {
    const T *pm = mask.data<T>(), *pa = a.data<T>(), *pb = b.data<T>();
    T* po = out.data<T>();
    const auto& st = plan.inner_step;
    run_plan(plan, [&](const std::array<std::int64_t, 3>& off, std::int64_t o, std::int64_t len) {
      for (std::int64_t i = 0; i < len; ++i)
        po[o + i] =
            pm[off[0] + i * st[0]] != T(0) ? pa[off[1] + i * st[1]] : pb[off[2] + i * st[2]];
    });
  });
  return out;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) throw ValueError(fmt::format("clamp: lo ({}) is greater than hi ({})", lo, hi));
  return minimum(maximum(x, scalar_like(x, lo)), scalar_like(x, hi));
}

#define TG_DEFINE_UNARY(name, ...) \
  Tensor name(const Tensor& x) { return unary_op(Unary::name, x); }
TG_UNARY_OPS(TG_DEFINE_UNARY)
#undef TG_DEFINE_UNARY

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

// --- reductions --------------------------------------------------------------------------------
// Every reduction is arranged as (outer, R, inner): reduce R, keep outer and inner. When the
// reduced axes are not one contiguous group, x is first permuted so that they are.

namespace {

enum class Reduce { sum, max, min };

struct ReduceSetup {
  Tensor x;  // possibly permuted so the reduced axes form one group
  std::int64_t outer = 1, r = 1, inner = 1;
  Shape out_shape;  // with keepdim
  Shape out_shape_squeezed;
};

ReduceSetup setup_reduce(const Tensor& x, const Axes& axes, const char* op) {
  check_defined(x, op);
  const std::size_t nd = x.shape().size();
  std::vector<bool> red(nd, axes.empty());
  for (auto a : axes) {
    const int ax = normalize_axis(a, nd, op);
    if (red[ax]) throw ShapeError(fmt::format("{}: axis {} appears twice", op, a));
    red[ax] = true;
  }
  ReduceSetup s;
  for (std::size_t i = 0; i < nd; ++i) {
    s.out_shape.push_back(red[i] ? 1 : x.shape()[i]);
    if (!red[i]) s.out_shape_squeezed.push_back(x.shape()[i]);
  }
  // Is the reduced set one contiguous run of axes?
  std::int64_t first = -1, last = -1;
  for (std::size_t i = 0; i < nd; ++i)
    if (red[i]) {
      if (first < 0) first = static_cast<std::int64_t>(i);
      last = static_cast<std::int64_t>(i);
    }
  bool contiguous = true;
  for (std::int64_t i = first; i >= 0 && i <= last; ++i) contiguous &= red[i];
  if (first < 0) {  // nothing to reduce (a 0-d tensor)
    s.x = x;
    s.outer = x.numel();
    return s;
  }
  if (contiguous) {
    s.x = x;
    for (std::int64_t i = 0; i < first; ++i) s.outer *= x.shape()[i];
    for (std::int64_t i = first; i <= last; ++i) s.r *= x.shape()[i];
    for (std::size_t i = last + 1; i < nd; ++i) s.inner *= x.shape()[i];
  } else {
    Axes perm;
    for (std::size_t i = 0; i < nd; ++i)
      if (!red[i]) perm.push_back(static_cast<std::int64_t>(i));
    for (std::size_t i = 0; i < nd; ++i)
      if (red[i]) {
        perm.push_back(static_cast<std::int64_t>(i));
        s.r *= x.shape()[i];
      }
    s.x = permute(x, perm);
    s.outer = numel(s.out_shape_squeezed);
  }
  return s;
}

template <class T>
T reduce_identity(Reduce kind) {
  if (kind == Reduce::sum) return T(0);
  return kind == Reduce::max ? -std::numeric_limits<T>::infinity()
                             : std::numeric_limits<T>::infinity();
}

template <class T>
T reduce_run(Reduce kind, const T* x, std::int64_t n) {
  switch (kind) {
    case Reduce::sum:
      return kernels::sum<T>(x, n);
    case Reduce::max:
      return kernels::max<T>(x, n);
    case Reduce::min:
      return kernels::min<T>(x, n);
  }
  return T(0);
}

// A full reduction of a long run: fixed blocks (their boundaries depend only on n), each reduced on
// its own, then the block results reduced in order. Same bits for any thread count.
template <class T>
T reduce_all(Reduce kind, const T* x, std::int64_t n) {
  constexpr std::int64_t kBlock = 1 << 14;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return reduce_run(kind, x, n);
  std::vector<T> partial(blocks);
  parallel_for(0, blocks, 1, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t b = lo; b < hi; ++b)
      partial[b] = reduce_run(kind, x + b * kBlock, std::min(kBlock, n - b * kBlock));
  });
  return reduce_run(kind, partial.data(), blocks);
}

Tensor reduce(Reduce kind, const Tensor& x, const Axes& axes, bool keepdim, const char* op) {
  ReduceSetup s = setup_reduce(x, axes, op);
  if (kind != Reduce::sum && s.r == 0)
    throw ShapeError(
        fmt::format("{}: cannot reduce over an empty axis (shape {})", op, shape_str(x.shape())));
  Tensor out = Tensor::empty(keepdim ? s.out_shape : s.out_shape_squeezed, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = s.x.template data<T>();
    T* po = out.data<T>();
    if (s.outer == 1 && s.inner == 1) {
      po[0] = reduce_all<T>(kind, px, s.r);
    } else if (s.inner == 1) {
      parallel_for(0, s.outer, std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(s.r, 1)),
                   [&](std::int64_t lo, std::int64_t hi) {
                     for (std::int64_t o = lo; o < hi; ++o)
                       po[o] = reduce_run<T>(kind, px + o * s.r, s.r);
                   });
    } else {
      // Rows of length `inner` are combined in order r = 0, 1, ..., R-1 for each output element.
      const Binary comb = kind == Reduce::sum   ? Binary::add
                          : kind == Reduce::max ? Binary::maximum
                                                : Binary::minimum;
      const std::int64_t chunk = 512;
      const std::int64_t chunks_per_row = (s.inner + chunk - 1) / chunk;
      const std::int64_t work = std::max<std::int64_t>(1, s.r * std::min(chunk, s.inner));
      parallel_for(0, s.outer * chunks_per_row, std::max<std::int64_t>(1, kGrain / work),
                   [&](std::int64_t lo, std::int64_t hi) {
                     for (std::int64_t w = lo; w < hi; ++w) {
                       const std::int64_t o = w / chunks_per_row;
                       const std::int64_t c0 = (w % chunks_per_row) * chunk;
                       const std::int64_t len = std::min(chunk, s.inner - c0);
                       T* dst = po + o * s.inner + c0;
                       std::fill_n(dst, len, reduce_identity<T>(kind));
                       for (std::int64_t r = 0; r < s.r; ++r)
                         kernels::binary<T>(comb, dst, 1, px + (o * s.r + r) * s.inner + c0, 1, dst,
                                            len);
                     }
                   });
    }
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  return reduce(Reduce::sum, x, axes, keepdim, "sum");
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  Tensor s = sum(x, axes, keepdim);
  const std::int64_t count = s.numel() == 0 ? 0 : x.numel() / s.numel();
  return s / static_cast<double>(count);
}

Tensor max(const Tensor& x, const Axes& axes, bool keepdim) {
  return reduce(Reduce::max, x, axes, keepdim, "max");
}

Tensor min(const Tensor& x, const Axes& axes, bool keepdim) {
  return reduce(Reduce::min, x, axes, keepdim, "min");
}

// log sum exp(x) = m + log sum exp(x - m) with m = max(x): no overflow. Where m is infinite the
// shift is 0 so that all -inf gives -inf and any +inf gives +inf (not NaN).
Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
  Tensor m = max(x, axes, /*keepdim=*/true);
  visit_dtype(m.dtype(), [&]<class T>() {
    T* p = m.data<T>();
    for (std::int64_t i = 0; i < m.numel(); ++i)
      if (!std::isfinite(p[i])) p[i] = T(0);
  });
  const Tensor s = sum(exp(x - m), axes, keepdim);
  return log(s) + m.reshape(s.shape());
}

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) {
  ReduceSetup s = setup_reduce(x, {axis}, "argmax");  // one axis: never permuted, s.x is x
  if (s.r == 0)
    throw ShapeError(
        fmt::format("argmax: axis {} is empty (shape {})", axis, shape_str(x.shape())));
  Tensor out = Tensor::empty(keepdim ? s.out_shape : s.out_shape_squeezed, x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t i = 0; i < s.inner; ++i) {
        std::int64_t best = 0;
        T bv = px[o * s.r * s.inner + i];
        for (std::int64_t r = 1; r < s.r; ++r) {
          const T v = px[(o * s.r + r) * s.inner + i];
          if (v > bv || (std::isnan(v) && !std::isnan(bv))) {  // NaN wins, like torch.argmax
            bv = v;
            best = r;
          }
        }
        po[o * s.inner + i] = static_cast<T>(best);
      }
  });
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_defined(x, "sum_to");
  if (x.shape() == shape) return x;
  const Shape& xs = x.shape();
  if (shape.size() > xs.size())
    throw ShapeError(fmt::format("sum_to: cannot sum {} to the larger shape {}", shape_str(xs),
                                 shape_str(shape)));
  const std::size_t lead = xs.size() - shape.size();
  Axes axes;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i < lead) {
      axes.push_back(static_cast<std::int64_t>(i));
    } else if (shape[i - lead] == 1 && xs[i] != 1) {
      axes.push_back(static_cast<std::int64_t>(i));
    } else if (shape[i - lead] != xs[i]) {
      throw ShapeError(fmt::format("sum_to: shape {} does not broadcast to {}", shape_str(shape),
                                   shape_str(xs)));
    }
  }
  if (axes.empty()) return x.reshape(shape);
  return sum(x, axes, /*keepdim=*/true).reshape(shape);
}

// --- shape ops ---------------------------------------------------------------------------------

Tensor reshape(const Tensor& x, const Shape& shape) { return x.reshape(shape); }

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  check_defined(x, "broadcast_to");
  const Shape b = broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (b != shape)
    throw ShapeError(fmt::format("broadcast_to: shape {} cannot be broadcast to {}",
                                 shape_str(x.shape()), shape_str(shape)));
  if (x.shape() == shape) return x;
  Tensor out = Tensor::empty(shape, x.dtype());
  const auto plan = make_plan<1>(shape, {&x.shape()});
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    run_plan(plan, [&](const std::array<std::int64_t, 1>& off, std::int64_t o, std::int64_t len) {
      if (plan.inner_step[0] == 0)
        std::fill_n(po + o, len, px[off[0]]);
      else
        std::copy_n(px + off[0], len, po + o);
    });
  });
  return out;
}

Tensor permute(const Tensor& x, const Axes& perm) {
  check_defined(x, "permute");
  const std::size_t nd = x.shape().size();
  if (perm.size() != nd)
    throw ShapeError(fmt::format("permute: {} axes given for a tensor of shape {}", perm.size(),
                                 shape_str(x.shape())));
  std::vector<bool> seen(nd, false);
  Shape out_shape(nd);
  std::vector<std::int64_t> src_stride(nd);
  const auto st = contiguous_strides(x.shape());
  for (std::size_t i = 0; i < nd; ++i) {
    const int a = normalize_axis(perm[i], nd, "permute");
    if (seen[a]) throw ShapeError(fmt::format("permute: axis {} appears twice", perm[i]));
    seen[a] = true;
    out_shape[i] = x.shape()[a];
    src_stride[i] = st[a];
  }
  Tensor out = Tensor::empty(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  visit_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const std::int64_t inner = nd ? out_shape[nd - 1] : 1;
    const std::int64_t inner_stride = nd ? src_stride[nd - 1] : 1;
    const std::int64_t rows = out.numel() / inner;
    parallel_for(0, rows, std::max<std::int64_t>(1, kGrain / inner),
                 [&](std::int64_t lo, std::int64_t hi) {
                   for (std::int64_t row = lo; row < hi; ++row) {
                     std::int64_t r = row, off = 0;
                     for (std::size_t ax = nd ? nd - 1 : 0; ax-- > 0;) {
                       off += (r % out_shape[ax]) * src_stride[ax];
                       r /= out_shape[ax];
                     }
                     T* dst = po + row * inner;
                     for (std::int64_t i = 0; i < inner; ++i) dst[i] = px[off + i * inner_stride];
                   }
                 });
  });
  return out;
}

Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1) {
  check_defined(x, "transpose");
  const std::size_t nd = x.shape().size();
  const int a = normalize_axis(axis0, nd, "transpose");
  const int b = normalize_axis(axis1, nd, "transpose");
  Axes perm(nd);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[a], perm[b]);
  return permute(x, perm);
}

namespace {
// (outer, axis, inner) sizes around one axis.
void split_at(const Shape& s, int ax, std::int64_t& outer, std::int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < ax; ++i) outer *= s[i];
  for (std::size_t i = ax + 1; i < s.size(); ++i) inner *= s[i];
}
}  // namespace

Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop) {
  check_defined(x, "slice");
  const int ax = normalize_axis(axis, x.shape().size(), "slice");
  const std::int64_t n = x.shape()[ax];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  stop = std::clamp<std::int64_t>(stop, start, n);
  Shape out_shape = x.shape();
  out_shape[ax] = stop - start;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  std::int64_t outer, inner;
  split_at(x.shape(), ax, outer, inner);
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  const std::int64_t run = (stop - start) * inner;
  for (std::int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * run * es, src + (o * n + start) * inner * es, run * es);
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis) {
  if (xs.empty()) throw ValueError("concat: no tensors given");
  for (const auto& t : xs) check_defined(t, "concat");
  const Shape& s0 = xs[0].shape();
  const int ax = normalize_axis(axis, s0.size(), "concat");
  Shape out_shape = s0;
  out_shape[ax] = 0;
  for (const auto& t : xs) {
    check_same_dtype(xs[0], t, "concat");
    bool ok = t.shape().size() == s0.size();
    for (std::size_t i = 0; ok && i < s0.size(); ++i) ok = (int)i == ax || t.shape()[i] == s0[i];
    if (!ok)
      throw ShapeError(fmt::format("concat: shapes {} and {} differ outside axis {}", shape_str(s0),
                                   shape_str(t.shape()), axis));
    out_shape[ax] += t.shape()[ax];
  }
  Tensor out = Tensor::empty(out_shape, xs[0].dtype());
  std::int64_t outer, inner;
  split_at(out_shape, ax, outer, inner);
  const std::size_t es = dtype_size(out.dtype());
  auto* dst = static_cast<char*>(out.raw_data());
  const std::int64_t out_run = out_shape[ax] * inner;
  std::int64_t col = 0;
  for (const auto& t : xs) {
    const std::int64_t run = t.shape()[ax] * inner;
    const auto* src = static_cast<const char*>(t.raw_data());
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + (o * out_run + col) * es, src + o * run * es, run * es);
    col += run;
  }
  return out;
}

Tensor index_select(const Tensor& x, std::int64_t axis, const std::vector<std::int64_t>& index) {
  check_defined(x, "index_select");
  const int ax = normalize_axis(axis, x.shape().size(), "index_select");
  const std::int64_t n = x.shape()[ax];
  for (auto i : index)
    if (i < 0 || i >= n)
      throw ShapeError(
          fmt::format("index_select: index {} is out of range for axis {} of size {}", i, axis, n));
  Shape out_shape = x.shape();
  out_shape[ax] = static_cast<std::int64_t>(index.size());
  Tensor out = Tensor::empty(out_shape, x.dtype());
  std::int64_t outer, inner;
  split_at(x.shape(), ax, outer, inner);
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  const auto k = static_cast<std::int64_t>(index.size());
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t j = 0; j < k; ++j)
      std::memcpy(dst + ((o * k + j) * inner) * es, src + ((o * n + index[j]) * inner) * es,
                  inner * es);
  return out;
}

Tensor index_add(const Shape& shape, std::int64_t axis, const std::vector<std::int64_t>& index,
                 const Tensor& src) {
  check_defined(src, "index_add");
  const int ax = normalize_axis(axis, shape.size(), "index_add");
  Shape expect = shape;
  expect[ax] = static_cast<std::int64_t>(index.size());
  if (src.shape() != expect)
    throw ShapeError(fmt::format("index_add: source shape {} should be {}", shape_str(src.shape()),
                                 shape_str(expect)));
  Tensor out = Tensor::zeros(shape, src.dtype());
  std::int64_t outer, inner;
  split_at(shape, ax, outer, inner);
  const std::int64_t n = shape[ax];
  const auto k = static_cast<std::int64_t>(index.size());
  visit_dtype(src.dtype(), [&]<class T>() {
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < k; ++j) {
        if (index[j] < 0 || index[j] >= n)
          throw ShapeError(
              fmt::format("index_add: index {} is out of range for size {}", index[j], n));
        T* d = po + (o * n + index[j]) * inner;
        kernels::binary<T>(Binary::add, d, 1, ps + (o * k + j) * inner, 1, d, inner);
      }
  });
  return out;
}

Tensor squeeze(const Tensor& x, std::int64_t axis) {
  check_defined(x, "squeeze");
  const int ax = normalize_axis(axis, x.shape().size(), "squeeze");
  if (x.shape()[ax] != 1)
    throw ShapeError(fmt::format("squeeze: axis {} of shape {} has size {}, not 1", axis,
                                 shape_str(x.shape()), x.shape()[ax]));
  Shape s = x.shape();
  s.erase(s.begin() + ax);
  return x.reshape(s);
}

Tensor unsqueeze(const Tensor& x, std::int64_t axis) {
  check_defined(x, "unsqueeze");
  const int ax = normalize_axis(axis, x.shape().size() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + ax, 1);
  return x.reshape(s);
}

// --- linear algebra ----------------------------------------------------------------------------

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_defined(a, "matmul");
  check_defined(b, "matmul");
  check_same_dtype(a, b, "matmul");
  if (a.dim() != 2 || b.dim() != 2)
    throw ShapeError(fmt::format("matmul: expects 2-D tensors, got {} x {}", shape_str(a.shape()),
                                 shape_str(b.shape())));
  const std::int64_t M = trans_a ? a.size(1) : a.size(0), K = trans_a ? a.size(0) : a.size(1);
  const std::int64_t Kb = trans_b ? b.size(1) : b.size(0), N = trans_b ? b.size(0) : b.size(1);
  if (K != Kb)
    throw ShapeError(fmt::format("matmul: inner dimensions differ: {}{} x {}{}",
                                 shape_str(a.shape()), trans_a ? "^T" : "", shape_str(b.shape()),
                                 trans_b ? "^T" : ""));
  Tensor out = Tensor::empty({M, N}, a.dtype());
  visit_dtype(a.dtype(), [&]<class T>() {
    gemm<T>(trans_a, trans_b, M, N, K, T(1), a.data<T>(), a.size(1), b.data<T>(), b.size(1), T(0),
            out.data<T>(), N);
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_defined(x, "linear");
  check_defined(w, "linear");
  check_same_dtype(x, w, "linear");
  if (x.dim() != 2 || w.dim() != 2 || x.size(1) != w.size(1))
    throw ShapeError(
        fmt::format("linear: input {} does not fit weight {} (expects (B, in) and (out, in))",
                    shape_str(x.shape()), shape_str(w.shape())));
  const std::int64_t B = x.size(0), in = x.size(1), out_f = w.size(0);
  Tensor out = Tensor::empty({B, out_f}, x.dtype());
  if (b.defined()) {
    check_same_dtype(x, b, "linear");
    if (b.shape() != Shape{out_f})
      throw ShapeError(
          fmt::format("linear: bias shape {} should be ({},)", shape_str(b.shape()), out_f));
  }
  visit_dtype(x.dtype(), [&]<class T>() {
    T* po = out.data<T>();
    if (b.defined())  // start from the bias and let GEMM add x W^T onto it (beta = 1)
      for (std::int64_t i = 0; i < B; ++i) std::copy_n(b.data<T>(), out_f, po + i * out_f);
    gemm<T>(false, true, B, out_f, in, T(1), x.data<T>(), in, w.data<T>(), in,
            b.defined() ? T(1) : T(0), po, out_f);
  });
  return out;
}

// --- fused -------------------------------------------------------------------------------------

namespace {
void check_same(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  check_same_dtype(a, b, op);
  if (a.shape() != b.shape())
    throw ShapeError(fmt::format("{}: the operands' shapes differ: {} and {}", op,
                                 shape_str(a.shape()), shape_str(b.shape())));
}
}  // namespace

Tensor relu_backward(const Tensor& dy, const Tensor& y) {
  check_same(dy, y, "relu_backward");
  Tensor dx = Tensor::empty(y.shape(), y.dtype());
  visit_dtype(y.dtype(), [&]<class T>() {
    kernels::relu_backward(dy.data<T>(), y.data<T>(), dx.data<T>(), y.numel());
  });
  return dx;
}

Tensor bernoulli_log_prob(const Tensor& logits, const Tensor& x) {
  check_same(logits, x, "bernoulli_log_prob");
  Tensor lp = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    kernels::bernoulli_log_prob(logits.data<T>(), x.data<T>(), lp.data<T>(), x.numel());
  });
  return lp;
}

Tensor bernoulli_log_prob_backward(const Tensor& g, const Tensor& logits, const Tensor& x) {
  check_same(logits, x, "bernoulli_log_prob_backward");
  check_same(g, x, "bernoulli_log_prob_backward");
  Tensor dl = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&]<class T>() {
    kernels::bernoulli_log_prob_backward(g.data<T>(), logits.data<T>(), x.data<T>(), dl.data<T>(),
                                         x.numel());
  });
  return dl;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  if (a.shape() != b.shape()) return false;
  const auto va = a.to_vector(), vb = b.to_vector();
  for (std::size_t i = 0; i < va.size(); ++i) {
    const double x = va[i], y = vb[i];
    if (std::isnan(x) || std::isnan(y)) {
      if (!(equal_nan && std::isnan(x) && std::isnan(y))) return false;
      continue;
    }
    if (x == y) continue;                              // equal infinities
    if (std::isinf(x) || std::isinf(y)) return false;  // |x - y| <= inf would accept any x
    if (!(std::abs(x - y) <= atol + rtol * std::abs(y))) return false;
  }
  return true;
}

}  // namespace tg
