// The training loop and the evaluations of the VAE example.
#include "examples/vae/train.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "autograd/ops.hpp"
#include "distributions/normal.hpp"
#include "examples/vae/progress.hpp"
#include "nn/checkpoint.hpp"
#include "nn/optim.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/ops.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

std::string EpochMetrics::json() const {
  return nlohmann::json{{"epoch", epoch},         {"train_loss", train_loss}, {"test_loss", test_loss},
                        {"test_recon", test_recon}, {"test_kl", test_kl},     {"seconds", seconds}}
      .dump();
}

std::string EvalResult::json() const {
  nlohmann::json j{{"images", images},   {"neg_elbo", loss},         {"recon", recon},
                   {"kl", kl},           {"active_units", active_units}, {"latent", latent}};
  if (iw_samples > 0) {
    j["iw_samples"] = iw_samples;
    j["neg_log_px_iwae"] = iwae;  // nlohmann writes a NaN as null
  }
  return j.dump();
}

namespace {

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> r;
  for (std::int64_t i = begin; i < end; ++i) r.push_back(i);
  return r;
}

// The whole split as the model sees it in evaluation: binarized once, by a draw fixed by `gen`.
Tensor eval_images(const Split& s, Binarize binarize, tg::Generator& gen) {
  return batch_images(s, range(0, s.size()), binarize, gen);
}

Variable label_batch(const Model& model, const Split& s, const std::vector<std::int64_t>& idx) {
  return model.config().conditional() ? Variable(one_hot(s, idx, static_cast<int>(model.config().classes)))
                                      : Variable();
}

void write_metrics(const std::string& dir, const std::vector<EpochMetrics>& history) {
  std::string text;
  for (const auto& m : history) text += m.json() + "\n";
  tg::write_file_atomic((std::filesystem::path(dir) / "metrics.jsonl").string(), text);
}

}  // namespace

std::vector<EpochMetrics> train(Model& model, const Data& data, const TrainOptions& opt,
                                const std::function<void(const EpochMetrics&)>& on_epoch) {
  const Split& train_set = data.train;
  const std::int64_t n = train_set.size();
  if (n == 0) throw tg::ValueError("train: the training set is empty");
  if (opt.batch <= 0) throw tg::ValueError(fmt::format("--batch must be positive, got {}", opt.batch));
  tg::Generator gen(opt.seed);
  tg::optim::Adam optimizer(model.parameters(), opt.lr);
  std::vector<EpochMetrics> history;
  const std::int64_t steps = (n + opt.batch - 1) / opt.batch;
  std::int64_t global_step = 0;

  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    model.train();
    const auto start = std::chrono::steady_clock::now();
    const auto perm = permutation(n, gen);
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, opt.epochs), steps, opt.progress);
    double neg_elbo_sum = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
      const std::vector<std::int64_t> idx(perm.begin() + s * opt.batch,
                                          perm.begin() + std::min(n, (s + 1) * opt.batch));
      const Variable x(batch_images(train_set, idx, opt.binarize, gen));
      const Variable y = label_batch(model, train_set, idx);
      // --kl-warmup: beta grows linearly from 0 over the first kl_warmup epochs.
      const double progress = (epoch - 1) + static_cast<double>(s) / static_cast<double>(steps);
      const double beta = opt.kl_warmup > 0 ? opt.beta * std::min(1.0, progress / opt.kl_warmup) : opt.beta;
      const Terms t = model.loss(x, y, beta, gen);
      optimizer.zero_grad();
      tg::backward(t.objective);
      optimizer.step();
      ++global_step;
      const double batch_neg_elbo = t.recon.item() + t.kl.item();
      if (!std::isfinite(batch_neg_elbo))
        throw tg::Error(fmt::format("train: the loss became {} at epoch {}, step {}; try a lower --lr",
                                    batch_neg_elbo, epoch, s + 1));
      neg_elbo_sum += batch_neg_elbo;
      bar.update(s + 1, "loss", neg_elbo_sum / static_cast<double>(std::min(n, (s + 1) * opt.batch)));
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.train_loss = neg_elbo_sum / static_cast<double>(n);
    const EvalResult e = evaluate(model, data.test, opt.binarize, 0, opt.seed + 1000003ULL * epoch);
    m.test_loss = e.loss;
    m.test_recon = e.recon;
    m.test_kl = e.kl;
    history.push_back(m);
    if (!opt.out_dir.empty()) {
      write_metrics(opt.out_dir, history);
      auto meta = opt.config.to_metadata();
      meta["epoch"] = std::to_string(epoch);
      meta["step"] = std::to_string(global_step);
      meta["binarize"] = binarize_name(opt.binarize);
      meta["seed"] = std::to_string(opt.seed);
      // So that `vae eval` and `vae interpolate` use the same data set by default.
      meta["data"] = std::filesystem::absolute(data.dir).lexically_normal().string();
      meta["test_loss"] = fmt::format("{:.6f}", m.test_loss);
      tg::nn::save_checkpoint((std::filesystem::path(opt.out_dir) / "model.safetensors").string(), model,
                              &optimizer, meta);
    }
    if (on_epoch) on_epoch(m);
  }
  return history;
}

Tensor encode_all(Model& model, const Split& split) {
  tg::NoGradGuard no_grad;
  constexpr std::int64_t kBatch = 500;
  std::vector<Tensor> parts;
  for (std::int64_t b = 0; b < split.size(); b += kBatch) {
    const auto idx = range(b, std::min(split.size(), b + kBatch));
    const Variable x(tg::index_select(split.images, 0, idx));
    parts.push_back(model.encode(x, label_batch(model, split, idx)).first.value());
  }
  return tg::concat(parts, 0);
}

// Importance samples per forward pass in evaluate(): 1024 x 784 pixels is a 3 MB batch.
constexpr std::int64_t kIwChunk = 1024;

EvalResult evaluate(Model& model, const Split& split, Binarize binarize, int iw_samples,
                    std::uint64_t seed, bool progress) {
  tg::NoGradGuard no_grad;
  model.eval();
  tg::Generator gen(seed);
  const Config& cfg = model.config();
  Split s = split;
  s.images = eval_images(split, binarize, gen);
  EvalResult r;
  r.images = s.size();
  r.latent = static_cast<int>(cfg.latent);
  if (r.images == 0) throw tg::ValueError("evaluate: the test set is empty");

  // The negative ELBO and its terms, in batches, one z sample per image (as in training).
  constexpr std::int64_t kBatch = 500;
  std::vector<Tensor> codes;
  for (std::int64_t b = 0; b < s.size(); b += kBatch) {
    const auto idx = range(b, std::min(s.size(), b + kBatch));
    const Variable x(tg::index_select(s.images, 0, idx));
    const Variable y = label_batch(model, s, idx);
    const Terms t = model.loss(x, y, 1.0, gen);
    r.recon += t.recon.item();
    r.kl += t.kl.item();
    codes.push_back(t.code.value());
  }
  r.recon /= static_cast<double>(r.images);
  r.kl /= static_cast<double>(r.images);
  r.loss = r.recon + r.kl;

  // Active units: A_i = Cov_x(E_q[z_i]) > 0.01 (docs/elbo.md, section 9).
  const Tensor mu = tg::concat(codes, 0).to(tg::DType::f64);
  const Tensor var = tg::mean(tg::square(mu - tg::mean(mu, {0}, true)), {0});
  for (double v : var.to_vector()) r.active_units += v > 0.01;

  // eq. (17): L_K = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), in log space. The K
  // samples of an image go through the model in chunks of at most kChunk, their log-sum-exp combined
  // as it goes, so memory is that of one chunk whatever K is.
  if (iw_samples > 0 && cfg.variational()) {
    r.iw_samples = iw_samples;
    ProgressBar bar("importance-weighted bound", s.size(), progress);
    double neg_lk = 0;
    const std::int64_t K = iw_samples, d = cfg.latent;
    const tg::dist::Normal prior(Variable(Tensor::scalar(0, s.images.dtype())), Variable(Tensor::scalar(1, s.images.dtype())));
    for (std::int64_t i = 0; i < s.size(); ++i) {
      const std::vector<std::int64_t> one{i};
      const Variable x(tg::index_select(s.images, 0, one));
      const Variable y = label_batch(model, s, one);
      const auto [m, logvar] = model.encode(x, y);
      const Tensor sigma = tg::exp(logvar.value() * 0.5);
      double lse = -std::numeric_limits<double>::infinity();  // log sum_k w_k over the chunks so far
      for (std::int64_t k0 = 0; k0 < K; k0 += kIwChunk) {
        const std::int64_t k = std::min(kIwChunk, K - k0);
        const tg::dist::Normal q(Variable(tg::broadcast_to(m.value(), {k, d})),
                                 Variable(tg::broadcast_to(sigma, {k, d})));
        const Variable z = q.sample({}, &gen);
        const Variable xk(tg::broadcast_to(x.value(), {k, cfg.input()}));
        const Variable yk = y.defined() ? Variable(tg::broadcast_to(y.value(), {k, cfg.classes})) : Variable();
        const Tensor log_w = model.log_likelihood(model.decode(z, yk), xk).value() +
                             tg::sum(prior.log_prob(z).value(), {1}) - tg::sum(q.log_prob(z).value(), {1});
        const double chunk = tg::logsumexp(log_w.to(tg::DType::f64)).item();
        const double hi = std::max(lse, chunk);
        if (std::isfinite(hi)) lse = hi + std::log(std::exp(lse - hi) + std::exp(chunk - hi));
        else lse = hi;  // -inf (every weight 0) or +inf/NaN: nothing to combine
      }
      neg_lk -= lse - std::log(static_cast<double>(K));
      bar.update(i + 1);
    }
    r.iwae = neg_lk / static_cast<double>(r.images);
  }
  return r;
}

}  // namespace vae
