// Tests for autograd/conv.cpp: conv2d and conv_transpose2d against central differences in f64
// (gradcheck, and gradgradcheck for the backward's own backward) over strides 1 and 2, paddings 0,
// 1 and 2, odd sizes, batch 1 and 3, with and without bias; the forward values are the tensor
// library's; a zero incoming gradient stays an exact zero.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support.hpp"
#include "tapegrad/autograd/conv.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/tensor/random.hpp"

namespace {

using tg::ConvOptions;
using tg::DType;
using tg::Shape;
using tg::Tensor;
using tg::Variable;
using Vars = std::vector<Variable>;

Variable param(const Shape& s, tg::Generator& gen) {
  return {Tensor::randn(s, DType::f64, &gen), true};
}

ConvOptions opts(std::int64_t stride, std::int64_t padding, std::int64_t dilation = 1,
                 std::int64_t outpad = 0) {
  return ConvOptions()
      .set_stride(stride)
      .set_padding(padding)
      .set_dilation(dilation)
      .set_output_padding(outpad);
}

// A fixed random projection of the output, so one scalar carries every output element (and
// gradgradcheck differentiates a gradient that depends on all of them).
struct Case {
  std::int64_t batch, cin, cout, h, w, k, stride, padding, dilation = 1, outpad = 0;
};

std::string describe(const Case& c) {
  return fmt::format("batch {} {}->{} {}x{} k{} stride {} padding {} dilation {} output_padding {}",
                     c.batch, c.cin, c.cout, c.h, c.w, c.k, c.stride, c.padding, c.dilation,
                     c.outpad);
}

const std::vector<Case> kCases = {
    {1, 1, 2, 5, 5, 3, 1, 0}, {3, 2, 3, 5, 7, 3, 1, 1}, {1, 2, 2, 7, 5, 4, 2, 1},
    {3, 1, 2, 6, 5, 3, 2, 2}, {1, 3, 2, 5, 6, 2, 2, 0}, {3, 2, 1, 7, 7, 3, 1, 2, 2},
};

}  // namespace

TEST_CASE(
    "conv2d: gradcheck over strides, paddings, odd sizes, batch 1 and 3, with and without bias",
    "[conv]") {
  tg::Generator gen(1);
  for (const Case& c : kCases) {
    for (bool bias : {true, false}) {
      CAPTURE(describe(c), bias);
      const ConvOptions o = opts(c.stride, c.padding, c.dilation);
      Vars in{param({c.batch, c.cin, c.h, c.w}, gen), param({c.cout, c.cin, c.k, c.k}, gen)};
      if (bias) in.push_back(param({c.cout}, gen));
      auto fn = [&](const Vars& v) { return tg::conv2d(v[0], v[1], bias ? v[2] : Variable(), o); };
      CHECK(tg::gradcheck(fn, in));
      // the forward is the tensor library's
      CHECK(tgtest::bitwise_equal(fn(in).value(), tg::conv2d(in[0].value(), in[1].value(),
                                                             bias ? in[2].value() : Tensor(), o)));
    }
  }
}

TEST_CASE(
    "conv_transpose2d: gradcheck over strides, paddings, output_padding, with and without bias",
    "[conv]") {
  tg::Generator gen(2);
  std::vector<Case> cases = kCases;
  cases.push_back({3, 2, 3, 4, 5, 3, 2, 1, 1, 1});  // output_padding 1
  cases.push_back({1, 3, 1, 3, 4, 4, 2, 1});        // the VAE decoder's layer shape, small
  for (const Case& c : cases) {
    for (bool bias : {true, false}) {
      CAPTURE(describe(c), bias);
      const ConvOptions o = opts(c.stride, c.padding, c.dilation, c.outpad);
      Vars in{param({c.batch, c.cin, c.h, c.w}, gen), param({c.cin, c.cout, c.k, c.k}, gen)};
      if (bias) in.push_back(param({c.cout}, gen));
      auto fn = [&](const Vars& v) {
        return tg::conv_transpose2d(v[0], v[1], bias ? v[2] : Variable(), o);
      };
      CHECK(tg::gradcheck(fn, in));
    }
  }
}

TEST_CASE("conv2d and conv_transpose2d: gradgradcheck (the backward is differentiable)", "[conv]") {
  tg::Generator gen(3);
  const std::vector<Case> cases = {{1, 2, 2, 5, 4, 3, 1, 1},
                                   {3, 1, 2, 5, 5, 3, 2, 0},
                                   {1, 2, 1, 4, 5, 2, 2, 2},
                                   {3, 1, 1, 3, 3, 2, 2, 1, 1, 1}};
  for (const Case& c : cases) {
    for (bool bias : {true, false}) {
      CAPTURE(describe(c), bias);
      {
        const ConvOptions o = opts(c.stride, c.padding, c.dilation);
        Vars in{param({c.batch, c.cin, c.h, c.w}, gen), param({c.cout, c.cin, c.k, c.k}, gen)};
        if (bias) in.push_back(param({c.cout}, gen));
        CHECK(tg::gradgradcheck(
            [&](const Vars& v) { return tg::conv2d(v[0], v[1], bias ? v[2] : Variable(), o); },
            in));
      }
      {
        const ConvOptions o = opts(c.stride, c.padding, c.dilation, c.outpad);
        Vars in{param({c.batch, c.cin, c.h, c.w}, gen), param({c.cin, c.cout, c.k, c.k}, gen)};
        if (bias) in.push_back(param({c.cout}, gen));
        CHECK(tg::gradgradcheck(
            [&](const Vars& v) {
              return tg::conv_transpose2d(v[0], v[1], bias ? v[2] : Variable(), o);
            },
            in));
      }
    }
  }
}

TEST_CASE("conv ops: two layers composed with tanh gradcheck; a zero gradient stays exactly zero",
          "[conv]") {
  tg::Generator gen(4);
  Vars in{param({3, 1, 8, 8}, gen), param({2, 1, 4, 4}, gen), param({2}, gen),
          param({3, 2, 4, 4}, gen)};
  const ConvOptions o = opts(2, 1);
  auto fn = [&](const Vars& v) {
    return tg::conv2d(tg::tanh(tg::conv2d(v[0], v[1], v[2], o)), v[3], {}, o);
  };
  CHECK(tg::gradcheck(fn, in));

  const Variable y = tg::conv_transpose2d(tg::conv2d(in[0], in[1], in[2], o), in[1], {}, o);
  const auto grads =
      tg::grad({y}, {in[0], in[1], in[2]}, {Variable(Tensor::zeros(y.shape(), DType::f64))});
  for (const Variable& g : grads) {
    REQUIRE(g.defined());
    for (double v : g.value().to_vector()) CHECK(v == 0.0);
  }
}

TEST_CASE("conv ops record themselves by name, and their errors reach the caller", "[conv]") {
  tg::Generator gen(5);
  const Variable x = param({1, 1, 5, 5}, gen), w = param({1, 1, 3, 3}, gen);
  const Variable y = tg::conv_transpose2d(tg::conv2d(x, w), w);
  CHECK(std::string(y.op()) == "conv_transpose2d");
  CHECK_THROWS_AS(tg::conv2d(x, param({1, 2, 3, 3}, gen)), tg::ShapeError);
  tg::tape().clear();
}
