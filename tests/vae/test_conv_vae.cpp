// Tests for the conv VAE (examples/vae/conv_vae.cpp, --model conv-vae): its loss gradchecked in f64
// through both convolutions and both transposed convolutions (on 8x8 images, so that the finite
// differences stay cheap); the shapes through the network; PyTorch's parameter names and shapes
// (those of bench/conv_vae_torch.py, so checkpoints line up one to one); the metadata round trip;
// and the error for images that do not halve twice.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "examples/vae/conv_vae.hpp"
#include "examples/vae/models.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/tensor/random.hpp"

using tg::DType;
using tg::Tensor;
using tg::Variable;

namespace {

vae::Config conv_config(std::int64_t rows, std::int64_t cols, std::int64_t latent) {
  vae::Config c;
  c.kind = vae::ModelKind::conv_vae;
  c.rows = rows;
  c.cols = cols;
  c.latent = latent;
  return c;
}

}  // namespace

TEST_CASE("conv-vae: gradcheck of the negative ELBO through the conv layers, f64", "[vae][conv]") {
  tg::Generator init(5);
  vae::Model model(conv_config(8, 8, 3), &init, DType::f64);
  tg::Generator g(11);
  const Variable x(Tensor::rand({2, 64}, DType::f64, &g) * 0.8 + 0.1);
  auto loss = [&](const std::vector<Variable>&) {
    tg::Generator noise(42);  // the same z noise at every evaluation
    return model.loss(x, Variable(), 1.0, noise).objective;
  };
  // Every parameter but the two 32x64x4x4 kernels (32768 values each: too many central differences
  // for a unit test); their gradient is the same code path as the first kernels', checked here.
  std::vector<Variable> params;
  for (const auto& [name, p] : model.named_parameters())
    if (name != "encoder.3.weight" && name != "decoder.3.weight") params.push_back(p);
  REQUIRE(params.size() == 10);
  CHECK(tg::gradcheck(loss, params));
  // and the two big kernels: one finite difference each along a random direction (a directional
  // derivative against the gradient), enough to catch a transposed or misplaced index
  for (const char* name : {"encoder.3.weight", "decoder.3.weight"}) {
    INFO(name);
    Variable w;
    for (const auto& [n, p] : model.named_parameters())
      if (n == name) w = p;
    const Variable l = loss({});
    const auto grads = tg::grad({l}, {w});
    const Tensor dir = Tensor::randn(w.shape(), DType::f64, &g);
    const double analytic = tg::sum(grads[0].value() * dir).item();
    const double eps = 1e-6;
    Tensor& v = w.mutable_value();
    const Tensor saved = v.clone();
    v.copy_(saved + dir * eps);
    const double up = loss({}).item();
    v.copy_(saved - dir * eps);
    const double down = loss({}).item();
    v.copy_(saved);
    CHECK((up - down) / (2 * eps) == Approx(analytic).epsilon(1e-5));
  }
}

TEST_CASE("conv-vae: shapes, and PyTorch's parameter names and shapes", "[vae][conv]") {
  vae::Model model(conv_config(28, 28, 20), nullptr);
  const std::vector<std::pair<std::string, tg::Shape>> want{
      {"encoder.1.weight", {32, 1, 4, 4}},  {"encoder.1.bias", {32}},
      {"encoder.3.weight", {64, 32, 4, 4}}, {"encoder.3.bias", {64}},
      {"encoder.6.weight", {40, 3136}},     {"encoder.6.bias", {40}},
      {"decoder.0.weight", {3136, 20}},     {"decoder.0.bias", {3136}},
      {"decoder.3.weight", {64, 32, 4, 4}}, {"decoder.3.bias", {32}},
      {"decoder.5.weight", {32, 1, 4, 4}},  {"decoder.5.bias", {1}}};
  const auto named = model.named_parameters();
  REQUIRE(named.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(named[i].first == want[i].first);
    CHECK(named[i].second.shape() == want[i].second);
  }
  tg::NoGradGuard no_grad;
  const Variable x(Tensor::rand({3, 784}));
  const auto [mu, logvar] = model.encode(x, Variable());
  CHECK(mu.shape() == tg::Shape{3, 20});
  CHECK(logvar.shape() == tg::Shape{3, 20});
  CHECK(model.decode(mu, Variable()).shape() == tg::Shape{3, 784});
  CHECK(model.config().variational());
  CHECK_FALSE(model.config().conditional());
}

TEST_CASE(
    "conv-vae: the metadata rebuilds the same model; sizes that do not halve twice are refused",
    "[vae][conv]") {
  const vae::Config c = conv_config(28, 28, 2);
  const vae::Config back = vae::Config::from_metadata(c.to_metadata(), "test");
  CHECK(back.kind == vae::ModelKind::conv_vae);
  CHECK(vae::model_name(back.kind) == "conv-vae");
  CHECK(vae::parse_model("conv-vae") == vae::ModelKind::conv_vae);
  CHECK(back.latent == 2);
  CHECK_THROWS_WITH(vae::Model(conv_config(30, 28, 2), nullptr),
                    Catch::Matchers::Contains("conv-vae: images of 30x28 do not halve twice"));
}
