// Tests for tensor/conv.cpp: conv2d, its two backward products and conv_transpose2d against direct
// loops in double (the definitions, written independently of im2col), the adjoint identities that
// tie them together, bitwise equality across thread counts, batches big enough to be done in
// chunks, and the errors for shapes and options that do not fit.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/conv.hpp"
#include "tapegrad/tensor/ops.hpp"
#include "tapegrad/tensor/random.hpp"

namespace {

using tg::ConvOptions;
using tg::DType;
using tg::Shape;
using tg::Tensor;
using i64 = std::int64_t;

Tensor randn(const Shape& s, DType dt, std::uint64_t seed) {
  tg::Generator gen(seed);
  return Tensor::randn(s, dt, &gen);
}

// The definition: y[n,co,oh,ow] = b[co] + sum w[co,c,ki,kj] x[n,c,oh sh - ph + ki dh, ow sw - pw +
// kj dw]. `visit` is called with (n, co, oh, ow, c, ki, kj, ih, iw) for every in-image term.
template <class F>
void for_each_term(const Shape& xs, const Shape& ws, const ConvOptions& o, F&& visit) {
  const Shape ys = tg::conv2d_output_shape(xs, ws, o);
  for (i64 n = 0; n < xs[0]; ++n)
    for (i64 co = 0; co < ws[0]; ++co)
      for (i64 oh = 0; oh < ys[2]; ++oh)
        for (i64 ow = 0; ow < ys[3]; ++ow)
          for (i64 c = 0; c < xs[1]; ++c)
            for (i64 ki = 0; ki < ws[2]; ++ki)
              for (i64 kj = 0; kj < ws[3]; ++kj) {
                const i64 ih = oh * o.stride[0] - o.padding[0] + ki * o.dilation[0];
                const i64 iw = ow * o.stride[1] - o.padding[1] + kj * o.dilation[1];
                if (ih >= 0 && ih < xs[2] && iw >= 0 && iw < xs[3])
                  visit(n, co, oh, ow, c, ki, kj, ih, iw);
              }
}

i64 at4(const Shape& s, i64 a, i64 b, i64 c, i64 d) {
  return ((a * s[1] + b) * s[2] + c) * s[3] + d;
}

std::vector<double> ref_conv2d(const Tensor& x, const Tensor& w, const Tensor& b,
                               const ConvOptions& o) {
  const Shape ys = tg::conv2d_output_shape(x.shape(), w.shape(), o);
  const auto xv = x.to_vector(), wv = w.to_vector();
  std::vector<double> y(tg::numel(ys), 0.0);
  if (b.defined()) {
    const auto bv = b.to_vector();
    for (i64 i = 0; i < tg::numel(ys); ++i) y[i] = bv[(i / (ys[2] * ys[3])) % ys[1]];
  }
  for_each_term(x.shape(), w.shape(), o,
                [&](i64 n, i64 co, i64 oh, i64 ow, i64 c, i64 ki, i64 kj, i64 ih, i64 iw) {
                  y[at4(ys, n, co, oh, ow)] +=
                      wv[at4(w.shape(), co, c, ki, kj)] * xv[at4(x.shape(), n, c, ih, iw)];
                });
  return y;
}

std::vector<double> ref_backward_input(const Tensor& gy, const Tensor& w, const Shape& xs,
                                       const ConvOptions& o) {
  const auto gv = gy.to_vector(), wv = w.to_vector();
  std::vector<double> dx(tg::numel(xs), 0.0);
  for_each_term(xs, w.shape(), o,
                [&](i64 n, i64 co, i64 oh, i64 ow, i64 c, i64 ki, i64 kj, i64 ih, i64 iw) {
                  dx[at4(xs, n, c, ih, iw)] +=
                      wv[at4(w.shape(), co, c, ki, kj)] * gv[at4(gy.shape(), n, co, oh, ow)];
                });
  return dx;
}

std::vector<double> ref_backward_weight(const Tensor& gy, const Tensor& x, const Shape& ws,
                                        const ConvOptions& o) {
  const auto gv = gy.to_vector(), xv = x.to_vector();
  std::vector<double> dw(tg::numel(ws), 0.0);
  for_each_term(x.shape(), ws, o,
                [&](i64 n, i64 co, i64 oh, i64 ow, i64 c, i64 ki, i64 kj, i64 ih, i64 iw) {
                  dw[at4(ws, co, c, ki, kj)] +=
                      xv[at4(x.shape(), n, c, ih, iw)] * gv[at4(gy.shape(), n, co, oh, ow)];
                });
  return dw;
}

// The transposed convolution by its own definition (a scatter): every input pixel adds w times
// itself onto the output pixels it would have been gathered from.
std::vector<double> ref_conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b,
                                         const ConvOptions& o) {
  const Shape ys = tg::conv_transpose2d_output_shape(x.shape(), w.shape(), o);
  const Shape &xs = x.shape(), &ws = w.shape();
  const auto xv = x.to_vector(), wv = w.to_vector();
  std::vector<double> y(tg::numel(ys), 0.0);
  if (b.defined()) {
    const auto bv = b.to_vector();
    for (i64 i = 0; i < tg::numel(ys); ++i) y[i] = bv[(i / (ys[2] * ys[3])) % ys[1]];
  }
  for (i64 n = 0; n < xs[0]; ++n)
    for (i64 ci = 0; ci < xs[1]; ++ci)
      for (i64 ih = 0; ih < xs[2]; ++ih)
        for (i64 iw = 0; iw < xs[3]; ++iw)
          for (i64 co = 0; co < ws[1]; ++co)
            for (i64 ki = 0; ki < ws[2]; ++ki)
              for (i64 kj = 0; kj < ws[3]; ++kj) {
                const i64 oh = ih * o.stride[0] - o.padding[0] + ki * o.dilation[0];
                const i64 ow = iw * o.stride[1] - o.padding[1] + kj * o.dilation[1];
                if (oh >= 0 && oh < ys[2] && ow >= 0 && ow < ys[3])
                  y[at4(ys, n, co, oh, ow)] +=
                      xv[at4(xs, n, ci, ih, iw)] * wv[at4(ws, ci, co, ki, kj)];
              }
  return y;
}

void check_close(const Tensor& got, const std::vector<double>& want, double tol) {
  const auto g = got.to_vector();
  REQUIRE(g.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::abs(g[i] - want[i]) / (1 + std::abs(want[i])));
  CHECK(worst <= tol);
}

struct Case {
  Shape x, w;
  ConvOptions o;
};

ConvOptions opts(std::array<i64, 2> s, std::array<i64, 2> p, std::array<i64, 2> d = {1, 1}) {
  ConvOptions o;
  o.stride = s;
  o.padding = p;
  o.dilation = d;
  return o;
}

std::vector<Case> cases() {
  return {
      {{1, 1, 5, 5}, {1, 1, 3, 3}, opts({1, 1}, {0, 0})},
      {{3, 2, 7, 9}, {4, 2, 3, 3}, opts({1, 1}, {1, 1})},
      {{3, 3, 9, 8}, {5, 3, 4, 4}, opts({2, 2}, {1, 1})},     // the VAE's kernel, odd sizes
      {{2, 1, 28, 28}, {32, 1, 4, 4}, opts({2, 2}, {1, 1})},  // the VAE's first layer
      {{2, 2, 11, 7},
       {3, 2, 3, 2},
       opts({2, 1}, {2, 0}, {1, 2})},                         // anisotropic, dilated, wide padding
      {{1, 17, 6, 6}, {33, 17, 1, 1}, opts({1, 1}, {0, 0})},  // 1x1, sizes off the SIMD width
      {{2, 3, 5, 6}, {2, 3, 5, 6}, opts({1, 1}, {0, 0})},     // kernel as large as the image
      {{1, 2, 8, 8}, {3, 2, 3, 3}, opts({3, 3}, {2, 2}, {2, 2})},
  };
}

}  // namespace

TEST_CASE("conv2d and its backward products equal the direct sums", "[conv]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 2e-5 : 1e-12;
    std::uint64_t seed = 1;
    for (const Case& c : cases()) {
      CAPTURE(tg::shape_str(c.x), tg::shape_str(c.w), c.o.stride[0], c.o.padding[0],
              tg::dtype_name(dt));
      const Tensor x = randn(c.x, dt, seed++), w = randn(c.w, dt, seed++),
                   b = randn({c.w[0]}, dt, seed++);
      check_close(tg::conv2d(x, w, b, c.o), ref_conv2d(x, w, b, c.o), tol);
      check_close(tg::conv2d(x, w, Tensor(), c.o), ref_conv2d(x, w, Tensor(), c.o), tol);
      const Shape ys = tg::conv2d_output_shape(c.x, c.w, c.o);
      const Tensor gy = randn(ys, dt, seed++);
      check_close(tg::conv2d_backward_input(gy, w, c.x, c.o), ref_backward_input(gy, w, c.x, c.o),
                  tol);
      check_close(tg::conv2d_backward_weight(gy, x, c.w, c.o), ref_backward_weight(gy, x, c.w, c.o),
                  tol);
    }
  }
}

TEST_CASE("conv_transpose2d equals its scatter definition, with and without output_padding",
          "[conv]") {
  struct T {
    Shape x, w;
    ConvOptions o;
  };
  ConvOptions op1 = opts({2, 2}, {1, 1});
  op1.output_padding = {1, 1};
  ConvOptions op2 = opts({3, 2}, {0, 1}, {1, 2});
  op2.output_padding = {2, 0};
  const std::vector<T> ts = {
      {{1, 1, 4, 4}, {1, 1, 3, 3}, opts({1, 1}, {0, 0})},
      {{3, 64, 7, 7}, {64, 32, 4, 4}, opts({2, 2}, {1, 1})},  // the VAE decoder's first layer
      {{3, 3, 5, 7}, {3, 2, 4, 4}, opts({2, 2}, {1, 1})},
      {{2, 3, 5, 4}, {3, 2, 3, 3}, op1},
      {{2, 2, 3, 5}, {2, 5, 2, 3}, op2},
  };
  std::uint64_t seed = 100;
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 2e-5 : 1e-12;
    for (const T& t : ts) {
      CAPTURE(tg::shape_str(t.x), tg::shape_str(t.w), tg::dtype_name(dt));
      const Tensor x = randn(t.x, dt, seed++), w = randn(t.w, dt, seed++),
                   b = randn({t.w[1]}, dt, seed++);
      const Tensor y = tg::conv_transpose2d(x, w, b, t.o);
      check_close(y, ref_conv_transpose2d(x, w, b, t.o), tol);
      check_close(tg::conv_transpose2d(x, w, Tensor(), t.o),
                  ref_conv_transpose2d(x, w, Tensor(), t.o), tol);
      // conv2d with the same options maps the output size back to the input size
      ConvOptions oc = t.o;
      oc.output_padding = {0, 0};
      CHECK(tg::conv2d_output_shape(y.shape(), t.w, oc) == t.x);
    }
  }
}

TEST_CASE("conv2d's backward products are its adjoints: <A x, g> = <x, A^T g> = <w, B(g, x)>",
          "[conv]") {
  const Shape xs{3, 3, 9, 7}, ws{4, 3, 4, 3};
  const ConvOptions o = opts({2, 1}, {1, 2});
  const Tensor x = randn(xs, DType::f64, 7), w = randn(ws, DType::f64, 8);
  const Tensor g = randn(tg::conv2d_output_shape(xs, ws, o), DType::f64, 9);
  const double lhs = tg::sum(tg::conv2d(x, w, Tensor(), o) * g).item();
  CHECK(tg::sum(x * tg::conv2d_backward_input(g, w, xs, o)).item() == Approx(lhs).epsilon(1e-12));
  CHECK(tg::sum(w * tg::conv2d_backward_weight(g, x, ws, o)).item() == Approx(lhs).epsilon(1e-12));
}

TEST_CASE(
    "conv results are bitwise the same for any thread count, also when a batch is done in chunks",
    "[conv]") {
  tgtest::ThreadsGuard guard;
  // 36 x 16 x 9 = 5184 col rows x 1024 columns per image: over the 4 Mi-element budget at 5 images,
  // so a batch of 9 takes several chunks (the weight gradient adds them in order).
  const Shape xs{9, 36, 32, 32}, ws{5, 36, 3, 3};
  const ConvOptions o = opts({1, 1}, {1, 1});
  const Tensor x = randn(xs, DType::f32, 11), w = randn(ws, DType::f32, 12),
               b = randn({5}, DType::f32, 13);
  const Tensor g = randn(tg::conv2d_output_shape(xs, ws, o), DType::f32, 14);
  std::vector<Tensor> ys, dxs, dws, ts;
  for (int threads : {1, 2, 3, 8}) {
    tg::set_num_threads(threads);
    ys.push_back(tg::conv2d(x, w, b, o));
    dxs.push_back(tg::conv2d_backward_input(g, w, xs, o));
    dws.push_back(tg::conv2d_backward_weight(g, x, ws, o));
    ts.push_back(tg::conv_transpose2d(g, w, Tensor(), o));
  }
  for (std::size_t i = 1; i < ys.size(); ++i) {
    CHECK(tgtest::bitwise_equal(ys[0], ys[i]));
    CHECK(tgtest::bitwise_equal(dxs[0], dxs[i]));
    CHECK(tgtest::bitwise_equal(dws[0], dws[i]));
    CHECK(tgtest::bitwise_equal(ts[0], ts[i]));
  }
  CHECK(tgtest::bitwise_equal(ts[0], dxs[0]));  // conv_transpose2d is conv2d's input adjoint
  // and the chunked weight gradient is still the sum over the whole batch (f32 against f64 loops)
  check_close(dws[0], ref_backward_weight(g, x, ws, o), 1e-4);
}

TEST_CASE("conv errors name the op and the shapes", "[conv]") {
  const Tensor x = Tensor::zeros({2, 3, 8, 8}), w = Tensor::zeros({4, 3, 3, 3});
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(tg::conv2d(Tensor::zeros({3, 8, 8}), w, Tensor(), {}),
                    Contains("conv2d: input (3, 8, 8) should be 4-D"));
  CHECK_THROWS_WITH(tg::conv2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), {}),
                    Contains("has 3 channels but weight (4, 2, 3, 3) expects 2"));
  CHECK_THROWS_WITH(tg::conv2d(x, w, Tensor::zeros({3}), {}), Contains("bias (3,) should be (4,)"));
  CHECK_THROWS_WITH(tg::conv2d(x, w.to(DType::f64), Tensor(), {}), Contains("dtypes differ"));
  CHECK_THROWS_WITH(tg::conv2d(Tensor::zeros({1, 3, 2, 2}), w, Tensor(), {}),
                    Contains("smaller than the (dilated) kernel"));
  CHECK_THROWS_WITH(tg::conv2d(x, w, Tensor(), ConvOptions().set_stride(0)),
                    Contains("must be >= 1"));
  CHECK_THROWS_WITH(tg::conv2d(x, w, Tensor(), ConvOptions().set_padding(-1)), Contains(">= 0"));
  CHECK_THROWS_WITH(tg::conv2d(x, w, Tensor(), ConvOptions().set_output_padding(1)),
                    Contains("output_padding is for conv_transpose2d only"));
  CHECK_THROWS_WITH(tg::conv_transpose2d(x, Tensor::zeros({3, 4, 3, 3}), Tensor(),
                                         ConvOptions().set_output_padding(1)),
                    Contains("output_padding (1, 1) must be smaller than the stride (1, 1)"));
  CHECK_THROWS_WITH(
      tg::conv_transpose2d(x, Tensor::zeros({4, 3, 3, 3}), Tensor(), {}),
      Contains("input (2, 3, 8, 8) has 3 channels but weight (4, 3, 3, 3) expects 4"));
  CHECK_THROWS_WITH(tg::conv2d_backward_input(Tensor::zeros({2, 4, 5, 5}), w, x.shape(), {}),
                    Contains("gradient (2, 4, 5, 5) should be (2, 4, 6, 6)"));
  CHECK_THROWS_WITH(tg::conv2d(Tensor(), w, Tensor(), {}),
                    Contains("conv2d: the input is undefined"));
}
