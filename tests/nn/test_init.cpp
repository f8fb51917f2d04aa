#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/ops.hpp"

using namespace tg;
using namespace tg::nn;
using Json = nlohmann::json;

namespace {

const Json& fixture() {
  static const Json j = Json::parse(read_file(TG_SOURCE_DIR "/tests/nn/fixtures/layers.json"));
  return j;
}

std::pair<double, double> mean_std(const Tensor& t) {
  const auto v = t.to_vector();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size()))};
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double x : t.to_vector()) m = std::max(m, std::abs(x));
  return m;
}

}  // namespace

TEST_CASE("calculate_gain equals PyTorch's", "[init]") {
  for (const auto& [name, gain] : fixture()["gains"].items()) {
    INFO(name);
    CHECK(init::calculate_gain(name) == gain.get<double>());
  }
  for (const auto& [param, gain] : fixture()["leaky_relu_gains"].items()) {
    INFO(param);
    CHECK(init::calculate_gain("leaky_relu", std::stod(param)) ==
          Approx(gain.get<double>()).epsilon(1e-15));
  }
  CHECK_THROWS_WITH(init::calculate_gain("swish"),
                    Catch::Contains("unsupported nonlinearity 'swish'"));
}

TEST_CASE("fan in and fan out as PyTorch computes them", "[init]") {
  for (const auto& f : fixture()["fans"]) {
    const Shape shape = f["shape"].get<Shape>();
    const auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(shape);
    CHECK(fan_in == f["fan_in"].get<std::int64_t>());
    CHECK(fan_out == f["fan_out"].get<std::int64_t>());
  }
  CHECK_THROWS_AS(init::calculate_fan_in_and_fan_out({5}), ValueError);
}

TEST_CASE("fills: constant, zeros, ones, uniform, normal", "[init]") {
  Tensor t = Tensor::empty({300, 200}, DType::f64);
  CHECK(max_abs(init::zeros_(t)) == 0);
  init::ones_(t);
  CHECK(t.at({5, 7}) == 1);
  init::constant_(t, -2.5);
  CHECK(t.at({299, 199}) == -2.5);
  Generator gen(1);
  init::uniform_(t, -1, 3, &gen);
  auto [m, s] = mean_std(t);
  CHECK(m == Approx(1).margin(0.02));
  CHECK(s == Approx(4 / std::sqrt(12.0)).epsilon(0.01));
  for (double x : t.to_vector()) REQUIRE((x >= -1 && x < 3));
  init::normal_(t, 0.5, 2, &gen);
  std::tie(m, s) = mean_std(t);
  CHECK(m == Approx(0.5).margin(0.02));
  CHECK(s == Approx(2).epsilon(0.01));
}

TEST_CASE("xavier and kaiming: bounds and standard deviations", "[init]") {
  Generator gen(2);
  Tensor w = Tensor::empty({400, 300}, DType::f64);
  // xavier_uniform: a = gain sqrt(6 / (fan_in + fan_out))
  init::xavier_uniform_(w, 2.0, &gen);
  const double a = 2.0 * std::sqrt(6.0 / 700);
  CHECK(max_abs(w) <= a);
  CHECK(max_abs(w) > 0.999 * a);
  init::xavier_normal_(w, 1.0, &gen);
  CHECK(mean_std(w).second == Approx(std::sqrt(2.0 / 700)).epsilon(0.01));
  // kaiming_uniform (relu, fan_in = 300): bound = sqrt(3) sqrt(2) / sqrt(300)
  init::kaiming_uniform_(w, 0, init::FanMode::fan_in, "relu", &gen);
  const double bound = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(300.0);
  CHECK(max_abs(w) <= bound);
  CHECK(max_abs(w) > 0.999 * bound);
  // kaiming_normal (fan_out = 400, leaky_relu a = 0.2)
  init::kaiming_normal_(w, 0.2, init::FanMode::fan_out, "leaky_relu", &gen);
  CHECK(mean_std(w).second ==
        Approx(init::calculate_gain("leaky_relu", 0.2) / std::sqrt(400.0)).epsilon(0.01));
}

TEST_CASE("initialising a parameter is not recorded and keeps the handle", "[init]") {
  Variable p(Tensor::zeros({20, 10}), true);
  const Tensor storage = p.value();
  tape().clear();
  init::kaiming_uniform_(p, std::sqrt(5.0));
  CHECK(tape().size() == 0);
  CHECK(p.value().shares_storage(storage));
  CHECK(max_abs(p.value()) <= 1 / std::sqrt(10.0) + 1e-7);
  CHECK(max_abs(p.value()) > 0);
  // The same seed gives the same values.
  Generator g1(9), g2(9);
  Tensor a = Tensor::empty({5, 5}), b = Tensor::empty({5, 5});
  init::xavier_uniform_(a, 1, &g1);
  init::xavier_uniform_(b, 1, &g2);
  CHECK(allclose(a, b, 0, 0));
}
