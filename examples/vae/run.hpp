// A training run as the `vae` program manages it: the output folder (never overwritten unasked),
// resuming a run where it stopped, SIGINT/SIGTERM handled as "finish the step, checkpoint, stop",
// the pictures and the run page written at the end, and fresh names for generated pictures.
#pragma once
#include <functional>
#include <set>
#include <string>

#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/train.hpp"
#include "tapegrad/tensor/error.hpp"

namespace vae {

// A command line that asks for something the program refuses (exit status 2, like a bad flag).
struct UsageError : tg::Error {
  using tg::Error::Error;
};

// runs/<model>-<date-time>, with -2, -3, ... appended if that folder exists already.
std::string default_run_dir(const std::string& model);

// Refuses (UsageError) an --out that exists and is not empty, with the way out: --overwrite or
// --resume. With overwrite, a folder that holds a run (metrics.jsonl or model.safetensors) is
// emptied; any other non-empty folder is still refused, since its files are not ours to delete.
void check_out_dir(const std::string& dir, bool overwrite);

// Creates the folder and proves it is writable before any work is done. With empty_first
// (--overwrite, after check_out_dir), the run in it is deleted first, so no stale file survives
// beside the new run.
void prepare_out_dir(const std::string& dir, bool empty_first = false);

// dir/stem.ext, or dir/stem-2.ext, dir/stem-3.ext, ... : the first name that does not exist, so a
// generated picture never replaces a training output or an earlier picture.
std::string fresh_path(const std::string& dir, const std::string& stem, const std::string& ext);

// The run's pictures, written from `model` at the end of a run (also an interrupted one): the
// reconstructions, samples, interpolations, latent space and loss curves, then index.html.
void write_run_outputs(const std::string& dir, Model& model, const Data& data,
                       const TrainOptions& o, const TrainResult& result, const std::string& status);

// What `vae train` passes down: a fresh run's options (out_dir set), or a run to resume.
struct TrainCommand {
  TrainOptions options;         // from the command line
  std::string data_dir;         // --data
  std::string resume;           // --resume RUN
  std::set<std::string> given;  // the flags given on the command line ("--hidden", ...)
  std::function<void(const EpochMetrics&, int epochs, const Config&)> on_epoch;  // prints a line
};

// Runs `vae train` for a fresh run (`data` loaded, options.out_dir prepared) or, with cmd.resume
// set, continues that run (`data` ignored; the run's own data is reloaded). SIGINT and SIGTERM stop
// it after the current step. Returns the exit status: 0, or 128 + the signal when interrupted.
int run_training(TrainCommand cmd, const Data* data);

}  // namespace vae
