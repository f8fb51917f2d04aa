// Training and evaluation for the VAE example: the epoch loop (PyTorch's examples/vae schedule:
// Adam, lr 1e-3, batch 128), the negative ELBO on the test set, the importance-weighted bound and
// the count of active latent units.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"

namespace vae {

struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0;  // negative ELBO per training image (beta = 1), nats
  double test_loss = 0;   // negative ELBO per test image, nats
  double test_recon = 0;  // -E_q log p(x|z) per test image
  double test_kl = 0;     // KL(q(z|x) || p(z)) per test image (0 for the AEs)
  double test_inactive =
      std::numeric_limits<double>::quiet_NaN();  // sparse-ae: share of code entries < 0.1
  double seconds = 0;                            // the epoch's training time, evaluation excluded
  std::string json() const;
};

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
  bool progress = true;  // progress bars (drawn only when stdout and stderr are terminals)
  int patience = 0;      // stop when the test loss has not improved for this many epochs (0: never)
  int snapshot_every = 0;  // every N epochs, out_dir/snapshots/samples-epoch-E.png (0: never)
  std::int64_t limit = 0,
               limit_test =
                   0;  // recorded in the checkpoint, so a resumed run reloads the same data
  // Set (to the signal's number) by a signal handler: training stops after the current step and
  // writes a resumable checkpoint. Null: never.
  const std::atomic<int>* stop = nullptr;
  std::int64_t test_signal_at_step =
      0;  // tests: raise SIGINT after this many steps of this process
  // A run to continue: its model.safetensors (model, Adam, RNG and epoch state) and the metrics of
  // its completed epochs. Empty: a fresh run.
  std::string resume_checkpoint;
  std::vector<EpochMetrics> resume_history;
  // The ten class names of the pictures' labels (labels.hpp); empty: the digits. Not stored in the
  // checkpoint.
  std::vector<std::string> class_names;
};

struct EvalResult {
  std::int64_t images = 0;
  double loss = 0, recon = 0, kl = 0;  // per image, nats
  double loss_se = 0, recon_se = 0,
         kl_se = 0;  // their standard errors over the images, sd / sqrt(n)
  double iwae = std::numeric_limits<double>::quiet_NaN();  // -L_K per image (eq. 17), if computed
  double iwae_se = std::numeric_limits<double>::quiet_NaN();
  double inactive =
      std::numeric_limits<double>::quiet_NaN();  // sparse-ae: share of code entries < 0.1
  int iw_samples = 0;
  int active_units = 0;
  int latent = 0;
  std::string json() const;
};

// Why train() returned.
enum class Stopped { finished, interrupted, early };

struct TrainResult {
  std::vector<EpochMetrics>
      history;  // every completed epoch, a resumed run's earlier ones included
  Stopped stopped = Stopped::finished;
  int signal = 0;                  // interrupted: the signal's number
  std::int64_t step_in_epoch = 0;  // interrupted mid-epoch: steps done of the next epoch
  std::int64_t steps_per_epoch = 0;
  int best_epoch = 0;  // the epoch of the lowest test loss (best.safetensors)
  double best_test_loss = 0;
};

// The training run's settings stored in its checkpoint next to the model's Config (epochs, batch,
// lr, beta, kl_warmup, binarize, seed, limit, limit_test, patience, snapshot_every), and back.
// Doubles are written in their shortest exact form, so a resumed run continues with bit-identical
// settings.
std::map<std::string, std::string> train_metadata(const TrainOptions& o);
// `file` names the checkpoint in errors (a missing or malformed key is a tg::Error).
TrainOptions options_from_metadata(const std::map<std::string, std::string>& meta,
                                   const std::string& file);

// Reads a run's metrics.jsonl (one EpochMetrics per line); a malformed line is a tg::Error naming
// the file and the line.
std::vector<EpochMetrics> read_metrics(const std::string& path);

// The training loop with everything a run needs: resume, interruption, best.safetensors, early
// stop, snapshots, and a stop with an error naming the op when a step's loss or gradients are not
// finite (the step is re-run in anomaly mode; the last checkpoint is kept).
TrainResult train_run(Model& model, const Data& data, const TrainOptions& options,
                      const std::function<void(const EpochMetrics&)>& on_epoch);

// Trains `model` on data.train, evaluating on data.test after every epoch; calls on_epoch after
// each (the CLI prints a line). Writes metrics.jsonl and model.safetensors into out_dir after each
// epoch. train_run() without its result's details.
std::vector<EpochMetrics> train(Model& model, const Data& data, const TrainOptions& options,
                                const std::function<void(const EpochMetrics&)>& on_epoch);

// The negative ELBO and its two terms on a split, plus active units; and with iw_samples > 0 the
// importance-weighted estimate of -log p(x) with that many samples per image.
EvalResult evaluate(Model& model, const Split& split, Binarize binarize, int iw_samples,
                    std::uint64_t seed, bool progress = false);

// The deterministic codes (mu for the VAEs) of every image of a split: (n, latent).
tg::Tensor encode_all(Model& model, const Split& split);

}  // namespace vae
