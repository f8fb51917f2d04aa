// Tests for the VAE example's models: every model's loss (the negative ELBO, or the AE's
// reconstruction plus penalty) gradchecked in f64 with respect to every parameter; the VAE's loss
// equal to the closed form of PyTorch's examples/vae (BCE sum + -0.5 sum(1 + logvar - mu^2 -
// exp(logvar))) computed here by hand from the same mu, logvar and noise; the continuous
// Bernoulli's normalizer against its closed form; the checkpoint metadata round trip; and PyTorch's
// parameter names.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "examples/vae/models.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/ops.hpp"
#include "tapegrad/tensor/random.hpp"

using tg::DType;
using tg::Tensor;
using tg::Variable;

namespace {

constexpr std::uint64_t kNoiseSeed = 42;  // the seed of z's noise, the same in every evaluation
constexpr std::int64_t kBatch = 4;

vae::Config tiny(vae::ModelKind kind, vae::Likelihood likelihood) {
  vae::Config c;
  c.kind = kind;
  c.likelihood = likelihood;
  c.rows = 2;
  c.cols = 3;
  c.hidden = 5;
  c.latent = 3;
  c.classes = 4;
  c.sparsity = 0.1;  // large enough that the penalty's gradient is checked, not lost in the recon's
  return c;
}

// A tiny f64 model. fc4's bias is set to +-3 so every pixel logit is far from 0: the continuous
// Bernoulli switches to a Taylor expansion for |lambda - 1/2| < 0.001, and finite differences must
// not straddle that switch.
struct Tiny {
  tg::Generator init{7};
  vae::Model model;
  Variable x, y;
  Tiny(vae::ModelKind kind, vae::Likelihood likelihood)
      : model(tiny(kind, likelihood), &init, DType::f64) {
    const vae::Config& c = model.config();
    Tensor& b = model.named_parameters().back().second.mutable_value();  // fc4.bias
    for (std::int64_t j = 0; j < b.numel(); ++j) b.data<double>()[j] = j % 2 ? 3.0 : -3.0;
    // Pixels in [0.1, 0.9]: grey values, away from 0 and 1.
    tg::Generator g(11);
    x = Variable(Tensor::rand({kBatch, c.input()}, DType::f64, &g) * 0.8 + 0.1);
    Tensor labels = Tensor::zeros({kBatch, c.classes}, DType::f64);
    for (std::int64_t i = 0; i < kBatch; ++i) labels.set({i, i % c.classes}, 1.0);
    if (c.conditional()) y = Variable(labels);
  }
  vae::Terms loss(double beta = 1.0) {
    tg::Generator noise(kNoiseSeed);  // fresh: the same z noise at every call
    return model.loss(x, y, beta, noise);
  }
};

double sigmoid(double l) { return 1.0 / (1.0 + std::exp(-l)); }

}  // namespace

TEST_CASE("models: gradcheck of the loss with respect to every parameter, f64", "[vae][models]") {
  using K = vae::ModelKind;
  using L = vae::Likelihood;
  struct Case {
    K kind;
    L likelihood;
    double beta;
  };
  const std::vector<Case> cases{
      {K::vae, L::bernoulli, 1.0},       {K::vae, L::continuous_bernoulli, 1.0},
      {K::vae, L::bernoulli, 0.5},  // beta != 1 goes through another branch
      {K::cvae, L::bernoulli, 1.0},      {K::cvae, L::continuous_bernoulli, 1.0},
      {K::ae, L::bernoulli, 1.0},        {K::ae, L::continuous_bernoulli, 1.0},
      {K::sparse_ae, L::bernoulli, 1.0}, {K::sparse_ae, L::continuous_bernoulli, 1.0},
      {K::vae, L::gaussian, 1.0},  // a learned sigma: one more parameter
      {K::ae, L::gaussian, 1.0},         {K::cvae, L::gaussian, 1.0}};
  for (const Case& c : cases) {
    DYNAMIC_SECTION(vae::model_name(c.kind)
                    << ", " << vae::likelihood_name(c.likelihood) << ", beta " << c.beta) {
      Tiny t(c.kind, c.likelihood);
      if (c.kind == K::sparse_ae) {
        // The batch's mean activation is clamped to [1e-6, 1 - 1e-6]: it must sit inside.
        tg::NoGradGuard no_grad;
        for (double v : tg::mean(t.model.encode(t.x, t.y).first, {0}).value().to_vector())
          REQUIRE((v > 1e-3 && v < 1 - 1e-3));
      }
      const std::vector<Variable> params = t.model.parameters();
      REQUIRE(params.size() == (t.model.config().variational() ? 10u : 8u) +
                                   (c.likelihood == L::gaussian ? 1u : 0u));
      for (const auto& p : params) REQUIRE(p.dtype() == DType::f64);
      // The parameters are the model's own handles: gradcheck moves their values in place.
      CHECK(tg::gradcheck([&](const std::vector<Variable>&) { return t.loss(c.beta).objective; },
                          params));
    }
  }
}

TEST_CASE("models: the VAE's loss is PyTorch's closed form, BCE sum + KL", "[vae][models]") {
  Tiny t(vae::ModelKind::vae, vae::Likelihood::bernoulli);
  const vae::Terms terms = t.loss();
  tg::NoGradGuard no_grad;
  const auto [mu_v, logvar_v] = t.model.encode(t.x, t.y);
  const std::vector<double> mu = mu_v.value().to_vector(), logvar = logvar_v.value().to_vector();
  // The same noise as the loss's: z = mu + eps * exp(logvar / 2).
  tg::Generator noise(kNoiseSeed);
  const std::vector<double> eps = Tensor::randn(mu_v.shape(), DType::f64, &noise).to_vector();
  std::vector<double> z(mu.size());
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = mu[i] + eps[i] * std::exp(0.5 * logvar[i]);
  const std::vector<double> logits =
      t.model.decode(Variable(Tensor::from_values(mu_v.shape(), z, DType::f64)), Variable())
          .value()
          .to_vector();
  const std::vector<double> x = t.x.value().to_vector();
  REQUIRE(logits.size() == x.size());

  // PyTorch: BCE = F.binary_cross_entropy(recon_x, x, reduction='sum'), recon_x = sigmoid(logits)
  double bce = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double p = sigmoid(logits[i]);
    bce -= x[i] * std::log(p) + (1 - x[i]) * std::log(1 - p);
  }
  // KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
  double kld = 0;
  for (std::size_t i = 0; i < mu.size(); ++i)
    kld += 1 + logvar[i] - mu[i] * mu[i] - std::exp(logvar[i]);
  kld *= -0.5;

  CHECK(terms.recon.item() == Approx(bce).epsilon(0).margin(1e-10));
  CHECK(terms.kl.item() == Approx(kld).epsilon(0).margin(1e-10));
  CHECK(terms.objective.item() == Approx(bce + kld).epsilon(0).margin(1e-10));
  CHECK_FALSE(terms.penalty.defined());
  // beta weighs the KL only.
  CHECK(t.loss(0.25).objective.item() == Approx(bce + 0.25 * kld).epsilon(0).margin(1e-10));
}

TEST_CASE("models: the AEs' losses by hand; the continuous Bernoulli's normalizer",
          "[vae][models]") {
  SECTION(
      "ae and sparse-ae: BCE of the deterministic code's decoding, no KL, Ng's KL sparsity "
      "penalty") {
    for (auto kind : {vae::ModelKind::ae, vae::ModelKind::sparse_ae}) {
      Tiny t(kind, vae::Likelihood::bernoulli);
      const vae::Terms terms = t.loss();
      tg::NoGradGuard no_grad;
      const Variable code = t.model.encode(t.x, t.y).first;
      const std::vector<double> logits = t.model.decode(code, Variable()).value().to_vector();
      const std::vector<double> x = t.x.value().to_vector();
      double bce = 0, l1 = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double p = sigmoid(logits[i]);
        bce -= x[i] * std::log(p) + (1 - x[i]) * std::log(1 - p);
      }
      // eq. (19) times the batch size: sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)).
      const std::vector<double> h = code.value().to_vector();
      const std::int64_t d = t.model.config().latent;
      const double rho = t.model.config().sparsity_target;
      for (std::int64_t j = 0; j < d; ++j) {
        double r = 0;
        for (std::int64_t i = 0; i < kBatch; ++i) r += h[i * d + j] / kBatch;
        if (kind == vae::ModelKind::sparse_ae) CHECK((r > 0 && r < 1));
        l1 += kBatch * (rho * std::log(rho / r) + (1 - rho) * std::log((1 - rho) / (1 - r)));
      }
      CHECK(terms.recon.item() == Approx(bce).epsilon(0).margin(1e-10));
      CHECK(terms.kl.item() == 0.0);
      if (kind == vae::ModelKind::sparse_ae) {
        for (double v : h) CHECK((v > 0 && v < 1));  // the sigmoid code
        CHECK(terms.penalty.item() == Approx(0.1 * l1).epsilon(0).margin(1e-10));
        CHECK(terms.objective.item() == Approx(bce + 0.1 * l1).epsilon(0).margin(1e-10));
      } else {
        CHECK_FALSE(terms.penalty.defined());
        CHECK(terms.objective.item() == Approx(bce).epsilon(0).margin(1e-10));
      }
    }
  }
  SECTION(
      "continuous Bernoulli: log p(x|z) = x l - softplus(l) + log C(lambda), C = 2 atanh(1-2 "
      "lambda) / (1-2 lambda)") {
    Tiny t(vae::ModelKind::ae, vae::Likelihood::continuous_bernoulli);
    tg::NoGradGuard no_grad;
    const Variable logits = t.model.decode(t.model.encode(t.x, t.y).first, Variable());
    const Tensor log_px = t.model.log_likelihood(logits, t.x).value();
    REQUIRE(log_px.shape() == tg::Shape{kBatch});
    const std::vector<double> l = logits.value().to_vector(), x = t.x.value().to_vector(),
                              got = log_px.to_vector();
    const std::int64_t d = t.model.config().input();
    for (std::int64_t i = 0; i < kBatch; ++i) {
      double want = 0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double li = l[i * d + j], lambda = sigmoid(li);
        want += x[i * d + j] * li - std::log1p(std::exp(li)) +
                std::log(2 * std::atanh(1 - 2 * lambda) / (1 - 2 * lambda));
      }
      CHECK(got[i] == Approx(want).epsilon(0).margin(1e-10));
    }
  }
}

TEST_CASE("models: parameter names and shapes are PyTorch's examples/vae", "[vae][models]") {
  auto names_and_shapes = [](vae::ModelKind kind) {
    vae::Config c;  // the full-size defaults: 784-400-20
    c.kind = kind;
    tg::Generator init(1);
    vae::Model m(c, &init);
    std::vector<std::pair<std::string, tg::Shape>> out;
    for (const auto& [name, p] : m.named_parameters()) out.emplace_back(name, p.shape());
    return out;
  };
  using NS = std::vector<std::pair<std::string, tg::Shape>>;
  CHECK(names_and_shapes(vae::ModelKind::vae) == NS{{"fc1.weight", {400, 784}},
                                                    {"fc1.bias", {400}},
                                                    {"fc21.weight", {20, 400}},
                                                    {"fc21.bias", {20}},
                                                    {"fc22.weight", {20, 400}},
                                                    {"fc22.bias", {20}},
                                                    {"fc3.weight", {400, 20}},
                                                    {"fc3.bias", {400}},
                                                    {"fc4.weight", {784, 400}},
                                                    {"fc4.bias", {784}}});
  // The AEs have one code head (no logvar); the cvae's first layers also take the 10-way one-hot
  // label.
  CHECK(names_and_shapes(vae::ModelKind::ae) == NS{{"fc1.weight", {400, 784}},
                                                   {"fc1.bias", {400}},
                                                   {"fc21.weight", {20, 400}},
                                                   {"fc21.bias", {20}},
                                                   {"fc3.weight", {400, 20}},
                                                   {"fc3.bias", {400}},
                                                   {"fc4.weight", {784, 400}},
                                                   {"fc4.bias", {784}}});
  const NS cvae = names_and_shapes(vae::ModelKind::cvae);
  REQUIRE(cvae.size() == 10);
  CHECK(cvae[0] == NS::value_type{"fc1.weight", {400, 794}});
  CHECK(cvae[6] == NS::value_type{"fc3.weight", {400, 30}});
}

TEST_CASE("models: the cvae needs its labels", "[vae][models]") {
  Tiny t(vae::ModelKind::cvae, vae::Likelihood::bernoulli);
  tg::Generator noise(1);
  CHECK_THROWS_WITH(t.model.loss(t.x, Variable(), 1.0, noise), Catch::Contains("one-hot label"));
}

TEST_CASE("models: Config metadata round trip and its errors", "[vae][models]") {
  vae::Config c = tiny(vae::ModelKind::cvae, vae::Likelihood::continuous_bernoulli);
  c.sparsity = 0.0123456789;
  const auto meta = c.to_metadata();
  const vae::Config back = vae::Config::from_metadata(meta, "ck.safetensors");
  CHECK(back.kind == c.kind);
  CHECK(back.likelihood == c.likelihood);
  CHECK(back.rows == 2);
  CHECK(back.cols == 3);
  CHECK(back.hidden == 5);
  CHECK(back.latent == 3);
  CHECK(back.classes == 4);
  CHECK(back.sparsity == c.sparsity);  // fmt's shortest round-trip form: exact
  CHECK(meta.at("model") == "cvae");
  CHECK(meta.at("likelihood") == "continuous-bernoulli");

  for (const char* key :
       {"model", "likelihood", "rows", "cols", "hidden", "latent", "classes", "sparsity"}) {
    auto missing = meta;
    missing.erase(key);
    CHECK_THROWS_AS(vae::Config::from_metadata(missing, "ck.safetensors"), tg::Error);
    CHECK_THROWS_WITH(
        vae::Config::from_metadata(missing, "ck.safetensors"),
        Catch::Contains("ck.safetensors") && Catch::Contains(std::string("'") + key + "'"));
  }
  auto bad = meta;
  bad["latent"] = "twenty";
  CHECK_THROWS_WITH(vae::Config::from_metadata(bad, "ck.safetensors"),
                    Catch::Contains("'latent'") && Catch::Contains("'twenty'") &&
                        Catch::Contains("not an integer"));
  bad = meta;
  bad["model"] = "gan";
  CHECK_THROWS_WITH(vae::Config::from_metadata(bad, "ck.safetensors"),
                    Catch::Contains("'gan'") && Catch::Contains("vae, ae, sparse-ae, cvae"));
}

TEST_CASE("models: names parse and print both ways", "[vae][models]") {
  for (auto k :
       {vae::ModelKind::vae, vae::ModelKind::ae, vae::ModelKind::sparse_ae, vae::ModelKind::cvae})
    CHECK(vae::parse_model(vae::model_name(k)) == k);
  for (auto l : {vae::Likelihood::bernoulli, vae::Likelihood::continuous_bernoulli,
                 vae::Likelihood::gaussian})
    CHECK(vae::parse_likelihood(vae::likelihood_name(l)) == l);
  CHECK_THROWS_AS(vae::parse_model("VAE"), tg::ValueError);
  CHECK_THROWS_WITH(
      vae::parse_likelihood("normal"),
      Catch::Contains("'normal'") && Catch::Contains("bernoulli, continuous-bernoulli, gaussian"));
  CHECK(vae::parse_sigma("learned") == 0);
  CHECK(vae::parse_sigma("0.25") == 0.25);
  for (const char* bad : {"0", "-1", "abc", "0.1x", "inf", "nan", ""}) {
    INFO(bad);
    CHECK_THROWS_WITH(vae::parse_sigma(bad),
                      Catch::Contains("--sigma") && Catch::Contains("learned"));
  }
}

TEST_CASE("models: the Gaussian likelihood is N(x; sigmoid(l), sigma^2), MSE for a fixed sigma",
          "[vae][models]") {
  for (double sigma : {0.3, 0.0}) {  // fixed, then learned (started at kLearnedSigmaStart)
    DYNAMIC_SECTION("sigma " << (sigma > 0 ? std::to_string(sigma) : "learned")) {
      vae::Config c = tiny(vae::ModelKind::ae, vae::Likelihood::gaussian);
      c.sigma = sigma;
      tg::Generator init(3);
      vae::Model model(c, &init, DType::f64);
      tg::Generator g(5);
      const Variable x(Tensor::rand({kBatch, c.input()}, DType::f64, &g));
      tg::NoGradGuard no_grad;
      const Variable logits = model.decode(model.encode(x, Variable()).first, Variable());
      const std::vector<double> got = model.log_likelihood(logits, x).value().to_vector();
      const std::vector<double> l = logits.value().to_vector(), xv = x.value().to_vector();
      const double s = sigma > 0 ? sigma : vae::kLearnedSigmaStart;
      CHECK(model.sigma() == Approx(s));
      for (std::int64_t i = 0; i < kBatch; ++i) {
        double sse = 0;
        for (std::int64_t j = 0; j < c.input(); ++j)
          sse += std::pow(xv[i * c.input() + j] - sigmoid(l[i * c.input() + j]), 2);
        // -log p = SSE / (2 sigma^2) + D (log sigma + log(2 pi) / 2): the MSE, scaled, plus a
        // constant.
        const double want = -(sse / (2 * s * s) + static_cast<double>(c.input()) *
                                                      (std::log(s) + 0.5 * std::log(2 * M_PI)));
        CHECK(got[i] == Approx(want).epsilon(0).margin(1e-10));
      }
    }
  }
  vae::Config c = tiny(vae::ModelKind::vae, vae::Likelihood::gaussian);
  c.sigma = 0;
  const auto meta = c.to_metadata();
  CHECK(meta.at("sigma") == "learned");
  CHECK(vae::Config::from_metadata(meta, "f").sigma == 0);
  c.sigma = 0.125;
  CHECK(vae::Config::from_metadata(c.to_metadata(), "f").sigma == 0.125);
  auto bad = c.to_metadata();
  bad["sigma"] = "-2";
  CHECK_THROWS_WITH(vae::Config::from_metadata(bad, "f"),
                    Catch::Contains("'sigma'") && Catch::Contains("'-2'"));
}
