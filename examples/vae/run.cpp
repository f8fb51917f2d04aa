// The training run of the `vae` program: output folders, resume, signals, and the files a run
// writes.
#include "examples/vae/run.hpp"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <memory>

#include "examples/vae/figures.hpp"
#include "examples/vae/progress.hpp"
#include "examples/vae/report_html.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace vae {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

// SIGINT and SIGTERM set the flag the training loop polls after every step. SA_RESETHAND: a second
// Ctrl-C kills at once (every file is written atomically, so even that loses nothing but the step).
void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags =
      SA_RESETHAND | SA_RESTART;  // the loop polls the flag: no system call needs interrupting
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string signal_name(int sig) {
  return sig == SIGINT    ? "SIGINT (Ctrl-C)"
         : sig == SIGTERM ? "SIGTERM"
                          : fmt::format("signal {}", sig);
}

bool looks_like_run(const fs::path& dir) {
  return fs::exists(dir / "metrics.jsonl") || fs::exists(dir / "model.safetensors");
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&now));
  return buf;
}

// The flag a metadata key comes from: "kl_warmup" <- "--kl-warmup".
std::string flag_of(const std::string& key) {
  std::string f = "--" + key;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

std::map<std::string, std::string> settings(const TrainOptions& o) {
  auto m = o.config.to_metadata();
  for (const auto& [k, v] : train_metadata(o)) m[k] = v;
  return m;
}

// A resumed run keeps its model and training flags; only these may be given again with new values
// (a new --lr applies from the next step: Adam's moments are kept, like PyTorch's
// param_group["lr"]).
bool may_change_on_resume(const std::string& flag) {
  return flag == "--epochs" || flag == "--lr" || flag == "--patience" ||
         flag == "--snapshot-every" || flag == "--threads" || flag == "--resume";
}

}  // namespace

std::string default_run_dir(const std::string& model) {
  const std::string base = fmt::format("runs/{}-{}", model, timestamp());
  std::string dir = base;
  for (int i = 2; fs::exists(dir); ++i) dir = fmt::format("{}-{}", base, i);
  return dir;
}

void check_out_dir(const std::string& dir, bool overwrite) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec))
    throw UsageError(fmt::format("--out {} is a file, not a folder; pick another --out", dir));
  if (fs::is_empty(dir, ec)) return;
  if (!overwrite)
    throw UsageError(
        fmt::format("--out {} exists and is not empty; pass --overwrite to replace the run in it, "
                    "--resume {} to continue it, or another --out",
                    dir, dir));
  if (!looks_like_run(dir))
    throw UsageError(fmt::format(
        "--out {} is not empty and holds no vae run (no metrics.jsonl or "
        "model.safetensors), so --overwrite will not delete its files; pick another --out",
        dir));
}

void prepare_out_dir(const std::string& dir, bool empty_first) {
  std::error_code ec;
  if (empty_first && fs::is_directory(dir, ec))
    for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
  fs::create_directories(dir, ec);
  if (ec) throw tg::Error(fmt::format("cannot create the output folder {}: {}", dir, ec.message()));
  const std::string probe = (fs::path(dir) / ".write-test").string();
  tg::write_file_atomic(probe, "ok");
  fs::remove(probe, ec);
}

std::string fresh_path(const std::string& dir, const std::string& stem, const std::string& ext) {
  const fs::path d(dir);
  fs::path p = d / (stem + ext);
  for (int i = 2; fs::exists(p); ++i) p = d / fmt::format("{}-{}{}", stem, i, ext);
  return p.string();
}

void write_run_outputs(const std::string& dir, Model& model, const Data& data,
                       const TrainOptions& o, const TrainResult& result,
                       const std::string& status) {
  const fs::path d(dir);
  auto at = [&](const char* f) { return (d / f).string(); };
  write_reconstructions(at("reconstructions.png"), model, data.test);
  const auto& names = o.class_names;
  write_samples(at("samples.png"), model, o.config.conditional() ? 100 : 64, -1, o.seed + 7, names);
  write_interpolation(at("interpolation.png"), model, data.test, default_pairs(data.test), 10,
                      names);
  write_latent(at("latent.svg"), model, data.test,
               fmt::format("{}: test codes by label", model_name(o.config.kind)), names);
  if (!result.history.empty()) write_loss(at("loss.svg"), result.history, o.config.variational());
  if (o.config.kind == ModelKind::sparse_ae) write_code_map(at("code.png"), model, data.test);
  RunPage page;
  page.title = fmt::format("{} run: {}", model_name(o.config.kind), dir);
  page.status = status;
  page.config = settings(o);
  page.config["data"] = fs::absolute(data.dir).lexically_normal().string();
  page.history = result.history;
  page.best_epoch = result.best_epoch;
  write_run_page(dir, page);
}

int run_training(TrainCommand cmd, const Data* fresh_data) {
  TrainOptions o = cmd.options;
  const bool resumed = !cmd.resume.empty();
  Data resumed_data;
  const Data* data = fresh_data;
  if (resumed) {
    const fs::path dir(cmd.resume);
    if (cmd.given.count("--out"))
      throw UsageError("--out and --resume: a resumed run continues in its own folder; drop --out");
    if (cmd.given.count("--overwrite"))
      throw UsageError("--overwrite and --resume contradict each other; pick one");
    if (!fs::is_directory(dir))
      throw UsageError(
          fmt::format("--resume {}: no such folder (--resume takes the folder a `vae train --out` "
                      "run wrote)",
                      cmd.resume));
    const std::string ckpt = (dir / "model.safetensors").string();
    if (!fs::exists(ckpt))
      throw tg::Error(
          fmt::format("--resume {}: {} is missing, so there is nothing to resume (a run writes it "
                      "after each epoch and when interrupted)",
                      cmd.resume, ckpt));
    const auto meta = tg::nn::load_safetensors(ckpt).metadata;
    TrainOptions stored = options_from_metadata(meta, ckpt);
    // Every model or training flag given again must say what the run says.
    const auto mine = settings(o), theirs = settings(stored);
    std::string diffs;
    for (const auto& [key, value] : theirs) {
      const std::string flag = flag_of(key);
      if (!cmd.given.count(flag) || may_change_on_resume(flag)) continue;
      auto it = mine.find(key);
      if (it != mine.end() && it->second != value)
        diffs +=
            fmt::format("\n  {}: the run has {}, this command says {}", flag, value, it->second);
    }
    auto data_it = meta.find("data");
    if (data_it == meta.end())
      throw tg::Error(fmt::format("{}: the checkpoint does not say its data folder", ckpt));
    if (cmd.given.count("--data") &&
        fs::absolute(cmd.data_dir).lexically_normal().string() != data_it->second)
      diffs += fmt::format("\n  --data: the run has {}, this command says {}", data_it->second,
                           cmd.data_dir);
    if (!diffs.empty())
      throw UsageError(
          fmt::format("--resume {}: a resumed run keeps its settings, and these differ:{}\n"
                      "(drop these flags to continue the run, or start a new run with --out)",
                      cmd.resume, diffs));
    const std::string done_text = meta.count("epoch") ? meta.at("epoch") : "?";
    if (cmd.given.count("--epochs")) stored.epochs = o.epochs;
    if (cmd.given.count("--patience")) stored.patience = o.patience;
    if (cmd.given.count("--lr")) stored.lr = o.lr;
    if (cmd.given.count("--snapshot-every")) stored.snapshot_every = o.snapshot_every;
    const int done = std::atoi(done_text.c_str());
    const bool mid_epoch = meta.count("epoch_step") && meta.at("epoch_step") != "0";
    if (done >= stored.epochs && !mid_epoch)
      throw UsageError(fmt::format(
          "--resume {}: the run has completed its {} epochs; pass --epochs N with N > {} "
          "to train it further",
          cmd.resume, done, done));
    if (done >= stored.epochs)
      throw UsageError(
          fmt::format("--resume {}: --epochs {} would end before epoch {}, where the run stopped",
                      cmd.resume, stored.epochs, done + 1));
    if (!fs::exists(data_it->second))
      throw tg::Error(fmt::format(
          "--resume {}: the run was trained on the data in {}, which does not exist here",
          cmd.resume, data_it->second));
    resumed_data = load_data(data_it->second, stored.binarize, stored.seed);
    truncate(resumed_data.train, stored.limit);
    truncate(resumed_data.test, stored.limit_test);
    if (resumed_data.train.rows != stored.config.rows ||
        resumed_data.train.cols != stored.config.cols)
      throw tg::Error(
          fmt::format("--resume {}: the run's images were {}x{}; {} now holds {}x{} images",
                      cmd.resume, stored.config.rows, stored.config.cols, data_it->second,
                      resumed_data.train.rows, resumed_data.train.cols));
    const fs::path metrics = dir / "metrics.jsonl";
    if (done > 0 || fs::exists(metrics)) stored.resume_history = read_metrics(metrics.string());
    stored.resume_checkpoint = ckpt;
    stored.progress = o.progress;
    stored.test_signal_at_step = o.test_signal_at_step;
    o = stored;
    o.out_dir = cmd.resume;
    data = &resumed_data;
    const std::int64_t steps = (resumed_data.train.size() + o.batch - 1) / o.batch;
    print_line(fmt::format(
        "resuming {} at epoch {}{}, until epoch {}", cmd.resume, done + 1,
        mid_epoch ? fmt::format(" step {} of {}", std::stoll(meta.at("epoch_step")) + 1, steps)
                  : std::string(),
        o.epochs));
  }

  tg::Generator init(o.seed);
  Model model(o.config, resumed ? nullptr : &init);
  g_stop_signal.store(0);
  o.stop = &g_stop_signal;
  install_stop_signals();
  TrainResult result;
  try {
    result = train_run(model, *data, o, [&](const EpochMetrics& m) {
      if (cmd.on_epoch) cmd.on_epoch(m, o.epochs, o.config);
    });
  } catch (...) {
    // A fresh run that stopped before writing anything leaves no empty folder behind.
    std::error_code ec;
    if (!resumed && fs::is_directory(o.out_dir, ec) && fs::is_empty(o.out_dir, ec))
      fs::remove(o.out_dir, ec);
    throw;
  }
  const int epochs_done = result.history.empty() ? 0 : result.history.back().epoch;
  std::string status;
  switch (result.stopped) {
    case Stopped::finished:
      status = fmt::format("finished: {} of {} epochs", epochs_done, o.epochs);
      break;
    case Stopped::early:
      status = fmt::format(
          "stopped early after epoch {}: the test loss has not improved for {} epochs "
          "(--patience {}); the best, {:.3f} at epoch {}, is in best.safetensors",
          epochs_done, epochs_done - result.best_epoch, o.patience, result.best_test_loss,
          result.best_epoch);
      break;
    case Stopped::interrupted:
      status = result.step_in_epoch > 0
                   ? fmt::format("interrupted by {} at epoch {}, step {} of {}",
                                 signal_name(result.signal), epochs_done + 1, result.step_in_epoch,
                                 result.steps_per_epoch)
                   : fmt::format("interrupted by {} after epoch {}", signal_name(result.signal),
                                 epochs_done);
      break;
  }
  write_run_outputs(o.out_dir, model, *data, o, result,
                    result.stopped == Stopped::interrupted
                        ? fmt::format("{}; resume with: vae train --resume {}", status, o.out_dir)
                        : status);
  if (result.stopped == Stopped::interrupted) {
    std::fflush(stdout);
    std::fputs(
        fmt::format(
            "{}; the checkpoint and pictures are written.\nresume with: vae train --resume {}\n",
            status, o.out_dir)
            .c_str(),
        stderr);
    return 128 + result.signal;
  }
  if (result.stopped == Stopped::early) print_line(status);
  print_line(fmt::format(
      "wrote {}/: model.safetensors, best.safetensors (epoch {}), metrics.jsonl, pictures{}",
      o.out_dir, result.best_epoch, o.snapshot_every > 0 ? ", snapshots/" : ""));
  print_line(fmt::format("open {}/index.html to see the run", o.out_dir));
  return 0;
}

}  // namespace vae
