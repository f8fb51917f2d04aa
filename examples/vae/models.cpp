// The VAE example's models. The VAE's loss is written with the distributions library so that it
// reads like the derivation in docs/elbo.md; the equation numbers below refer to that page.
#include "examples/vae/models.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "examples/vae/conv_vae.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/distributions/bernoulli.hpp"
#include "tapegrad/distributions/continuous_bernoulli.hpp"
#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/normal.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

ModelKind parse_model(const std::string& s) {
  if (s == "vae") return ModelKind::vae;
  if (s == "ae") return ModelKind::ae;
  if (s == "sparse-ae") return ModelKind::sparse_ae;
  if (s == "cvae") return ModelKind::cvae;
  if (s == "conv-vae") return ModelKind::conv_vae;
  throw tg::ValueError(
      fmt::format("--model: '{}' is not one of vae, ae, sparse-ae, cvae, conv-vae", s));
}

std::string model_name(ModelKind k) {
  switch (k) {
    case ModelKind::vae:
      return "vae";
    case ModelKind::ae:
      return "ae";
    case ModelKind::sparse_ae:
      return "sparse-ae";
    case ModelKind::cvae:
      return "cvae";
    case ModelKind::conv_vae:
      return "conv-vae";
  }
  return "vae";
}

std::string display_name(ModelKind k) {
  switch (k) {
    case ModelKind::vae:
      return "VAE";
    case ModelKind::ae:
      return "autoencoder";
    case ModelKind::sparse_ae:
      return "sparse autoencoder";
    case ModelKind::cvae:
      return "conditional VAE";
    case ModelKind::conv_vae:
      return "conv VAE";
  }
  return "VAE";
}

Likelihood parse_likelihood(const std::string& s) {
  if (s == "bernoulli") return Likelihood::bernoulli;
  if (s == "continuous-bernoulli") return Likelihood::continuous_bernoulli;
  if (s == "gaussian") return Likelihood::gaussian;
  throw tg::ValueError(
      fmt::format("--likelihood: '{}' is not one of bernoulli, continuous-bernoulli, gaussian", s));
}

std::string likelihood_name(Likelihood l) {
  switch (l) {
    case Likelihood::bernoulli:
      return "bernoulli";
    case Likelihood::continuous_bernoulli:
      return "continuous-bernoulli";
    case Likelihood::gaussian:
      return "gaussian";
  }
  return "bernoulli";
}

double parse_sigma(const std::string& s) {
  if (s == "learned") return 0;
  std::size_t used = 0;
  double v = std::numeric_limits<double>::quiet_NaN();
  try {
    v = std::stod(s, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  if (used != s.size() || !std::isfinite(v) || v <= 0)
    throw tg::ValueError(
        fmt::format("--sigma: '{}' is neither a positive number nor 'learned' (e.g. --sigma 0.1, "
                    "or --sigma learned for one sigma trained with the model)",
                    s));
  return v;
}

std::map<std::string, std::string> Config::to_metadata() const {
  return {{"model", model_name(kind)},
          {"likelihood", likelihood_name(likelihood)},
          {"rows", std::to_string(rows)},
          {"cols", std::to_string(cols)},
          {"hidden", std::to_string(hidden)},
          {"latent", std::to_string(latent)},
          {"classes", std::to_string(classes)},
          {"sparsity", fmt::format("{}", sparsity)},
          {"sparsity_target", fmt::format("{}", sparsity_target)},
          {"sigma", sigma > 0 ? fmt::format("{}", sigma) : "learned"}};
}

std::int64_t Config::input() const {
  std::int64_t n = 0;
  if (__builtin_mul_overflow(rows, cols, &n))
    throw tg::ValueError(fmt::format("image size {}x{} overflows", rows, cols));
  return n;
}

Config Config::from_metadata(const std::map<std::string, std::string>& meta,
                             const std::string& file) {
  const auto field = [](const std::string& key) {
    return tg::FormatError::Field{fmt::format("metadata '{}'", key)};
  };
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end())
      throw tg::FormatError(file, field(key),
                            "missing (was the checkpoint written by `vae train`?)");
    return it->second;
  };
  // The whole string must be the number (std::stoll alone takes "12abc" as 12).
  auto get_int = [&](const std::string& key, std::int64_t lo, std::int64_t hi) {
    const std::string& v = get(key);
    std::int64_t x = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || end != v.data() + v.size() || x < lo || x > hi)
      throw tg::FormatError(
          file, field(key),
          fmt::format("'{}' is not an integer in {}..{} (a damaged or hand-edited "
                      "checkpoint?)",
                      v, lo, hi));
    return x;
  };
  auto get_choice = [&](const std::string& key, auto parse) {
    try {
      return parse(get(key));
    } catch (const tg::ValueError&
                 e) {  // "--model: 'x' is not one of ...": keep the list, name the field
      const std::string what = e.what();
      throw tg::FormatError(file, field(key), what.substr(what.find(": ") + 2));
    }
  };
  Config c;
  c.kind = get_choice("model", parse_model);
  c.likelihood = get_choice("likelihood", parse_likelihood);
  c.rows = get_int("rows", 1, max_side);
  c.cols = get_int("cols", 1, max_side);
  c.hidden = get_int("hidden", 1, max_units);
  c.latent = get_int("latent", 1, max_units);
  c.classes = get_int("classes", 1, max_units);
  const std::string& sparsity = get("sparsity");
  const auto [end, ec] =
      std::from_chars(sparsity.data(), sparsity.data() + sparsity.size(), c.sparsity);
  if (ec != std::errc() || end != sparsity.data() + sparsity.size() || !std::isfinite(c.sparsity) ||
      c.sparsity < 0)
    throw tg::FormatError(file, field("sparsity"),
                          fmt::format("'{}' is not a finite number >= 0", sparsity));
  // Keys added later: checkpoints written before them get the values they were trained with.
  if (auto it = meta.find("sparsity_target"); it != meta.end()) {
    const std::string& t = it->second;
    const auto [tend, tec] = std::from_chars(t.data(), t.data() + t.size(), c.sparsity_target);
    if (tec != std::errc() || tend != t.data() + t.size() ||
        !(c.sparsity_target > 0 && c.sparsity_target < 1))
      throw tg::FormatError(file, field("sparsity_target"),
                            fmt::format("'{}' is not a number in (0, 1)", t));
  }
  if (auto it = meta.find("sigma"); it != meta.end()) {
    try {
      c.sigma = parse_sigma(it->second);
    } catch (const tg::ValueError&) {
      throw tg::FormatError(
          file, field("sigma"),
          fmt::format("'{}' is neither a positive number nor 'learned'", it->second));
    }
  }
  return c;
}

std::vector<std::pair<std::string, tg::Shape>> Config::parameter_shapes() const {
  const std::int64_t label = conditional() ? classes : 0;
  std::vector<std::pair<std::string, tg::Shape>> out;
  const auto linear = [&](const std::string& name, std::int64_t in, std::int64_t units) {
    out.emplace_back(name + ".weight", tg::Shape{units, in});
    out.emplace_back(name + ".bias", tg::Shape{units});
  };
  if (kind == ModelKind::conv_vae) {  // conv_vae.cpp's Sequentials: the indices are their positions
    const std::int64_t k = kConvKernel, c1 = kConvC1, c2 = kConvC2,
                       flat = c2 * (rows / 4) * (cols / 4);
    out.emplace_back("encoder.1.weight", tg::Shape{c1, 1, k, k});
    out.emplace_back("encoder.1.bias", tg::Shape{c1});
    out.emplace_back("encoder.3.weight", tg::Shape{c2, c1, k, k});
    out.emplace_back("encoder.3.bias", tg::Shape{c2});
    linear("encoder.6", flat, 2 * latent);
    linear("decoder.0", latent, flat);
    out.emplace_back("decoder.3.weight",
                     tg::Shape{c2, c1, k, k});  // ConvTranspose2d: (in, out, k, k)
    out.emplace_back("decoder.3.bias", tg::Shape{c1});
    out.emplace_back("decoder.5.weight", tg::Shape{c1, 1, k, k});
    out.emplace_back("decoder.5.bias", tg::Shape{1});
    if (likelihood == Likelihood::gaussian && sigma <= 0)
      out.emplace_back("log_sigma", tg::Shape{1});
    return out;
  }
  linear("fc1", input() + label, hidden);
  linear("fc21", hidden, latent);
  if (variational()) linear("fc22", hidden, latent);
  linear("fc3", latent + label, hidden);
  linear("fc4", hidden, input());
  if (likelihood == Likelihood::gaussian && sigma <= 0)
    out.emplace_back("log_sigma", tg::Shape{1});  // learned sigma
  return out;
}

Model::Model(const Config& config, tg::Generator* init, tg::DType dtype) : config_(config) {
  using tg::nn::Linear;
  if (config.kind ==
      ModelKind::conv_vae) {  // its own layers (conv_vae.hpp); the loss below is shared
    conv_encoder_ = register_module("encoder", conv_encoder(config, init, dtype));
    conv_decoder_ = register_module("decoder", conv_decoder(config, init, dtype));
    return;
  }
  const std::int64_t label = config.conditional() ? config.classes : 0;
  // Names as in PyTorch's example (fc1, fc21, fc22, fc3, fc4), so state dicts line up one to one.
  fc1_ = register_module(
      "fc1", std::make_shared<Linear>(config.input() + label, config.hidden, true, dtype, init));
  fc21_ = register_module(
      "fc21", std::make_shared<Linear>(config.hidden, config.latent, true, dtype, init));
  if (config.variational())
    fc22_ = register_module(
        "fc22", std::make_shared<Linear>(config.hidden, config.latent, true, dtype, init));
  fc3_ = register_module(
      "fc3", std::make_shared<Linear>(config.latent + label, config.hidden, true, dtype, init));
  fc4_ = register_module(
      "fc4", std::make_shared<Linear>(config.hidden, config.input(), true, dtype, init));
  // One sigma for every pixel (one per pixel would run to zero on the border pixels that are black
  // in every image, and the loss to minus infinity), started at 0.1, about the RMS error of a
  // trained model: Adam moves log sigma by about lr = 1e-3 a step, so from 1 it would take many
  // epochs.
  if (config.likelihood == Likelihood::gaussian && config.sigma <= 0)
    log_sigma_ =
        register_parameter("log_sigma", Tensor::full({1}, std::log(kLearnedSigmaStart), dtype));
}

double Model::sigma() const {
  if (config_.likelihood != Likelihood::gaussian) return std::numeric_limits<double>::quiet_NaN();
  return config_.sigma > 0 ? config_.sigma : std::exp(log_sigma_.value().item());
}

Variable Model::with_label(const Variable& v, const Variable& y) const {
  if (!config_.conditional()) return v;
  if (!y.defined()) throw tg::ValueError("cvae: the model needs the one-hot label of each image");
  return tg::concat({v, y}, 1);
}

std::pair<Variable, Variable> Model::encode(const Variable& x, const Variable& y) {
  if (conv_encoder_) {
    const Variable h = conv_encoder_->forward(x);  // (B, 2 latent): mu and logvar side by side
    return {tg::slice(h, 1, 0, config_.latent),
            tg::slice(h, 1, config_.latent, 2 * config_.latent)};
  }
  const Variable h = tg::relu(fc1_->forward(with_label(x, y)));
  // The sparse AE's code is a sigmoid, in (0, 1): a unit is off near 0 and cannot dodge the penalty
  // by shrinking while the decoder's weights grow (which is what an L1 on a linear code allows).
  if (config_.kind == ModelKind::sparse_ae) return {tg::sigmoid(fc21_->forward(h)), Variable()};
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
  return tg::sigmoid(logits.value());  // the Bernoulli's mean, and the Gaussian's (eq. 18)
}

// eq. (15): log p(x|z) = sum_j [x_j l_j - softplus(l_j)] for the Bernoulli, plus log C for the
// continuous Bernoulli (eq. 16). Summed over pixels: one number per image.
Variable Model::log_likelihood(const Variable& logits, const Variable& x) const {
  if (config_.likelihood == Likelihood::continuous_bernoulli)
    return tg::sum(tg::dist::ContinuousBernoulli(logits).log_prob(x), {1});
  if (config_.likelihood == Likelihood::gaussian) {
    // eq. (18): p(x|z) = N(x; sigmoid(l), sigma^2 I), sigma fixed or one learned scalar.
    const Variable scale = config_.sigma > 0
                               ? Variable(Tensor::scalar(config_.sigma, logits.dtype()))
                               : tg::exp(log_sigma_);
    return tg::sum(tg::dist::Normal(tg::sigmoid(logits), scale).log_prob(x), {1});
  }
  return tg::sum(tg::dist::Bernoulli::from_logits(logits).log_prob(x), {1});
}

Terms Model::loss(const Variable& x, const Variable& y, double beta, tg::Generator& gen) {
  Terms t;
  if (!config_.variational()) {
    const Variable code = encode(x, y).first;
    t.code = code;
    t.recon_each = -log_likelihood(decode(code, y), x);
    t.recon = tg::sum(t.recon_each);
    t.kl = Variable(Tensor::scalar(0, x.dtype()));
    t.objective = t.recon;
    if (config_.kind == ModelKind::sparse_ae) {
      // eq. (19): lambda sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat_j the batch's
      // mean activation of unit j; times the batch size, because the reconstruction is summed over
      // the batch.
      const double batch = static_cast<double>(x.value().size(0));
      // Clamped so that a unit saturated over a whole batch gives a large, finite penalty, not inf.
      const Variable rho_hat = tg::clamp(tg::mean(code, {0}), 1e-6, 1 - 1e-6);
      const auto target = tg::dist::Bernoulli::from_probs(
          Variable(Tensor::full(rho_hat.value().shape(), config_.sparsity_target, x.dtype())));
      const auto actual = tg::dist::Bernoulli::from_probs(rho_hat);
      t.penalty = tg::sum(tg::dist::kl_divergence(target, actual)) * (config_.sparsity * batch);
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
  t.recon_each = -log_likelihood(decode(z, y), x);
  t.recon = tg::sum(t.recon_each);
  // eq. (11): KL(q(z|x) || p(z)) with p(z) = N(0, I), in closed form
  // (scalar parameters: kl_divergence broadcasts them against q's batch shape)
  const tg::dist::Normal prior(Variable(Tensor::scalar(0, mu.dtype())),
                               Variable(Tensor::scalar(1, mu.dtype())));
  t.kl_each = tg::sum(tg::dist::kl_divergence(q, prior), {1});
  t.kl = tg::sum(t.kl_each);
  // eq. (9): the negative ELBO, with the KL weighted by beta
  t.objective = beta == 1.0 ? t.recon + t.kl : t.recon + t.kl * beta;
  return t;
}

}  // namespace vae
