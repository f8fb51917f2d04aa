// The VAE example's models. The VAE's loss is written with the distributions library so that it reads
// like the derivation in docs/elbo.md; the equation numbers below refer to that page.
#include "examples/vae/models.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"
#include "distributions/bernoulli.hpp"
#include "distributions/continuous_bernoulli.hpp"
#include "distributions/kl.hpp"
#include "distributions/normal.hpp"
#include "examples/vae/conv_vae.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

ModelKind parse_model(const std::string& s) {
  if (s == "vae") return ModelKind::vae;
  if (s == "ae") return ModelKind::ae;
  if (s == "sparse-ae") return ModelKind::sparse_ae;
  if (s == "cvae") return ModelKind::cvae;
  if (s == "conv-vae") return ModelKind::conv_vae;
  throw tg::ValueError(fmt::format("--model: '{}' is not one of vae, ae, sparse-ae, cvae, conv-vae", s));
}

std::string model_name(ModelKind k) {
  switch (k) {
    case ModelKind::vae: return "vae";
    case ModelKind::ae: return "ae";
    case ModelKind::sparse_ae: return "sparse-ae";
    case ModelKind::cvae: return "cvae";
    case ModelKind::conv_vae: return "conv-vae";
  }
  return "vae";
}

std::string display_name(ModelKind k) {
  switch (k) {
    case ModelKind::vae: return "VAE";
    case ModelKind::ae: return "autoencoder";
    case ModelKind::sparse_ae: return "sparse autoencoder";
    case ModelKind::cvae: return "conditional VAE";
    case ModelKind::conv_vae: return "conv VAE";
  }
  return "VAE";
}

Likelihood parse_likelihood(const std::string& s) {
  if (s == "bernoulli") return Likelihood::bernoulli;
  if (s == "continuous-bernoulli") return Likelihood::continuous_bernoulli;
  throw tg::ValueError(
      fmt::format("--likelihood: '{}' is not one of bernoulli, continuous-bernoulli", s));
}

std::string likelihood_name(Likelihood l) {
  return l == Likelihood::bernoulli ? "bernoulli" : "continuous-bernoulli";
}

std::map<std::string, std::string> Config::to_metadata() const {
  return {{"model", model_name(kind)},
          {"likelihood", likelihood_name(likelihood)},
          {"rows", std::to_string(rows)},
          {"cols", std::to_string(cols)},
          {"hidden", std::to_string(hidden)},
          {"latent", std::to_string(latent)},
          {"classes", std::to_string(classes)},
          {"sparsity", fmt::format("{}", sparsity)}};
}

Config Config::from_metadata(const std::map<std::string, std::string>& meta, const std::string& file) {
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end())
      throw tg::Error(fmt::format("{}: the checkpoint's metadata has no '{}' (was it written by `vae "
                                  "train`?)",
                                  file, key));
    return it->second;
  };
  auto get_int = [&](const std::string& key) {
    try {
      return std::stoll(get(key));
    } catch (const std::logic_error&) {
      throw tg::Error(fmt::format("{}: metadata '{}' = '{}' is not an integer", file, key, get(key)));
    }
  };
  Config c;
  c.kind = parse_model(get("model"));
  c.likelihood = parse_likelihood(get("likelihood"));
  c.rows = get_int("rows");
  c.cols = get_int("cols");
  c.hidden = get_int("hidden");
  c.latent = get_int("latent");
  c.classes = get_int("classes");
  c.sparsity = std::stod(get("sparsity"));
  return c;
}

Model::Model(const Config& config, tg::Generator* init, tg::DType dtype) : config_(config) {
  using tg::nn::Linear;
  if (config.kind == ModelKind::conv_vae) {  // its own layers (conv_vae.hpp); the loss below is shared
    conv_encoder_ = register_module("encoder", conv_encoder(config, init, dtype));
    conv_decoder_ = register_module("decoder", conv_decoder(config, init, dtype));
    return;
  }
  const std::int64_t label = config.conditional() ? config.classes : 0;
  // Names as in PyTorch's example (fc1, fc21, fc22, fc3, fc4), so state dicts line up one to one.
  fc1_ = register_module("fc1", std::make_shared<Linear>(config.input() + label, config.hidden, true,
                                                          dtype, init));
  fc21_ = register_module("fc21", std::make_shared<Linear>(config.hidden, config.latent, true,
                                                            dtype, init));
  if (config.variational())
    fc22_ = register_module("fc22", std::make_shared<Linear>(config.hidden, config.latent, true,
                                                              dtype, init));
  fc3_ = register_module("fc3", std::make_shared<Linear>(config.latent + label, config.hidden, true,
                                                          dtype, init));
  fc4_ = register_module("fc4", std::make_shared<Linear>(config.hidden, config.input(), true,
                                                          dtype, init));
}

Variable Model::with_label(const Variable& v, const Variable& y) const {
  if (!config_.conditional()) return v;
  if (!y.defined()) throw tg::ValueError("cvae: the model needs the one-hot label of each image");
  return tg::concat({v, y}, 1);
}

std::pair<Variable, Variable> Model::encode(const Variable& x, const Variable& y) {
  if (conv_encoder_) {
    const Variable h = conv_encoder_->forward(x);  // (B, 2 latent): mu and logvar side by side
    return {tg::slice(h, 1, 0, config_.latent), tg::slice(h, 1, config_.latent, 2 * config_.latent)};
  }
  const Variable h = tg::relu(fc1_->forward(with_label(x, y)));
  if (!config_.variational()) return {fc21_->forward(h), Variable()};
  return {fc21_->forward(h), fc22_->forward(h)};  // mu, logvar
}

Variable Model::decode(const Variable& z, const Variable& y) {
  if (conv_decoder_) return conv_decoder_->forward(z);
  return fc4_->forward(tg::relu(fc3_->forward(with_label(z, y))));
}

Tensor Model::decode_mean(const Variable& z, const Variable& y) {
  tg::NoGradGuard no_grad;
  const Variable logits = decode(z, y);
  if (config_.likelihood == Likelihood::continuous_bernoulli)
    return tg::dist::ContinuousBernoulli(logits).mean().value();
  return tg::sigmoid(logits.value());
}

// eq. (15): log p(x|z) = sum_j [x_j l_j - softplus(l_j)] for the Bernoulli, plus log C for the
// continuous Bernoulli (eq. 16). Summed over pixels: one number per image.
Variable Model::log_likelihood(const Variable& logits, const Variable& x) const {
  if (config_.likelihood == Likelihood::continuous_bernoulli)
    return tg::sum(tg::dist::ContinuousBernoulli(logits).log_prob(x), {1});
  return tg::sum(tg::dist::Bernoulli::from_logits(logits).log_prob(x), {1});
}

Terms Model::loss(const Variable& x, const Variable& y, double beta, tg::Generator& gen) {
  Terms t;
  if (!config_.variational()) {
    const Variable code = encode(x, y).first;
    t.code = code;
    t.recon = -tg::sum(log_likelihood(decode(code, y), x));
    t.kl = Variable(Tensor::scalar(0, x.dtype()));
    t.objective = t.recon;
    if (config_.kind == ModelKind::sparse_ae) {
      t.penalty = tg::sum(tg::abs(code)) * config_.sparsity;  // L1: few active code units
      t.objective = t.objective + t.penalty;
    }
    return t;
  }
  const auto [mu, logvar] = encode(x, y);
  t.code = mu;
  // eq. (10): q(z|x) = N(mu, sigma^2), sigma = exp(logvar / 2)
  const tg::dist::Normal q(mu, tg::exp(logvar * 0.5));
  // eq. (12): z = mu + sigma * eps, eps ~ N(0, I): a reparameterized, differentiable sample
  const Variable z = q.rsample({}, &gen);
  // eq. (8), first term: the reconstruction, -E_q log p(x|z) estimated with the one sample
  t.recon = -tg::sum(log_likelihood(decode(z, y), x));
  // eq. (11): KL(q(z|x) || p(z)) with p(z) = N(0, I), in closed form
  // (scalar parameters: kl_divergence broadcasts them against q's batch shape)
  const tg::dist::Normal prior(Variable(Tensor::scalar(0, mu.dtype())), Variable(Tensor::scalar(1, mu.dtype())));
  t.kl = tg::sum(tg::dist::kl_divergence(q, prior));
  // eq. (9): the negative ELBO, with the KL weighted by beta
  t.objective = beta == 1.0 ? t.recon + t.kl : t.recon + t.kl * beta;
  return t;
}

}  // namespace vae
