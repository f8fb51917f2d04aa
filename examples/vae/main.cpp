// `vae`: the MNIST VAE example program. `vae --help` lists the commands; docs/vae.md shows a run.
//   vae train        train a model, write metrics, a checkpoint and pictures
//   vae eval         the negative ELBO, the importance-weighted bound and active units of a
//   checkpoint vae sample       decode samples from the prior vae interpolate  decode the line
//   between two test images' codes vae manifold     the decoded 2-D latent grid (latent 2 models)
//   vae compare      train an autoencoder and a VAE with the same budget, draw and score them side
//   by side vae encode       write the codes of a data set's images (and their labels) to .npy
//   files vae decode       decode a codes file into a PNG grid vae dump         a checkpoint's
//   encoder and decoder outputs on test images (for other frameworks)
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <set>
#include <vector>

#include "examples/vae/classifier.hpp"
#include "examples/vae/codes.hpp"
#include "examples/vae/compare.hpp"
#include "examples/vae/data.hpp"
#include "examples/vae/dump.hpp"
#include "examples/vae/figures.hpp"
#include "examples/vae/labels.hpp"
#include "examples/vae/load.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/progress.hpp"
#include "examples/vae/run.hpp"
#include "examples/vae/train.hpp"
#include "tapegrad/autograd/profile.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace fs = std::filesystem;

namespace {

// The flags shared by `train` and `compare`.
struct TrainFlags {
  std::string data = vae::default_data_dir();
  std::string model = "vae", likelihood = "bernoulli", binarize = "none", out, sigma = "learned",
              class_names;
  int epochs = 10;
  std::int64_t batch = 128, hidden = 400, latent = 20, limit = 0, limit_test = 0;
  double lr = 1e-3, beta = 1.0, kl_warmup = 0, sparsity = 3.0, sparsity_target = 0.05;
  std::vector<std::int64_t> latents{2, 20};           // compare
  int classifier_epochs = 8, compare_samples = 1000;  // compare
  std::uint64_t seed = 1;
  int threads = 0;
  bool profile = false;
  std::vector<std::string> models;  // compare --models: a side-by-side panel figure of these
  // train only: the run itself
  std::string resume;
  bool overwrite = false;
  int patience = 0, snapshot_every = 0;
  std::int64_t test_signal_at_step = 0;
};

// Every numeric flag has a range, and a value outside it is a usage error (exit 2) that names the
// flag (CLI11 prefixes it) and the range: "--threads: must be an integer in 0..256, got 10000".
// CLI11's own PositiveNumber and Range accept "inf" and "nan" and word their message as "Value 0
// not in range ...".
CLI::Validator int_range(std::int64_t lo, std::int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        std::int64_t x = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        if (ec != std::errc() || end != v.data() + v.size() || x < lo || x > hi)
          return fmt::format("must be an integer in {}..{}, got '{}'", lo, hi, v);
        return {};
      },
      fmt::format("INT in {}..{}", lo, hi));
}
// A finite real in [lo, hi], or in (lo, hi] when lo_open (no upper bound when hi is the largest
// double).
CLI::Validator real_range(double lo, double hi, bool lo_open = false) {
  const bool unbounded = hi == std::numeric_limits<double>::max();
  const std::string range = unbounded ? fmt::format("{} {}", lo_open ? ">" : ">=", lo)
                            : lo_open ? fmt::format("> {} and <= {}", lo, hi)
                                      : fmt::format("in {}..{}", lo, hi);
  return CLI::Validator(
      [lo, hi, lo_open, range](std::string& v) -> std::string {
        double x = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(x) || x < lo ||
            x > hi || (lo_open && x == lo))
          return fmt::format("must be a finite number {}, got '{}'", range, v);
        return {};
      },
      "NUMBER " + range);
}
const CLI::Validator kSeed(
    [](std::string& v) -> std::string {
      std::uint64_t x = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || end != v.data() + v.size())
        return fmt::format("must be an integer in 0..18446744073709551615, got '{}'", v);
      return {};
    },
    "");
// For flags without a natural upper bound.
const CLI::Validator kPositive = real_range(0, std::numeric_limits<double>::max(), true);
const CLI::Validator kNonNegative = real_range(0, std::numeric_limits<double>::max());
constexpr std::int64_t kMaxThreads = 256;
constexpr std::int64_t kMaxCount = std::numeric_limits<std::int64_t>::max();
const CLI::Validator kThreads = int_range(0, kMaxThreads);

// The value must be one the parser accepts: the parser's own message (which names the choices)
// becomes a usage error, so the list of choices lives in one place.
template <class Parse>
CLI::Validator accepted_by(Parse parse) {
  return CLI::Validator(
      [parse](std::string& v) -> std::string {
        try {
          parse(v);
          return {};
        } catch (const tg::ValueError& e) {
          const std::string what = e.what();
          return what.substr(what.find(": ") +
                             2);  // drop the "--flag: " prefix; CLI11 names the flag
        }
      },
      "");
}
const CLI::Validator kModels = accepted_by(vae::parse_model);
const CLI::Validator kBinarize = accepted_by(vae::parse_binarize);
const CLI::Validator kLikelihoods = accepted_by(vae::parse_likelihood);
const CLI::Validator kSigma = accepted_by(vae::parse_sigma);
const CLI::Validator kClassNames =
    accepted_by([](const std::string& v) { return vae::class_names("", v); });
const CLI::Validator kOpenUnit = CLI::Validator(
    [](std::string& v) -> std::string {
      double x = 0;
      if (!CLI::detail::lexical_cast(v, x)) return fmt::format("'{}' is not a number", v);
      if (!(x > 0 && x < 1)) return fmt::format("must be strictly between 0 and 1, got {}", v);
      return {};
    },
    "(0, 1)");

void add_train_flags(CLI::App* cmd, TrainFlags& f, bool with_model) {
  cmd->add_option("--data", f.data,
                  "folder with the four MNIST IDX files (default: the embedded 10k digits)");
  if (with_model) {
    cmd->add_option("--model", f.model, "vae | ae | sparse-ae | cvae | conv-vae")
        ->capture_default_str()
        ->check(kModels);
    cmd->add_option("--sparsity", f.sparsity,
                    "sparse-ae: weight of the KL sparsity penalty on the sigmoid code")
        ->capture_default_str()
        ->check(real_range(0, 1e6));
    cmd->add_option("--sparsity-target", f.sparsity_target,
                    "sparse-ae: target mean activation rho of each code unit")
        ->capture_default_str()
        ->check(kOpenUnit);
    cmd->add_option("--latent", f.latent, "latent dimensions")
        ->capture_default_str()
        ->check(int_range(1, 10000));
  } else {
    cmd->add_option("--latents", f.latents, "latent sizes to compare at")
        ->capture_default_str()
        ->check(int_range(1, 10000))
        ->delimiter(',');
    cmd->add_option("--classifier-epochs", f.classifier_epochs,
                    "epochs of the classifier that scores the samples")
        ->capture_default_str()
        ->check(int_range(1, 100000));
    cmd->add_option("--samples", f.compare_samples,
                    "samples per sampler that the classifier scores")
        ->capture_default_str()
        ->check(int_range(64, 100000));
  }
  cmd->add_option("--epochs", f.epochs, "training epochs (with --resume: the total to reach)")
      ->capture_default_str()
      ->check(int_range(1, 100000));
  cmd->add_option("--batch", f.batch, "mini-batch size")
      ->capture_default_str()
      ->check(int_range(1, 1 << 20));
  cmd->add_option("--lr", f.lr, "Adam's learning rate")
      ->capture_default_str()
      ->check(real_range(0, 1e9, true));
  cmd->add_option("--seed", f.seed, "seed for initialisation, shuffling and sampling")
      ->capture_default_str()
      ->check(kSeed);
  cmd->add_option("--threads", f.threads, "worker threads (default: TG_NUM_THREADS or all cores)")
      ->check(kThreads);
  cmd->add_option("--out", f.out,
                  with_model ? "output folder (default: runs/<model>-<date-time>)"
                             : "output folder (default: runs/compare-<date-time>)");
  cmd->add_option("--binarize", f.binarize, "none | dynamic | static")
      ->capture_default_str()
      ->check(kBinarize);
  cmd->add_option("--likelihood", f.likelihood, "bernoulli | continuous-bernoulli | gaussian")
      ->capture_default_str()
      ->check(kLikelihoods);
  cmd->add_option("--sigma", f.sigma, "gaussian: the sigma of p(x|z), a number, or 'learned'")
      ->capture_default_str()
      ->check(kSigma);
  cmd->add_option("--class-names", f.class_names,
                  "ten comma-separated class names for legends (default: digits, "
                  "or Fashion-MNIST's when the data folder's name says fashion)")
      ->check(kClassNames);
  cmd->add_option("--hidden", f.hidden, "hidden units")
      ->capture_default_str()
      ->check(int_range(1, 100000));
  cmd->add_option("--beta", f.beta, "weight of the KL term")
      ->capture_default_str()
      ->check(real_range(0, 1e6));
  cmd->add_option("--kl-warmup", f.kl_warmup,
                  "epochs over which the KL weight rises from 0 to --beta")
      ->capture_default_str()
      ->check(real_range(0, 1e6));
  cmd->add_option("--limit", f.limit, "use only the first N training images (quick runs)")
      ->check(int_range(0, kMaxCount));
  cmd->add_option("--limit-test", f.limit_test, "use only the first N test images")
      ->check(int_range(0, kMaxCount));
  cmd->add_flag(
      "--profile", f.profile,
      "print a table of time per op (forward, backward), optimizer step, data and evaluation at "
      "the end (as TG_PROFILE=1)");
  cmd->add_flag("--overwrite", f.overwrite, "replace the run in --out if there is one");
}

// `train`'s flags about the run rather than the model.
void add_run_flags(CLI::App* cmd, TrainFlags& f) {
  cmd->add_option("--resume", f.resume,
                  "continue the run in this folder where it stopped (with --epochs N: "
                  "until epoch N in total)");
  cmd->add_option("--patience", f.patience,
                  "stop when the test loss has not improved for N epochs (0: never)")
      ->capture_default_str()
      ->check(int_range(0, 100000));
  cmd->add_option("--snapshot-every", f.snapshot_every,
                  "write snapshots/samples-epoch-E.png every N epochs (0: never)")
      ->capture_default_str()
      ->check(int_range(0, 100000));
  cmd->add_option("--test-signal-at-step", f.test_signal_at_step,
                  "tests only: raise SIGINT after N steps")
      ->group("");  // hidden
}

// The flags given on the command line, by name ("--hidden").
std::set<std::string> given_flags(const CLI::App& cmd) {
  std::set<std::string> out;
  for (const CLI::Option* o : cmd.get_options())
    if (o->count() > 0) out.insert(o->get_name());
  return out;
}

vae::Data load(const TrainFlags& f, vae::Binarize binarize) {
  vae::Data data = vae::load_data(f.data, binarize, f.seed);
  vae::truncate(data.train, f.limit);
  vae::truncate(data.test, f.limit_test);
  return data;
}

vae::TrainOptions options_from(const TrainFlags& f, const vae::Data& data, vae::ModelKind kind) {
  vae::TrainOptions o;
  o.config.kind = kind;
  o.config.likelihood = vae::parse_likelihood(f.likelihood);
  o.config.rows = data.train.rows;
  o.config.cols = data.train.cols;
  o.config.hidden = f.hidden;
  o.config.latent = f.latent;
  o.config.sparsity = f.sparsity;
  o.config.sparsity_target = f.sparsity_target;
  o.config.sigma = vae::parse_sigma(f.sigma);
  o.binarize = vae::parse_binarize(f.binarize);
  o.epochs = f.epochs;
  o.batch = f.batch;
  o.lr = f.lr;
  o.beta = f.beta;
  o.kl_warmup = f.kl_warmup;
  o.seed = f.seed;
  o.limit = f.limit;
  o.limit_test = f.limit_test;
  o.patience = f.patience;
  o.snapshot_every = f.snapshot_every;
  o.test_signal_at_step = f.test_signal_at_step;
  o.class_names = vae::class_names(data.dir, f.class_names);
  return o;
}

// The VAEs print the negative ELBO and its terms; the AEs their reconstruction error alone (they
// have no KL and no bound), the sparse AE also the share of inactive code entries.
void print_epoch(const vae::EpochMetrics& m, int epochs, const vae::Config& c) {
  if (c.variational())
    vae::print_line(fmt::format(
        "epoch {:>3}/{}  train {:8.3f}  test {:8.3f} (recon {:8.3f} + kl {:7.3f})  {:6.2f} s",
        m.epoch, epochs, m.train_loss, m.test_loss, m.test_recon, m.test_kl, m.seconds));
  else if (c.kind == vae::ModelKind::sparse_ae)
    vae::print_line(fmt::format(
        "epoch {:>3}/{}  train recon {:8.3f}  test recon {:8.3f}  inactive {:5.1f}% (h < {})  "
        "{:6.2f} s",
        m.epoch, epochs, m.train_loss, m.test_recon, 100 * m.test_inactive, vae::kInactiveBelow,
        m.seconds));
  else
    vae::print_line(
        fmt::format("epoch {:>3}/{}  train recon {:8.3f}  test recon {:8.3f}  {:6.2f} s", m.epoch,
                    epochs, m.train_loss, m.test_recon, m.seconds));
}

std::string path_in(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

// Trains one model into `out` and writes its pictures; returns the trained model and history.
std::pair<std::unique_ptr<vae::Model>, std::vector<vae::EpochMetrics>> train_one(
    vae::TrainOptions o, const vae::Data& data, const std::string& out,
    const std::vector<std::string>& names) {
  o.out_dir = out;
  tg::Generator init(o.seed);
  auto model = std::make_unique<vae::Model>(o.config, &init);
  o.class_names = names;
  const vae::TrainResult r = vae::train_run(
      *model, data, o, [&](const vae::EpochMetrics& m) { print_epoch(m, o.epochs, o.config); });
  vae::write_run_outputs(out, *model, data, o, r, fmt::format("finished: {} epochs", o.epochs));
  return {std::move(model), r.history};
}

// `vae train`: a fresh run into --out (refused if it holds one, unless --overwrite), or --resume.
int run_train(const TrainFlags& f, const CLI::App& cmd) {
  if (f.threads > 0) tg::set_num_threads(f.threads);
  if (f.profile) tg::profile::enable();
  const vae::ModelKind kind = vae::parse_model(f.model);
  vae::TrainCommand c;
  c.given = given_flags(cmd);
  c.data_dir = f.data;
  c.resume = f.resume;
  c.on_epoch = [](const vae::EpochMetrics& m, int epochs, const vae::Config& config) {
    print_epoch(m, epochs, config);
  };
  if (!f.resume.empty()) {
    c.options = options_from(f, vae::Data{}, kind);
    return vae::run_training(c, nullptr);
  }
  const std::string out = f.out.empty() ? vae::default_run_dir(f.model) : f.out;
  vae::check_out_dir(out, f.overwrite);
  // The data first: a bad --data must not leave an empty output folder behind.
  const vae::Data data = load(f, vae::parse_binarize(f.binarize));
  vae::prepare_out_dir(out, f.overwrite);
  vae::print_line(fmt::format("training {} on {} ({} train / {} test images, {}x{}), {} threads",
                              f.model, data.dir, data.train.size(), data.test.size(),
                              data.train.rows, data.train.cols, tg::num_threads()));
  c.options = options_from(f, data, kind);
  c.options.out_dir = out;
  return vae::run_training(c, &data);
}

// A model rebuilt from a checkpoint's metadata, with its weights.
using Loaded = vae::LoadedModel;

Loaded load_model(const std::string& checkpoint) {
  if (!fs::exists(checkpoint))
    throw tg::Error(
        fmt::format("cannot open {}: no such file (train one with `vae train`; it writes "
                    "runs/<model>-<date>/model.safetensors)",
                    checkpoint));
  if (fs::is_directory(checkpoint))
    throw tg::Error(fmt::format("{} is a folder; --checkpoint wants a file, e.g. {}", checkpoint,
                                (fs::path(checkpoint) / "model.safetensors").string()));
  // Read once: the metadata says what to build, checked against the tensors before anything is
  // built.
  return vae::load_model(tg::nn::load_safetensors(checkpoint), checkpoint);
}

std::string meta_or(const std::map<std::string, std::string>& m, const std::string& key,
                    const std::string& fallback) {
  auto it = m.find(key);
  return it == m.end() ? fallback : it->second;
}

// The data folder for a checkpoint: --data when given, else the one it was trained on (never
// silently another data set: a Fashion-MNIST model evaluated on digits gives plausible but
// meaningless numbers).
std::string data_for(const Loaded& l, const std::string& flag) {
  if (!flag.empty()) return flag;
  const std::string dir = meta_or(l.meta, "data", vae::default_data_dir());
  if (!fs::exists(dir))
    throw tg::Error(
        fmt::format("the checkpoint was trained on the data in {}, which does not exist here; "
                    "pass --data DIR",
                    dir));
  return dir;
}

// The flags of the commands that read a checkpoint (eval, sample, interpolate, manifold).
struct ModelFlags {
  std::string checkpoint, data_dir, binarize, out;
  int iw_samples = 1000, n = 64, digit = -1, steps = 10, threads = 0, grid = 20;
  std::int64_t from = 0, to = 1, limit_test = 0;
  std::uint64_t seed = 1;
  bool json = false, overwrite = false;
  std::string class_names;  // --class-names (sample, interpolate)
};

// A generated picture's file: --out when given (an existing file only with --overwrite), else a
// name beside the checkpoint that is not taken, so no training output or earlier picture is
// replaced.
std::string picture_path(const ModelFlags& f, const std::string& stem) {
  if (f.out.empty())
    return vae::fresh_path(fs::path(f.checkpoint).parent_path().string(), stem, ".png");
  if (fs::exists(f.out) && !f.overwrite)
    throw vae::UsageError(
        fmt::format("--out {} exists; pass --overwrite to replace it, or leave out --out for a "
                    "fresh name beside the checkpoint",
                    f.out));
  return f.out;
}

void add_picture_out(CLI::App* cmd, ModelFlags& f, const std::string& default_name) {
  cmd->add_option("--out", f.out,
                  fmt::format("PNG file (default: {} beside the checkpoint, or {}-2.png, ... if "
                              "taken)",
                              default_name + ".png", default_name));
  cmd->add_flag("--overwrite", f.overwrite, "replace --out if it exists");
}

CLI::App* add_eval_command(CLI::App& app, ModelFlags& f) {
  auto* cmd =
      app.add_subcommand("eval", "negative ELBO, importance-weighted bound and active units");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors written by `vae train`")
      ->required();
  cmd->add_option("--data", f.data_dir, "data folder (default: the one the model was trained on)");
  cmd->add_option("--iw-samples", f.iw_samples,
                  "samples K of the importance-weighted bound (0: skip it)")
      ->capture_default_str()
      ->check(int_range(0, 1000000));
  cmd->add_option("--binarize", f.binarize, "none | dynamic | static (default: as trained)")
      ->check(kBinarize);
  cmd->add_option("--limit-test", f.limit_test, "use only the first N test images")
      ->check(int_range(0, kMaxCount));
  cmd->add_option("--seed", f.seed, "seed for the z samples")->capture_default_str()->check(kSeed);
  cmd->add_option("--threads", f.threads, "worker threads")->check(kThreads);
  cmd->add_flag("--json", f.json, "print one line of JSON");
  return cmd;
}

CLI::App* add_sample_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("sample", "decode samples z ~ N(0, I) into a PNG grid");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors")->required();
  cmd->add_option("--n", f.n, "how many samples")->capture_default_str()->check(int_range(1, 4096));
  cmd->add_option("--digit", f.digit, "cvae: the digit to draw")->check(int_range(0, 9));
  cmd->add_option("--seed", f.seed, "seed")->capture_default_str()->check(kSeed);
  cmd->add_option("--class-names", f.class_names, "ten comma-separated class names for the labels")
      ->check(kClassNames);
  add_picture_out(cmd, f, "samples-seed<seed>");
  return cmd;
}

CLI::App* add_interpolate_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("interpolate", "decode the line between two test images' codes");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors")->required();
  cmd->add_option("--from", f.from, "index of the first test image")
      ->required()
      ->check(int_range(0, kMaxCount));
  cmd->add_option("--to", f.to, "index of the second test image")
      ->required()
      ->check(int_range(0, kMaxCount));
  cmd->add_option("--steps", f.steps, "points along the line")
      ->capture_default_str()
      ->check(int_range(2, 100));
  cmd->add_option("--data", f.data_dir, "data folder (default: the one the model was trained on)");
  cmd->add_option("--class-names", f.class_names, "ten comma-separated class names for the labels")
      ->check(kClassNames);
  add_picture_out(cmd, f, "interpolation-<from>-<to>");
  return cmd;
}

CLI::App* add_manifold_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("manifold", "latent-2 models: decodings over a quantile grid");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors trained with --latent 2")
      ->required();
  cmd->add_option("--n", f.grid, "grid size")->capture_default_str()->check(int_range(2, 100));
  add_picture_out(cmd, f, "manifold");
  return cmd;
}

int run_eval(const ModelFlags& f) {
  if (f.threads > 0) tg::set_num_threads(f.threads);
  Loaded l = load_model(f.checkpoint);
  const vae::Binarize b =
      vae::parse_binarize(f.binarize.empty() ? meta_or(l.meta, "binarize", "none") : f.binarize);
  // A static binarization is the training run's draw: the same seed gives the same bits.
  const std::uint64_t data_seed = std::stoull(meta_or(l.meta, "seed", "1"));
  vae::Data data = vae::load_data(data_for(l, f.data_dir), b, data_seed);
  vae::truncate(data.test, f.limit_test);
  const vae::EvalResult r = vae::evaluate(*l.model, data.test, b, f.iw_samples, f.seed, !f.json);
  if (f.json) {
    fmt::print("{}\n", r.json());
  } else {
    // Every figure with its standard error over the test images (sd / sqrt(n)).
    const vae::Config& c = l.model->config();
    const char* px = c.conditional() ? "-log p(x|y)" : "-log p(x)";
    fmt::print("{} test images ({}); each figure ± its standard error\n", r.images, data.dir);
    if (c.variational()) {
      fmt::print(
          "negative ELBO        {:9.3f} ± {:.3f} nats  (recon {:.3f} ± {:.3f}, kl {:.3f} ± "
          "{:.3f})\n",
          r.loss, r.loss_se, r.recon, r.recon_se, r.kl, r.kl_se);
      if (r.iw_samples > 0)
        fmt::print("IWAE bound -L_K      {:9.3f} ± {:.3f} nats  (K = {}; an upper bound on {})\n",
                   r.iwae, r.iwae_se, r.iw_samples, px);
      fmt::print("active units         {:5} of {}\n", r.active_units, r.latent);
    } else {  // no prior, no KL: its loss is a reconstruction, not a bound on -log p(x)
      fmt::print(
          "reconstruction       {:9.3f} ± {:.3f} nats  (an autoencoder has no ELBO and no IWAE "
          "bound)\n",
          r.recon, r.recon_se);
      if (c.kind == vae::ModelKind::sparse_ae)
        fmt::print("inactive code        {:8.1f}%  of the code entries (h < {})\n",
                   100 * r.inactive, vae::kInactiveBelow);
    }
    if (c.likelihood == vae::Likelihood::gaussian)
      fmt::print("sigma of p(x|z)      {:9.4f}  ({})\n", l.model->sigma(),
                 c.sigma > 0 ? "fixed" : "learned");
  }
  return 0;
}

int run_sample(const ModelFlags& f) {
  Loaded l = load_model(f.checkpoint);
  if (f.digit >= 0 && !l.model->config().conditional())
    throw tg::ValueError("sample: --digit needs a cvae checkpoint (train one with --model cvae)");
  const std::string path =
      picture_path(f, f.digit >= 0 ? fmt::format("samples-digit{}-seed{}", f.digit, f.seed)
                                   : fmt::format("samples-seed{}", f.seed));
  vae::write_samples(path, *l.model, f.n, f.digit, f.seed,
                     vae::class_names(meta_or(l.meta, "data", ""), f.class_names));
  fmt::print("wrote {}\n", path);
  return 0;
}

int run_interpolate(const ModelFlags& f) {
  Loaded l = load_model(f.checkpoint);
  const vae::Data data = vae::load_data(data_for(l, f.data_dir),
                                        vae::parse_binarize(meta_or(l.meta, "binarize", "none")),
                                        std::stoull(meta_or(l.meta, "seed", "1")));
  const std::string path = picture_path(f, fmt::format("interpolation-{}-{}", f.from, f.to));
  vae::write_interpolation(path, *l.model, data.test, {{f.from, f.to}}, f.steps,
                           vae::class_names(data.dir, f.class_names));
  fmt::print("wrote {}\n", path);
  return 0;
}

int run_manifold(const ModelFlags& f) {
  Loaded l = load_model(f.checkpoint);
  const std::string path = picture_path(f, "manifold");
  vae::write_manifold(path, *l.model, f.grid);
  fmt::print("wrote {}\n", path);
  return 0;
}

// `vae compare --models a,b,...`: the listed models trained with the same flags and seed, one panel
// figure (compare.svg) of their interpolations, samples and latent codes, e.g. the MLP VAE beside
// the conv VAE.
int run_compare_panels(const TrainFlags& f) {
  const vae::Binarize b = vae::parse_binarize(f.binarize);
  const std::string root = f.out.empty() ? vae::default_run_dir("compare") : f.out;
  std::vector<vae::ModelKind> kinds;
  for (const auto& m : f.models) {
    if (std::count(f.models.begin(), f.models.end(), m) > 1)
      throw vae::UsageError(fmt::format("compare: --models names {} twice", m));
    kinds.push_back(vae::parse_model(m));
  }
  vae::check_out_dir(root, f.overwrite);
  const vae::Data data = load(f, b);
  vae::prepare_out_dir(root, f.overwrite);
  const std::vector<std::string> names = vae::class_names(data.dir, f.class_names);
  std::vector<vae::ComparePanel> panels;
  for (auto kind : kinds) {
    const std::string name = vae::model_name(kind), dir = path_in(root, name);
    vae::prepare_out_dir(dir);
    vae::print_line(fmt::format("--- {} ---", name));
    const auto [model, history] = train_one(options_from(f, data, kind), data, dir, names);
    panels.push_back({vae::display_name(kind), path_in(dir, "interpolation.png"),
                      path_in(dir, "samples.png"), path_in(dir, "latent.svg"),
                      history.back().test_recon, history.back().test_kl});
  }
  vae::write_compare_figure(path_in(root, "compare.svg"), panels);
  fmt::print("wrote {}/compare.svg (and {}/ with each model's files)\n", root,
             fmt::join(f.models, "/, "));
  return 0;
}

// `vae compare`: a classifier to score the pictures, then at each latent size an AE and a VAE (same
// flags, same seed), their figures and scores (compare.hpp), a table on stdout and compare.json.
int run_compare(const TrainFlags& f) {
  if (f.threads > 0) tg::set_num_threads(f.threads);
  if (f.profile) tg::profile::enable();
  if (!f.models.empty()) return run_compare_panels(f);
  const vae::Binarize b = vae::parse_binarize(f.binarize);
  const std::string root = f.out.empty() ? vae::default_run_dir("compare") : f.out;
  vae::check_out_dir(root, f.overwrite);
  const vae::Data data = load(f, b);
  const std::vector<std::string> names = vae::class_names(data.dir, f.class_names);
  // Checked before anything is trained or written (compare_models checks it again).
  if (data.test.size() < 10)
    throw tg::ValueError(
        fmt::format("compare: needs at least 10 test images to fit a Gaussian to the codes, got {} "
                    "(raise --limit-test)",
                    data.test.size()));
  vae::prepare_out_dir(root, f.overwrite);
  vae::ClassifierReport clf_report;
  auto clf = vae::train_classifier(data, f.classifier_epochs, f.seed + 99, &clf_report);
  fmt::print("classifier (MLP {}-256-10, {} epochs): test accuracy {:.1f}%  {:.1f} s\n",
             data.train.pixels(), clf_report.epochs, 100 * clf_report.test_accuracy,
             clf_report.seconds);
  std::vector<vae::CompareResult> results;
  for (std::int64_t latent : f.latents) {
    TrainFlags g = f;
    g.latent = latent;
    const std::string dir = path_in(root, fmt::format("latent{}", latent));
    vae::CompareModel m[2];
    std::unique_ptr<vae::Model> keep[2];
    int i = 0;
    for (auto kind : {vae::ModelKind::ae, vae::ModelKind::vae}) {
      const std::string sub = path_in(dir, vae::model_name(kind));
      vae::prepare_out_dir(sub);
      fmt::print("--- {}, latent {} ---\n", vae::model_name(kind), latent);
      auto [model, history] = train_one(options_from(g, data, kind), data, sub, names);
      keep[i] = std::move(model);
      m[i] = {keep[i].get(), history};
      ++i;
    }
    vae::CompareOptions o;
    o.dir = dir;
    o.class_names = names;
    o.samples = f.compare_samples;
    o.seed = f.seed;
    results.push_back(vae::compare_models(m[0], m[1], data, *clf, o));
  }
  fmt::print(
      "\nshare of decodings the classifier calls clear (p >= 0.9), ± its standard error; entropy "
      "of the\n"
      "histogram of predicted classes (log2 10 = 3.32 bits when all ten are equally common)\n");
  fmt::print("{:>6}  {:<5}  {:<16}  {:>6}  {:>15}  {:>10}\n", "latent", "model", "sampler", "n",
             "clear", "entropy");
  for (const auto& r : results)
    for (const auto& row : r.rows)
      fmt::print("{:>6}  {:<5}  {:<16}  {:>6}  {:>7.1f}% ± {:4.1f}%  {:>5.2f} bits\n", r.latent,
                 row.model, row.sampler, row.score.n, 100 * row.score.confident,
                 100 * row.score.confident_se, row.score.entropy_bits);
  tg::write_file_atomic(path_in(root, "compare.json"), vae::compare_json(clf_report, results));
  fmt::print(
      "wrote {}/compare.json and, per latent size, latent<N>/compare-latent<N>.svg with its "
      "pictures "
      "(and ae/, vae/ run folders)\n",
      root);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The MNIST VAE example of tapegrad: train, evaluate, sample, interpolate, compare."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");

  TrainFlags train_flags, compare_flags;
  auto* train_cmd = app.add_subcommand(
      "train", "train a model; writes metrics, a checkpoint, pictures and index.html");
  add_train_flags(train_cmd, train_flags, true);
  add_run_flags(train_cmd, train_flags);
  ModelFlags model_flags;
  auto* eval_cmd = add_eval_command(app, model_flags);
  auto* sample_cmd = add_sample_command(app, model_flags);
  auto* interp_cmd = add_interpolate_command(app, model_flags);
  auto* manifold_cmd = add_manifold_command(app, model_flags);
  auto* compare_cmd = app.add_subcommand("compare",
                                         "train an AE and a VAE with the same budget at latent 2 "
                                         "and 20; figures and classifier scores");

  // encode / decode: their own flags (a codes file is not a picture, and --out is required).
  std::string checkpoint, data_dir, out;
  std::int64_t limit_test = 0;
  add_train_flags(compare_cmd, compare_flags, false);
  compare_cmd
      ->add_option(
          "--models", compare_flags.models,
          "instead of the AE-vs-VAE argument: these models side by side with the same budget, "
          "one figure (e.g. vae,conv-vae)")
      ->delimiter(',')
      ->check(kModels);

  std::string codes_path, labels_path, split_name = "test";
  auto* encode_cmd =
      app.add_subcommand("encode", "write the codes (the encoder's means) of a data set to .npy");
  encode_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors")->required();
  encode_cmd->add_option("--data", data_dir,
                         "data folder (default: the one the model was trained on)");
  encode_cmd->add_option("--split", split_name, "test | train")
      ->capture_default_str()
      ->check(CLI::IsMember({"test", "train"}));
  encode_cmd->add_option("--limit", limit_test, "encode only the first N images")
      ->check(int_range(0, kMaxCount));
  encode_cmd
      ->add_option("--out", out,
                   "the codes file, (n, latent) f32; the labels go beside it as "
                   "<name>.labels.npy")
      ->required();
  bool overwrite_codes = false;
  encode_cmd->add_flag("--overwrite", overwrite_codes, "replace an existing codes file");

  auto* decode_cmd =
      app.add_subcommand("decode", "decode a codes file (from `vae encode`) into a PNG grid");
  decode_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors of the same latent size")
      ->required();
  decode_cmd->add_option("--codes", codes_path, "an (n, latent) .npy file of codes")->required();
  decode_cmd->add_option("--labels", labels_path,
                         "cvae: the labels, (n,) (default: <codes>.labels.npy)");
  decode_cmd->add_option("--out", out, "PNG file, 10 decodings a row")->required();

  int dump_n = 16;
  auto* dump_cmd =
      app.add_subcommand("dump",
                         "a checkpoint's encoder means, log-variances and decoder logits on test "
                         "images, as safetensors (for checks against other frameworks)");
  dump_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors")->required();
  dump_cmd->add_option("--data", data_dir,
                       "data folder (default: the one the model was trained on)");
  dump_cmd->add_option("--n", dump_n, "how many test images (the first n)")
      ->capture_default_str()
      ->check(int_range(1, kMaxCount));
  dump_cmd->add_option("--out", out, "safetensors file to write")->required();

  // CLI11 says "A subcommand is required" for `vae trian`: name the unknown command instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* c : app.get_subcommands([](CLI::App*) { return true; }))
      names.push_back(c->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::cerr << fmt::format(
          "error: unknown command '{}'; the commands are {}\n(run `vae --help`)\n", argv[1],
          fmt::join(names, ", "));
      return 2;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "error: " << e.what() << "\n(run `vae --help`, or `vae <command> --help`)\n";
    return 2;
  }

  try {
    if (*train_cmd) return run_train(train_flags, *train_cmd);
    if (*eval_cmd) return run_eval(model_flags);
    if (*sample_cmd) return run_sample(model_flags);
    if (*interp_cmd) return run_interpolate(model_flags);
    if (*manifold_cmd) return run_manifold(model_flags);
    if (*compare_cmd) return run_compare(compare_flags);

    if (*dump_cmd) {
      Loaded l = load_model(checkpoint);
      const vae::Data data = vae::load_data(data_for(l, data_dir), vae::Binarize::none, 1);
      vae::write_dump(out, *l.model, data.test, dump_n);
      fmt::print("wrote {}\n", out);
      return 0;
    }

    if (*encode_cmd) {
      // Usage errors (exit 2): an existing file is never replaced unasked.
      if (fs::is_directory(out)) {
        std::cerr << fmt::format(
            "error: encode: --out {} is a folder; give a file name such as {}\n", out,
            (fs::path(out) / "codes.npy").string());
        return 2;
      }
      if (fs::exists(out) && !overwrite_codes) {
        std::cerr << fmt::format(
            "error: encode: {} exists; pass --overwrite to replace it, or choose another --out\n",
            out);
        return 2;
      }
      Loaded l = load_model(checkpoint);
      vae::Data data = vae::load_data(data_for(l, data_dir),
                                      vae::parse_binarize(meta_or(l.meta, "binarize", "none")),
                                      std::stoull(meta_or(l.meta, "seed", "1")));
      vae::Split& split = split_name == "train" ? data.train : data.test;
      vae::truncate(split, limit_test);
      vae::write_codes(out, *l.model, split);
      fmt::print("wrote {} ({} codes of {} numbers) and {}\n", out, split.size(),
                 l.model->config().latent, vae::labels_path_for(out));
      return 0;
    }

    if (*decode_cmd) {
      Loaded l = load_model(checkpoint);
      const vae::Config& c = l.model->config();
      const tg::Tensor codes = vae::read_codes(codes_path, c, checkpoint);
      tg::Tensor labels;
      if (c.conditional())
        labels =
            vae::read_labels(labels_path.empty() ? vae::labels_path_for(codes_path) : labels_path,
                             codes.size(0), c.classes);
      vae::write_decoded(out, *l.model, codes, labels);
      fmt::print("wrote {} ({} decodings)\n", out, codes.size(0));
      return 0;
    }
  } catch (const vae::UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
