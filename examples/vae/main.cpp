// `vae`: the MNIST VAE example program. `vae --help` lists the commands; docs/vae.md shows a run.
//   vae train        train a model, write metrics, a checkpoint and pictures
//   vae eval         the negative ELBO, the importance-weighted bound and active units of a checkpoint
//   vae sample       decode samples from the prior
//   vae interpolate  decode the line between two test images' codes
//   vae manifold     the decoded 2-D latent grid (latent 2 models)
//   vae compare      train an autoencoder and a VAE with the same budget and draw them side by side
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <vector>

#include "examples/vae/data.hpp"
#include "examples/vae/figures.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/train.hpp"
#include "nn/checkpoint.hpp"
#include "nn/safetensors.hpp"
#include "tensor/atomic_file.hpp"
#include "tensor/error.hpp"
#include "tensor/parallel.hpp"

namespace fs = std::filesystem;

namespace {

// The flags shared by `train` and `compare`.
struct TrainFlags {
  std::string data = vae::default_data_dir();
  std::string model = "vae", likelihood = "bernoulli", binarize = "none", out;
  int epochs = 10;
  std::int64_t batch = 128, hidden = 400, latent = 20, limit = 0, limit_test = 0;
  double lr = 1e-3, beta = 1.0, kl_warmup = 0, sparsity = 1e-3;
  std::uint64_t seed = 1;
  int threads = 0;
};

// CLI11's PositiveNumber and NonNegativeNumber report "Value 0 not in range 0.000000 to 17976...";
// these say what is wrong in words. A failed check is a usage error (exit 2).
CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& v) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(v, x)) return fmt::format("'{}' is not a number", v);
        if (x < 0 || (x == 0 && !allow_zero))
          return fmt::format("must be {}, got {}", allow_zero ? "zero or more" : "positive", v);
        return {};
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
const CLI::Validator kPositive = number_check(false);
const CLI::Validator kNonNegative = number_check(true);

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
          return what.substr(what.find(": ") + 2);  // drop the "--flag: " prefix; CLI11 names the flag
        }
      },
      "");
}
const CLI::Validator kModels = accepted_by(vae::parse_model);
const CLI::Validator kBinarize = accepted_by(vae::parse_binarize);
const CLI::Validator kLikelihoods = accepted_by(vae::parse_likelihood);

void add_train_flags(CLI::App* cmd, TrainFlags& f, bool with_model) {
  cmd->add_option("--data", f.data, "folder with the four MNIST IDX files (default: the embedded 10k digits)");
  if (with_model) {
    cmd->add_option("--model", f.model, "vae | ae | sparse-ae | cvae | conv-vae")->capture_default_str()->check(kModels);
    cmd->add_option("--sparsity", f.sparsity, "sparse-ae: weight of the L1 penalty on the code")->capture_default_str();
  }
  cmd->add_option("--epochs", f.epochs, "training epochs")->capture_default_str()->check(kPositive);
  cmd->add_option("--batch", f.batch, "mini-batch size")->capture_default_str()->check(kPositive);
  cmd->add_option("--lr", f.lr, "Adam's learning rate")->capture_default_str()->check(kPositive);
  cmd->add_option("--seed", f.seed, "seed for initialisation, shuffling and sampling")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--threads", f.threads, "worker threads (default: TG_NUM_THREADS or all cores)")->check(kNonNegative);
  cmd->add_option("--out", f.out, with_model ? "output folder (default: runs/<model>-<date-time>)"
                                              : "output folder (default: runs/compare-<date-time>)");
  cmd->add_option("--binarize", f.binarize, "none | dynamic | static")->capture_default_str()->check(kBinarize);
  cmd->add_option("--likelihood", f.likelihood, "bernoulli | continuous-bernoulli")->capture_default_str()->check(kLikelihoods);
  cmd->add_option("--hidden", f.hidden, "hidden units")->capture_default_str()->check(kPositive);
  cmd->add_option("--latent", f.latent, "latent dimensions")->capture_default_str()->check(kPositive);
  cmd->add_option("--beta", f.beta, "weight of the KL term")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--kl-warmup", f.kl_warmup, "epochs over which the KL weight rises from 0 to --beta")
      ->capture_default_str()->check(kNonNegative);
  cmd->add_option("--limit", f.limit, "use only the first N training images (quick runs)")->check(kNonNegative);
  cmd->add_option("--limit-test", f.limit_test, "use only the first N test images")->check(kNonNegative);
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&now));
  return buf;
}

// Creates the folder and proves it is writable before any work is done.
void prepare_out_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw tg::Error(fmt::format("cannot create the output folder {}: {}", dir, ec.message()));
  const std::string probe = (fs::path(dir) / ".write-test").string();
  tg::write_file_atomic(probe, "ok");
  fs::remove(probe, ec);
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
  o.binarize = vae::parse_binarize(f.binarize);
  o.epochs = f.epochs;
  o.batch = f.batch;
  o.lr = f.lr;
  o.beta = f.beta;
  o.kl_warmup = f.kl_warmup;
  o.seed = f.seed;
  return o;
}

void print_epoch(const vae::EpochMetrics& m, int epochs) {
  fmt::print("epoch {:>3}/{}  train {:8.3f}  test {:8.3f} (recon {:8.3f} + kl {:7.3f})  {:6.2f} s\n", m.epoch,
             epochs, m.train_loss, m.test_loss, m.test_recon, m.test_kl, m.seconds);
  std::fflush(stdout);
}

std::string path_in(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

// Trains one model into `out` and writes its pictures; returns the trained model and history.
std::pair<std::unique_ptr<vae::Model>, std::vector<vae::EpochMetrics>> train_one(
    vae::TrainOptions o, const vae::Data& data, const std::string& out) {
  o.out_dir = out;
  tg::Generator init(o.seed);
  auto model = std::make_unique<vae::Model>(o.config, &init);
  const auto history = vae::train(*model, data, o, [&](const vae::EpochMetrics& m) { print_epoch(m, o.epochs); });
  vae::write_reconstructions(path_in(out, "reconstructions.png"), *model, data.test);
  vae::write_samples(path_in(out, "samples.png"), *model, 64, -1, o.seed + 7);
  vae::write_interpolation(path_in(out, "interpolation.png"), *model, data.test, vae::default_pairs(data.test), 10);
  vae::write_latent(path_in(out, "latent.svg"), *model, data.test,
                    fmt::format("{}: test codes by label", vae::model_name(o.config.kind)));
  vae::write_loss(path_in(out, "loss.svg"), history);
  return {std::move(model), history};
}

int run_train(const TrainFlags& f) {
  if (f.threads > 0) tg::set_num_threads(f.threads);
  const vae::ModelKind kind = vae::parse_model(f.model);
  const vae::Binarize binarize = vae::parse_binarize(f.binarize);
  const std::string out = f.out.empty() ? fmt::format("runs/{}-{}", f.model, timestamp()) : f.out;
  // The data first: a bad --data must not leave an empty output folder behind.
  const vae::Data data = load(f, binarize);
  prepare_out_dir(out);
  fmt::print("training {} on {} ({} train / {} test images, {}x{}), {} threads\n", f.model, data.dir,
             data.train.size(), data.test.size(), data.train.rows, data.train.cols, tg::num_threads());
  std::fflush(stdout);
  train_one(options_from(f, data, kind), data, out);
  fmt::print("wrote {}/: metrics.jsonl model.safetensors reconstructions.png samples.png interpolation.png "
             "latent.svg loss.svg\n",
             out);
  return 0;
}

// A model rebuilt from a checkpoint's metadata, with its weights.
struct Loaded {
  std::unique_ptr<vae::Model> model;
  std::map<std::string, std::string> meta;
};

Loaded load_model(const std::string& checkpoint) {
  if (!fs::exists(checkpoint))
    throw tg::Error(fmt::format("cannot open {}: no such file (train one with `vae train`; it writes "
                                "runs/<model>-<date>/model.safetensors)",
                                checkpoint));
  if (fs::is_directory(checkpoint))
    throw tg::Error(fmt::format("{} is a folder; --checkpoint wants a file, e.g. {}", checkpoint,
                                (fs::path(checkpoint) / "model.safetensors").string()));
  auto file = tg::nn::load_safetensors(checkpoint);  // read once: the metadata says what to build
  Loaded l;
  l.meta = file.metadata;
  l.model = std::make_unique<vae::Model>(vae::Config::from_metadata(file.metadata, checkpoint), nullptr);
  tg::nn::load_checkpoint(std::move(file), checkpoint, *l.model);
  l.model->eval();
  return l;
}

std::string meta_or(const std::map<std::string, std::string>& m, const std::string& key, const std::string& fallback) {
  auto it = m.find(key);
  return it == m.end() ? fallback : it->second;
}

// The data folder for a checkpoint: --data when given, else the one it was trained on (never silently
// another data set: a Fashion-MNIST model evaluated on digits gives plausible but meaningless numbers).
std::string data_for(const Loaded& l, const std::string& flag) {
  if (!flag.empty()) return flag;
  const std::string dir = meta_or(l.meta, "data", vae::default_data_dir());
  if (!fs::exists(dir))
    throw tg::Error(fmt::format("the checkpoint was trained on the data in {}, which does not exist here; "
                                "pass --data DIR",
                                dir));
  return dir;
}

std::string default_output(const std::string& checkpoint, const std::string& file) {
  return (fs::path(checkpoint).parent_path() / file).string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The MNIST VAE example of tapegrad: train, evaluate, sample, interpolate, compare."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");

  TrainFlags train_flags;
  auto* train_cmd = app.add_subcommand("train", "train a model; writes metrics, a checkpoint and pictures");
  add_train_flags(train_cmd, train_flags, true);

  std::string checkpoint, data_dir, binarize, out;
  int iw_samples = 1000, n = 64, digit = -1, steps = 10, threads = 0;
  std::int64_t from = 0, to = 1, limit_test = 0;
  std::uint64_t seed = 1;
  bool json = false;

  auto* eval_cmd = app.add_subcommand("eval", "negative ELBO, importance-weighted bound and active units");
  eval_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors written by `vae train`")->required();
  eval_cmd->add_option("--data", data_dir, "data folder (default: the one the model was trained on)");
  eval_cmd->add_option("--iw-samples", iw_samples, "samples K of the importance-weighted bound (0: skip it)")
      ->capture_default_str()->check(kNonNegative);
  eval_cmd->add_option("--binarize", binarize, "none | dynamic | static (default: as trained)")->check(kBinarize);
  eval_cmd->add_option("--limit-test", limit_test, "use only the first N test images")->check(kNonNegative);
  eval_cmd->add_option("--seed", seed, "seed for the z samples")->capture_default_str()->check(kNonNegative);
  eval_cmd->add_option("--threads", threads, "worker threads")->check(kNonNegative);
  eval_cmd->add_flag("--json", json, "print one line of JSON");

  auto* sample_cmd = app.add_subcommand("sample", "decode samples z ~ N(0, I) into a PNG grid");
  sample_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors")->required();
  sample_cmd->add_option("--n", n, "how many samples")->capture_default_str()->check(CLI::Range(1, 4096));
  sample_cmd->add_option("--digit", digit, "cvae: the digit to draw")->check(CLI::Range(0, 9));
  sample_cmd->add_option("--seed", seed, "seed")->capture_default_str()->check(kNonNegative);
  sample_cmd->add_option("--out", out, "PNG file (default: samples.png beside the checkpoint)");

  auto* interp_cmd = app.add_subcommand("interpolate", "decode the line between two test images' codes");
  interp_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors")->required();
  interp_cmd->add_option("--from", from, "index of the first test image")->required()->check(kNonNegative);
  interp_cmd->add_option("--to", to, "index of the second test image")->required()->check(kNonNegative);
  interp_cmd->add_option("--steps", steps, "points along the line")->capture_default_str()->check(CLI::Range(2, 100));
  interp_cmd->add_option("--data", data_dir, "data folder (default: the one the model was trained on)");
  interp_cmd->add_option("--out", out, "PNG file (default: interpolation-<from>-<to>.png beside the checkpoint)");

  int grid = 20;
  auto* manifold_cmd = app.add_subcommand("manifold", "latent-2 models: decodings over a quantile grid");
  manifold_cmd->add_option("--checkpoint", checkpoint, "a model.safetensors trained with --latent 2")->required();
  manifold_cmd->add_option("--n", grid, "grid size")->capture_default_str()->check(CLI::Range(2, 100));
  manifold_cmd->add_option("--out", out, "PNG file (default: manifold.png beside the checkpoint)");

  TrainFlags compare_flags;
  auto* compare_cmd = app.add_subcommand("compare", "train an AE and a VAE (or --models) with the same budget; one figure");
  add_train_flags(compare_cmd, compare_flags, false);
  std::vector<std::string> compare_models{"ae", "vae"};
  compare_cmd->add_option("--models", compare_models, "the models side by side, e.g. vae,conv-vae")
      ->delimiter(',')->capture_default_str()->check(kModels);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "error: " << e.what() << "\n(run `vae --help`, or `vae <command> --help`)\n";
    return 2;
  }

  try {
    if (*train_cmd) return run_train(train_flags);

    if (*eval_cmd) {
      if (threads > 0) tg::set_num_threads(threads);
      Loaded l = load_model(checkpoint);
      const vae::Binarize b = vae::parse_binarize(binarize.empty() ? meta_or(l.meta, "binarize", "none") : binarize);
      // A static binarization is the training run's draw: the same seed gives the same bits.
      const std::uint64_t data_seed = std::stoull(meta_or(l.meta, "seed", "1"));
      vae::Data data = vae::load_data(data_for(l, data_dir), b, data_seed);
      vae::truncate(data.test, limit_test);
      const vae::EvalResult r = vae::evaluate(*l.model, data.test, b, iw_samples, seed, !json);
      if (json) {
        fmt::print("{}\n", r.json());
      } else {
        fmt::print("{} test images ({})\n", r.images, data.dir);
        if (l.model->config().variational())
          fmt::print("negative ELBO      {:9.3f} nats  (recon {:.3f} + kl {:.3f})\n", r.loss, r.recon, r.kl);
        else  // no prior, no KL: its loss is a reconstruction, not a bound on -log p(x)
          fmt::print("reconstruction     {:9.3f} nats  (an autoencoder has no ELBO)\n", r.recon);
        if (r.iw_samples > 0)
          fmt::print("-log p(x), IWAE    {:9.3f} nats  (K = {} importance samples)\n", r.iwae, r.iw_samples);
        else if (iw_samples > 0)
          fmt::print("-log p(x), IWAE    not defined for a deterministic autoencoder\n");
        fmt::print("active units       {:5} of {}\n", r.active_units, r.latent);
      }
      return 0;
    }

    if (*sample_cmd) {
      Loaded l = load_model(checkpoint);
      if (digit >= 0 && !l.model->config().conditional())
        throw tg::ValueError("sample: --digit needs a cvae checkpoint (train one with --model cvae)");
      const std::string path = out.empty() ? default_output(checkpoint, "samples.png") : out;
      vae::write_samples(path, *l.model, n, digit, seed);
      fmt::print("wrote {}\n", path);
      return 0;
    }

    if (*interp_cmd) {
      Loaded l = load_model(checkpoint);
      const vae::Data data = vae::load_data(data_for(l, data_dir),
                                            vae::parse_binarize(meta_or(l.meta, "binarize", "none")),
                                            std::stoull(meta_or(l.meta, "seed", "1")));
      const std::string path =
          out.empty() ? default_output(checkpoint, fmt::format("interpolation-{}-{}.png", from, to)) : out;
      vae::write_interpolation(path, *l.model, data.test, {{from, to}}, steps);
      fmt::print("wrote {}\n", path);
      return 0;
    }

    if (*manifold_cmd) {
      Loaded l = load_model(checkpoint);
      const std::string path = out.empty() ? default_output(checkpoint, "manifold.png") : out;
      vae::write_manifold(path, *l.model, grid);
      fmt::print("wrote {}\n", path);
      return 0;
    }

    if (*compare_cmd) {
      TrainFlags& f = compare_flags;
      if (f.threads > 0) tg::set_num_threads(f.threads);
      const vae::Binarize b = vae::parse_binarize(f.binarize);
      const std::string root = f.out.empty() ? fmt::format("runs/compare-{}", timestamp()) : f.out;
      const vae::Data data = load(f, b);
      std::vector<vae::ModelKind> kinds;
      for (const auto& m : compare_models) {
        if (std::count(compare_models.begin(), compare_models.end(), m) > 1)
          throw tg::ValueError(fmt::format("compare: --models names {} twice", m));
        kinds.push_back(vae::parse_model(m));
      }
      for (auto kind : kinds) prepare_out_dir(path_in(root, vae::model_name(kind)));
      std::vector<vae::ComparePanel> panels;
      for (auto kind : kinds) {
        const std::string name = vae::model_name(kind), dir = path_in(root, name);
        fmt::print("--- {} ---\n", name);
        const auto [model, history] = train_one(options_from(f, data, kind), data, dir);
        panels.push_back({vae::display_name(kind), path_in(dir, "interpolation.png"), path_in(dir, "samples.png"),
                          path_in(dir, "latent.svg"), history.back().test_recon, history.back().test_kl});
      }
      vae::write_compare_figure(path_in(root, "compare.svg"), panels);
      fmt::print("wrote {}/compare.svg (and {}/ with each model's files)\n", root, fmt::join(compare_models, "/, "));
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
