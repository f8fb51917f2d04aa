// Tests for nn/conv.cpp: Conv2d and ConvTranspose2d against PyTorch's outputs and gradients on the
// same float64 numbers (tests/nn/fixtures/conv.json, made by make_conv_fixtures.py), their default
// init bound, repr strings and state-dict names; Unflatten against Flatten.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/conv.hpp"
#include "tapegrad/nn/layers.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

using namespace tg;
using Json = nlohmann::json;

namespace {

const Json& fixture() {
  static const Json j = Json::parse(read_file(TG_SOURCE_DIR "/tests/nn/fixtures/conv.json"));
  return j;
}

Tensor tensor(const Json& values, const Json& shape) {
  return Tensor::from_values(shape.get<Shape>(), values.get<std::vector<double>>(), DType::f64);
}

double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

nn::Size2 size2(const Json& j) { return {j[0].get<std::int64_t>(), j[1].get<std::int64_t>()}; }

}  // namespace

TEST_CASE("Conv2d and ConvTranspose2d give PyTorch's outputs and gradients", "[conv]") {
  for (const Json& c : fixture()["cases"]) {
    const std::string op = c["op"];
    CAPTURE(op, c["x_shape"].dump(), c["w_shape"].dump());
    const bool has_bias = !c["b"].is_null();
    const Shape ws = c["w_shape"].get<Shape>();
    ConvOptions o;
    o.stride = size2(c["stride"]);
    o.padding = size2(c["padding"]);
    o.dilation = size2(c["dilation"]);
    o.output_padding = size2(c["output_padding"]);
    std::shared_ptr<nn::Module> layer;
    Variable *weight, *bias;
    if (op == "conv2d") {
      auto l = std::make_shared<nn::Conv2d>(ws[1], ws[0], nn::Size2{ws[2], ws[3]}, o, has_bias,
                                            DType::f64);
      weight = &l->weight, bias = &l->bias, layer = l;
    } else {
      auto l = std::make_shared<nn::ConvTranspose2d>(ws[0], ws[1], nn::Size2{ws[2], ws[3]}, o,
                                                     has_bias, DType::f64);
      weight = &l->weight, bias = &l->bias, layer = l;
    }
    weight->mutable_value().copy_(tensor(c["w"], c["w_shape"]));
    if (has_bias)
      bias->mutable_value().copy_(tensor(c["b"], Json::array({ws[op == "conv2d" ? 0 : 1]})));
    Variable x(tensor(c["x"], c["x_shape"]), true);
    const Variable y = layer->forward(x);
    CHECK(max_diff(y.value(), tensor(c["y"], c["y_shape"])) < 1e-12);
    backward(sum(y * Variable(tensor(c["r"], c["y_shape"]))));
    CHECK(max_diff(x.grad().value(), tensor(c["dx"], c["x_shape"])) < 1e-12);
    CHECK(max_diff(weight->grad().value(), tensor(c["dw"], c["w_shape"])) < 1e-12);
    if (has_bias)
      CHECK(max_diff(bias->grad().value(), tensor(c["db"], Json::array({y.shape()[1]}))) < 1e-11);
  }
}

TEST_CASE("Conv layers: PyTorch's default init bound, repr and parameter names", "[conv]") {
  const Json& l = fixture()["layers"];
  Generator gen(3);
  nn::Conv2d conv(32, 64, 4, {}, true, DType::f32, &gen);
  nn::ConvTranspose2d deconv(64, 32, 4, {}, true, DType::f32, &gen);
  const double bound = l["conv2d_bound"], tbound = l["conv_transpose2d_bound"];
  for (auto [v, b] : {std::pair{&conv.weight, bound},
                      {&conv.bias, bound},
                      {&deconv.weight, tbound},
                      {&deconv.bias, tbound}}) {
    const auto vals = v->value().to_vector();
    const double max_abs = std::abs(*std::max_element(
        vals.begin(), vals.end(), [](double a, double c) { return std::abs(a) < std::abs(c); }));
    CHECK(max_abs <= b);
    CHECK(max_abs > 0.9 * b);  // uniform over the whole range, not a narrower one
  }
  CHECK(conv.weight.shape() == Shape{64, 32, 4, 4});
  CHECK(deconv.weight.shape() == Shape{64, 32, 4, 4});  // (in, out, kh, kw)
  CHECK(deconv.bias.shape() == Shape{32});
  CHECK(conv.state_dict().contains("weight"));
  CHECK(conv.state_dict().contains("bias"));

  CHECK(nn::Conv2d(1, 32, 4, ConvOptions().set_stride(2).set_padding(1)).to_string() ==
        l["conv2d_repr"].get<std::string>());
  ConvOptions dil;
  dil.dilation = {1, 2};
  CHECK(nn::Conv2d(3, 5, nn::Size2{3, 2}, dil, false).to_string() ==
        l["conv2d_repr_nobias"].get<std::string>());
  CHECK(nn::ConvTranspose2d(64, 32, 4,
                            ConvOptions().set_stride(2).set_padding(1).set_output_padding(1))
            .to_string() == l["conv_transpose2d_repr"].get<std::string>());
  CHECK(nn::Unflatten(1, {64, 7, 7}).to_string() == l["unflatten_repr"].get<std::string>());
}

TEST_CASE("Conv layers refuse bad sizes and options with the layer's name", "[conv]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(nn::Conv2d(0, 4, 3), Contains("Conv2d: in_channels=0"));
  CHECK_THROWS_WITH(nn::Conv2d(1, 4, 3, ConvOptions().set_output_padding(1)),
                    Contains("ConvTranspose2d only"));
  CHECK_THROWS_WITH(nn::Conv2d(1, 4, 3, ConvOptions().set_stride(0)), Contains("must be >= 1"));
  CHECK_THROWS_WITH(nn::ConvTranspose2d(2, 4, 3, ConvOptions().set_output_padding(2).set_stride(2)),
                    Contains("smaller than the stride"));
  nn::Conv2d conv(3, 4, 3);
  CHECK_THROWS_WITH(conv.forward(Variable(Tensor::zeros({2, 2, 8, 8}))),
                    Contains("has 2 channels"));
}

TEST_CASE("Unflatten undoes Flatten; a size that does not multiply out is an error", "[conv]") {
  const Variable x(Tensor::arange(0, 2 * 64 * 49).reshape({2, 64, 7, 7}), true);
  nn::Flatten flatten;
  nn::Unflatten unflatten(1, {64, 7, 7});
  const Variable f = flatten.forward(x);
  CHECK(f.shape() == Shape{2, 3136});
  const Variable u = unflatten.forward(f);
  CHECK(u.shape() == x.shape());
  CHECK(u.value().to_vector() == x.value().to_vector());
  backward(sum(u * 2.0));
  CHECK(x.grad().shape() == x.shape());
  CHECK_THROWS_WITH(
      nn::Unflatten(1, {64, 7, 6}).forward(f),
      Catch::Matchers::Contains("dimension 1 of (2, 3136) has size 3136, which (64, 7, 6)"));
  CHECK_THROWS_WITH(nn::Unflatten(-1, {}), Catch::Matchers::Contains("empty"));
}
