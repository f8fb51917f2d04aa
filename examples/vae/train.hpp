// Training and evaluation for the VAE example: the epoch loop (PyTorch's examples/vae schedule:
// Adam, lr 1e-3, batch 128), the negative ELBO on the test set, the importance-weighted bound and the
// count of active latent units.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"

namespace vae {

struct TrainOptions {
  Config config;
  Binarize binarize = Binarize::none;
  int epochs = 10;
  std::int64_t batch = 128;
  double lr = 1e-3;
  double beta = 1.0;
  double kl_warmup = 0;  // epochs over which beta rises linearly from 0
  std::uint64_t seed = 1;
  std::string out_dir;   // where metrics.jsonl and model.safetensors go; empty: nowhere
  bool progress = true;  // a progress bar on stderr when it is a terminal
};

struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0;  // negative ELBO per training image (beta = 1), nats
  double test_loss = 0;   // negative ELBO per test image, nats
  double test_recon = 0;  // -E_q log p(x|z) per test image
  double test_kl = 0;     // KL(q(z|x) || p(z)) per test image (0 for the AEs)
  double test_inactive = std::numeric_limits<double>::quiet_NaN();  // sparse-ae: share of code entries < 0.1
  double seconds = 0;     // the epoch's training time, evaluation excluded
  std::string json() const;
};

struct EvalResult {
  std::int64_t images = 0;
  double loss = 0, recon = 0, kl = 0;  // per image, nats
  double loss_se = 0, recon_se = 0, kl_se = 0;  // their standard errors over the images, sd / sqrt(n)
  double iwae = std::numeric_limits<double>::quiet_NaN();  // -L_K per image (eq. 17), if computed
  double iwae_se = std::numeric_limits<double>::quiet_NaN();
  double inactive = std::numeric_limits<double>::quiet_NaN();  // sparse-ae: share of code entries < 0.1
  int iw_samples = 0;
  int active_units = 0;
  int latent = 0;
  std::string json() const;
};

// Trains `model` on data.train, evaluating on data.test after every epoch; calls on_epoch after each
// (the CLI prints a line). Writes metrics.jsonl and model.safetensors into out_dir after each epoch.
std::vector<EpochMetrics> train(Model& model, const Data& data, const TrainOptions& options,
                                const std::function<void(const EpochMetrics&)>& on_epoch);

// The negative ELBO and its two terms on a split, plus active units; and with iw_samples > 0 the
// importance-weighted estimate of -log p(x) with that many samples per image.
EvalResult evaluate(Model& model, const Split& split, Binarize binarize, int iw_samples,
                    std::uint64_t seed, bool progress = false);

// The deterministic codes (mu for the VAEs) of every image of a split: (n, latent).
tg::Tensor encode_all(Model& model, const Split& split);

}  // namespace vae
