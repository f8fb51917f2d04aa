// `vae`: the MNIST VAE example program. `vae --help` lists the commands; docs/vae.md shows a run.
//   vae train        train a model, write metrics, a checkpoint and pictures
//   vae eval         the negative ELBO, the importance-weighted bound and active units of a checkpoint
//   vae sample       decode samples from the prior
//   vae interpolate  decode the line between two test images' codes
//   vae manifold     the decoded 2-D latent grid (latent 2 models)
//   vae compare      train an autoencoder and a VAE with the same budget and draw them side by side
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <vector>

#include "autograd/profile.hpp"
#include "examples/vae/data.hpp"
#include "examples/vae/figures.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/progress.hpp"
#include "examples/vae/run.hpp"
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
  bool profile = false;
  // train only: the run itself
  std::string resume;
  bool overwrite = false;
  int patience = 0, snapshot_every = 0;
  std::int64_t test_signal_at_step = 0;
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
    cmd->add_option("--model", f.model, "vae | ae | sparse-ae | cvae")->capture_default_str()->check(kModels);
    cmd->add_option("--sparsity", f.sparsity, "sparse-ae: weight of the L1 penalty on the code")->capture_default_str();
  }
  cmd->add_option("--epochs", f.epochs, "training epochs (with --resume: the total to reach)")->capture_default_str()->check(kPositive);
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
  cmd->add_flag("--profile", f.profile,
                "print a table of time per op (forward, backward), optimizer step, data and evaluation at "
                "the end (as TG_PROFILE=1)");
  cmd->add_flag("--overwrite", f.overwrite, "replace the run in --out if there is one");
}

// `train`'s flags about the run rather than the model.
void add_run_flags(CLI::App* cmd, TrainFlags& f) {
  cmd->add_option("--resume", f.resume, "continue the run in this folder where it stopped (with --epochs N: "
                                        "until epoch N in total)");
  cmd->add_option("--patience", f.patience, "stop when the test loss has not improved for N epochs (0: never)")
      ->capture_default_str()->check(kNonNegative);
  cmd->add_option("--snapshot-every", f.snapshot_every, "write snapshots/samples-epoch-E.png every N epochs (0: never)")
      ->capture_default_str()->check(kNonNegative);
  cmd->add_option("--test-signal-at-step", f.test_signal_at_step, "tests only: raise SIGINT after N steps")
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
  return o;
}

void print_epoch(const vae::EpochMetrics& m, int epochs) {
  vae::print_line(fmt::format("epoch {:>3}/{}  train {:8.3f}  test {:8.3f} (recon {:8.3f} + kl {:7.3f})  {:6.2f} s",
                              m.epoch, epochs, m.train_loss, m.test_loss, m.test_recon, m.test_kl, m.seconds));
}

std::string path_in(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

// Trains one model into `out` and writes its pictures; returns the trained model and history.
std::pair<std::unique_ptr<vae::Model>, std::vector<vae::EpochMetrics>> train_one(
    vae::TrainOptions o, const vae::Data& data, const std::string& out) {
  o.out_dir = out;
  tg::Generator init(o.seed);
  auto model = std::make_unique<vae::Model>(o.config, &init);
  const vae::TrainResult r = vae::train_run(*model, data, o, [&](const vae::EpochMetrics& m) { print_epoch(m, o.epochs); });
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
  c.on_epoch = [](const vae::EpochMetrics& m, int epochs, const vae::Config&) { print_epoch(m, epochs); };
  if (!f.resume.empty()) {
    c.options = options_from(f, vae::Data{}, kind);
    return vae::run_training(c, nullptr);
  }
  const std::string out = f.out.empty() ? vae::default_run_dir(f.model) : f.out;
  vae::check_out_dir(out, f.overwrite);
  // The data first: a bad --data must not leave an empty output folder behind.
  const vae::Data data = load(f, vae::parse_binarize(f.binarize));
  vae::prepare_out_dir(out, f.overwrite);
  vae::print_line(fmt::format("training {} on {} ({} train / {} test images, {}x{}), {} threads", f.model, data.dir,
                              data.train.size(), data.test.size(), data.train.rows, data.train.cols,
                              tg::num_threads()));
  c.options = options_from(f, data, kind);
  c.options.out_dir = out;
  return vae::run_training(c, &data);
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

// The flags of the commands that read a checkpoint (eval, sample, interpolate, manifold).
struct ModelFlags {
  std::string checkpoint, data_dir, binarize, out;
  int iw_samples = 1000, n = 64, digit = -1, steps = 10, threads = 0, grid = 20;
  std::int64_t from = 0, to = 1, limit_test = 0;
  std::uint64_t seed = 1;
  bool json = false, overwrite = false;
};

// A generated picture's file: --out when given (an existing file only with --overwrite), else a
// name beside the checkpoint that is not taken, so no training output or earlier picture is replaced.
std::string picture_path(const ModelFlags& f, const std::string& stem) {
  if (f.out.empty()) return vae::fresh_path(fs::path(f.checkpoint).parent_path().string(), stem, ".png");
  if (fs::exists(f.out) && !f.overwrite)
    throw vae::UsageError(fmt::format("--out {} exists; pass --overwrite to replace it, or leave out --out for a "
                                      "fresh name beside the checkpoint",
                                      f.out));
  return f.out;
}

void add_picture_out(CLI::App* cmd, ModelFlags& f, const std::string& default_name) {
  cmd->add_option("--out", f.out, fmt::format("PNG file (default: {} beside the checkpoint, or {}-2.png, ... if "
                                              "taken)",
                                              default_name + ".png", default_name));
  cmd->add_flag("--overwrite", f.overwrite, "replace --out if it exists");
}

CLI::App* add_eval_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("eval", "negative ELBO, importance-weighted bound and active units");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors written by `vae train`")->required();
  cmd->add_option("--data", f.data_dir, "data folder (default: the one the model was trained on)");
  cmd->add_option("--iw-samples", f.iw_samples, "samples K of the importance-weighted bound (0: skip it)")
      ->capture_default_str()->check(kNonNegative);
  cmd->add_option("--binarize", f.binarize, "none | dynamic | static (default: as trained)")->check(kBinarize);
  cmd->add_option("--limit-test", f.limit_test, "use only the first N test images")->check(kNonNegative);
  cmd->add_option("--seed", f.seed, "seed for the z samples")->capture_default_str()->check(kNonNegative);
  cmd->add_option("--threads", f.threads, "worker threads")->check(kNonNegative);
  cmd->add_flag("--json", f.json, "print one line of JSON");
  return cmd;
}

CLI::App* add_sample_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("sample", "decode samples z ~ N(0, I) into a PNG grid");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors")->required();
  cmd->add_option("--n", f.n, "how many samples")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--digit", f.digit, "cvae: the digit to draw")->check(CLI::Range(0, 9));
  cmd->add_option("--seed", f.seed, "seed")->capture_default_str()->check(kNonNegative);
  add_picture_out(cmd, f, "samples-seed<seed>");
  return cmd;
}

CLI::App* add_interpolate_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("interpolate", "decode the line between two test images' codes");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors")->required();
  cmd->add_option("--from", f.from, "index of the first test image")->required()->check(kNonNegative);
  cmd->add_option("--to", f.to, "index of the second test image")->required()->check(kNonNegative);
  cmd->add_option("--steps", f.steps, "points along the line")->capture_default_str()->check(CLI::Range(2, 100));
  cmd->add_option("--data", f.data_dir, "data folder (default: the one the model was trained on)");
  add_picture_out(cmd, f, "interpolation-<from>-<to>");
  return cmd;
}

CLI::App* add_manifold_command(CLI::App& app, ModelFlags& f) {
  auto* cmd = app.add_subcommand("manifold", "latent-2 models: decodings over a quantile grid");
  cmd->add_option("--checkpoint", f.checkpoint, "a model.safetensors trained with --latent 2")->required();
  cmd->add_option("--n", f.grid, "grid size")->capture_default_str()->check(CLI::Range(2, 100));
  add_picture_out(cmd, f, "manifold");
  return cmd;
}

int run_eval(const ModelFlags& f) {
  if (f.threads > 0) tg::set_num_threads(f.threads);
  Loaded l = load_model(f.checkpoint);
  const vae::Binarize b = vae::parse_binarize(f.binarize.empty() ? meta_or(l.meta, "binarize", "none") : f.binarize);
  // A static binarization is the training run's draw: the same seed gives the same bits.
  const std::uint64_t data_seed = std::stoull(meta_or(l.meta, "seed", "1"));
  vae::Data data = vae::load_data(data_for(l, f.data_dir), b, data_seed);
  vae::truncate(data.test, f.limit_test);
  const vae::EvalResult r = vae::evaluate(*l.model, data.test, b, f.iw_samples, f.seed, !f.json);
  if (f.json) {
    fmt::print("{}\n", r.json());
  } else {
    fmt::print("{} test images ({})\n", r.images, data.dir);
    if (l.model->config().variational())
      fmt::print("negative ELBO      {:9.3f} nats  (recon {:.3f} + kl {:.3f})\n", r.loss, r.recon, r.kl);
    else  // no prior, no KL: its loss is a reconstruction, not a bound on -log p(x)
      fmt::print("reconstruction     {:9.3f} nats  (an autoencoder has no ELBO)\n", r.recon);
    if (r.iw_samples > 0)
      fmt::print("-log p(x), IWAE    {:9.3f} nats  (K = {} importance samples)\n", r.iwae, r.iw_samples);
    else if (f.iw_samples > 0)
      fmt::print("-log p(x), IWAE    not defined for a deterministic autoencoder\n");
    fmt::print("active units       {:5} of {}\n", r.active_units, r.latent);
  }
  return 0;
}

int run_sample(const ModelFlags& f) {
  Loaded l = load_model(f.checkpoint);
  if (f.digit >= 0 && !l.model->config().conditional())
    throw tg::ValueError("sample: --digit needs a cvae checkpoint (train one with --model cvae)");
  const std::string path = picture_path(
      f, f.digit >= 0 ? fmt::format("samples-digit{}-seed{}", f.digit, f.seed) : fmt::format("samples-seed{}", f.seed));
  vae::write_samples(path, *l.model, f.n, f.digit, f.seed);
  fmt::print("wrote {}\n", path);
  return 0;
}

int run_interpolate(const ModelFlags& f) {
  Loaded l = load_model(f.checkpoint);
  const vae::Data data = vae::load_data(data_for(l, f.data_dir),
                                        vae::parse_binarize(meta_or(l.meta, "binarize", "none")),
                                        std::stoull(meta_or(l.meta, "seed", "1")));
  const std::string path = picture_path(f, fmt::format("interpolation-{}-{}", f.from, f.to));
  vae::write_interpolation(path, *l.model, data.test, {{f.from, f.to}}, f.steps);
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

int run_compare(const TrainFlags& f) {
  if (f.threads > 0) tg::set_num_threads(f.threads);
  if (f.profile) tg::profile::enable();
  const vae::Binarize b = vae::parse_binarize(f.binarize);
  const std::string root = f.out.empty() ? vae::default_run_dir("compare") : f.out;
  vae::check_out_dir(root, f.overwrite);
  const vae::Data data = load(f, b);
  vae::prepare_out_dir(root, f.overwrite);
  vae::prepare_out_dir(path_in(root, "ae"));
  vae::prepare_out_dir(path_in(root, "vae"));
  std::vector<vae::ComparePanel> panels;
  for (auto kind : {vae::ModelKind::ae, vae::ModelKind::vae}) {
    const std::string name = vae::model_name(kind), dir = path_in(root, name);
    vae::print_line(fmt::format("--- {} ---", name));
    const auto [model, history] = train_one(options_from(f, data, kind), data, dir);
    panels.push_back({kind == vae::ModelKind::ae ? "autoencoder" : "VAE", path_in(dir, "interpolation.png"),
                      path_in(dir, "samples.png"), path_in(dir, "latent.svg"), history.back().test_recon,
                      history.back().test_kl});
  }
  vae::write_compare_figure(path_in(root, "compare.svg"), panels);
  fmt::print("wrote {}/compare.svg (and ae/, vae/ with each model's files)\n", root);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The MNIST VAE example of tapegrad: train, evaluate, sample, interpolate, compare."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");

  TrainFlags train_flags, compare_flags;
  auto* train_cmd = app.add_subcommand("train", "train a model; writes metrics, a checkpoint, pictures and index.html");
  add_train_flags(train_cmd, train_flags, true);
  add_run_flags(train_cmd, train_flags);
  ModelFlags model_flags;
  auto* eval_cmd = add_eval_command(app, model_flags);
  auto* sample_cmd = add_sample_command(app, model_flags);
  auto* interp_cmd = add_interpolate_command(app, model_flags);
  auto* manifold_cmd = add_manifold_command(app, model_flags);
  auto* compare_cmd = app.add_subcommand("compare", "train an AE and a VAE with the same budget; one figure");
  add_train_flags(compare_cmd, compare_flags, false);

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
  } catch (const vae::UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

