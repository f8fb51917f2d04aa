#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/layers.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

using namespace tg;
using Json = nlohmann::json;

namespace {

const Json& fixture() {
  static const Json j = Json::parse(read_file(TG_SOURCE_DIR "/tests/nn/fixtures/layers.json"));
  return j;
}

Tensor vec(const Json& j, DType dtype = DType::f64) {
  return Tensor::from_values({static_cast<std::int64_t>(j.size())}, j.get<std::vector<double>>(),
                             dtype);
}

struct Stats {
  double mean = 0, std = 0, max_abs = 0;
};
Stats stats(const Tensor& t) {
  const auto v = t.to_vector();
  Stats s;
  for (double x : v) {
    s.mean += x;
    s.max_abs = std::max(s.max_abs, std::abs(x));
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}

}  // namespace

TEST_CASE("Linear: shapes, forward, PyTorch's default init", "[layers]") {
  nn::Linear fc(7, 5);
  CHECK(fc.weight.shape() == Shape{5, 7});
  CHECK(fc.bias.shape() == Shape{5});
  CHECK(fc.in_features() == 7);
  // The bound is computed exactly as PyTorch computes it.
  const double bound = fixture()["linear_7_5_bound"].get<double>();
  CHECK(stats(fc.weight.value()).max_abs <= bound);
  CHECK(stats(fc.bias.value()).max_abs <= fixture()["linear_7_5_bias_bound"].get<double>());

  const Tensor x = Tensor::randn({3, 7});
  const Tensor want = matmul(x, fc.weight.value(), false, true) + fc.bias.value();
  CHECK(allclose(fc.forward(x).value(), want, 1e-6, 1e-6));

  nn::Linear no_bias(7, 5, false, DType::f64);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
  CHECK(no_bias.weight.dtype() == DType::f64);
  CHECK_THROWS_AS(nn::Linear(-1, 3), ValueError);
}

TEST_CASE("Linear init statistics: U(-1/sqrt(in), 1/sqrt(in))", "[layers]") {
  Generator gen(123);
  nn::Linear fc(400, 600, true, DType::f64, &gen);
  const double b = 1 / std::sqrt(400.0);
  const Stats w = stats(fc.weight.value());
  CHECK(w.max_abs <= b);
  CHECK(w.max_abs > 0.999 * b);
  CHECK(std::abs(w.mean) < 0.01 * b);
  CHECK(w.std == Approx(b / std::sqrt(3.0)).epsilon(0.01));  // 240000 draws: ~0.2% spread
  const Stats bias = stats(fc.bias.value());
  CHECK(bias.max_abs <= b);
  CHECK(bias.max_abs > 0.95 * b);

  // Same generator seed, same parameters; the default generator otherwise.
  Generator g1(5), g2(5);
  nn::Linear a(3, 4, true, DType::f32, &g1), c(3, 4, true, DType::f32, &g2);
  CHECK(allclose(a.weight.value(), c.weight.value(), 0, 0));
  CHECK(allclose(a.bias.value(), c.bias.value(), 0, 0));
}

TEST_CASE("activation modules match PyTorch (values and gradients)", "[layers]") {
  const Json& fx = fixture();
  const Tensor x0 = vec(fx["x"]);
  const Tensor w = vec(fx["grad_weights"]);
  std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>> mods = {
      {"ReLU", std::make_shared<nn::ReLU>()},
      {"LeakyReLU", std::make_shared<nn::LeakyReLU>()},
      {"LeakyReLU_0.2", std::make_shared<nn::LeakyReLU>(0.2)},
      {"Tanh", std::make_shared<nn::Tanh>()},
      {"Sigmoid", std::make_shared<nn::Sigmoid>()},
      {"Softplus", std::make_shared<nn::Softplus>()},
      {"Softplus_2_10", std::make_shared<nn::Softplus>(2, 10)},
      {"GELU", std::make_shared<nn::GELU>()},
  };
  for (const auto& [name, m] : mods) {
    INFO(name);
    Variable x(x0.clone(), true);
    Variable y = m->forward(x);
    backward(sum(y * w));
    const Json& want = fx["activations"][name];
    CHECK(allclose(y.value(), vec(want["y"]), 1e-12, 1e-15));
    CHECK(allclose(x.grad().value(), vec(want["grad"]), 1e-12, 1e-15));
  }
}

TEST_CASE("Dropout: identity in eval, zeroes ~p and scales by 1/(1-p) in train", "[layers]") {
  Generator gen(42);
  nn::Dropout drop(0.3, &gen);
  const Tensor ones = Tensor::full({200, 500}, 2.0);
  drop.eval();
  Variable x(ones, true);
  CHECK(drop.forward(x).same(x));

  drop.train();
  Variable y = drop.forward(x);
  const auto v = y.value().to_vector();
  std::size_t zeros = 0;
  for (double e : v) {
    if (e == 0) {
      ++zeros;
    } else {
      REQUIRE(e == Approx(2.0 / 0.7).epsilon(1e-6));
    }
  }
  const double frac = static_cast<double>(zeros) / static_cast<double>(v.size());
  CHECK(std::abs(frac - 0.3) < 0.01);  // 100000 draws: the spread is ~0.0015
  // The gradient goes through the same mask and scale.
  backward(sum(y));
  const auto g = x.grad().value().to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) REQUIRE(g[i] == Approx(v[i] / 2.0));
  // A fresh mask each call.
  CHECK_FALSE(allclose(drop.forward(x).value(), y.value(), 0, 0));

  CHECK(allclose(nn::dropout(ones, 0.0, true).value(), ones, 0, 0));
  CHECK(allclose(nn::dropout(ones, 1.0, true).value(), Tensor::zeros_like(ones), 0, 0));
  CHECK_THROWS_AS(nn::Dropout(1.5), ValueError);
}

TEST_CASE("Sequential chains, Flatten keeps dim 0, Identity", "[layers]") {
  auto seq = std::make_shared<nn::Sequential>();
  auto fc1 = seq->push_back(std::make_shared<nn::Linear>(12, 8));
  seq->push_back(std::make_shared<nn::GELU>());
  auto fc2 = seq->push_back(std::make_shared<nn::Linear>(8, 2));
  CHECK(seq->size() == 3);
  const Tensor x = Tensor::randn({4, 12});
  const Variable want = fc2->forward(nn::gelu(fc1->forward(x)));
  CHECK(allclose(seq->forward(x).value(), want.value(), 0, 0));
  CHECK(seq->named_parameters()[2].first == "2.weight");

  nn::Flatten flat;
  CHECK(flat.forward(Tensor::zeros({4, 3, 2, 2})).shape() == Shape{4, 12});
  CHECK(nn::Flatten(0).forward(Tensor::zeros({4, 3, 2})).shape() == Shape{24});
  CHECK(nn::Flatten(1, 2).forward(Tensor::zeros({4, 3, 2, 5})).shape() == Shape{4, 6, 5});

  nn::Sequential model({std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(12, 3),
                        std::make_shared<nn::Identity>(), std::make_shared<nn::Tanh>()});
  CHECK(model.forward(Tensor::zeros({5, 3, 4})).shape() == Shape{5, 3});
}
