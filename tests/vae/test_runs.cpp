// Tests of `vae train` as a run a user can trust, through the real program: an --out that holds a
// run is refused (--overwrite replaces it); generated pictures never replace a run's files;
// --resume continues a run bitwise as if it had never stopped (from an epoch's end and from the
// middle of an epoch, after SIGINT or SIGTERM sent by PID); resuming with other flags or a damaged
// run is an error that says what differs; a step whose gradients are not finite stops training with
// an error naming the op; --patience, best.safetensors and --snapshot-every; the progress bar as a
// terminal shows it (through a pseudo-terminal) and no control codes in a log; index.html rendered
// by headless Chromium.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "examples/vae/progress.hpp"
#include "support.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "vae/cli_support.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

using tgtest::TempDir;
using namespace tgtest::cli;

// A tiny configuration: 4 steps an epoch, dynamic binarization so the RNG state matters too.
const std::vector<std::string> kSmall{"--limit", "256", "--limit-test", "128",
                                      "--batch", "64",  "--binarize",   "dynamic"};

std::vector<std::string> train_args(const std::string& out, int epochs,
                                    std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"train", "--epochs", std::to_string(epochs), "--out", out};
  a.insert(a.end(), kSmall.begin(), kSmall.end());
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// metrics.jsonl without the wall-clock times.
std::string metrics_without_times(const fs::path& run) {
  std::istringstream in(tg::read_file((run / "metrics.jsonl").string()));
  std::string out, line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    j.erase("seconds");
    out += j.dump() + "\n";
  }
  return out;
}

int lines_in(const std::string& path) {
  const std::string s = tg::read_file(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// The uninterrupted 10-epoch run every resumed run must equal.
struct Reference {
  TempDir dir{"runs-ref"};
  Result result;
  Reference() { result = run(train_args(dir / "R", 10)); }
};
const Reference& reference() {
  static const Reference r;
  return r;
}

void check_same_as_reference(const fs::path& run_dir) {
  const Reference& ref = reference();
  REQUIRE(ref.result.status == 0);
  const fs::path r = ref.dir.path / "R";
  CHECK(tg::read_file((run_dir / "model.safetensors").string()) ==
        tg::read_file((r / "model.safetensors").string()));
  CHECK(metrics_without_times(run_dir) == metrics_without_times(r));
  CHECK(tg::read_file((run_dir / "best.safetensors").string()) ==
        tg::read_file((r / "best.safetensors").string()));
}

// Starts the program with stdout and stderr on pipes; the test reads them and signals it by PID.
struct Child {
  pid_t pid = -1;
  int out = -1, err = -1;
  std::string out_text, err_text;

  explicit Child(const std::vector<std::string>& args) {
    int o[2], e[2];
    REQUIRE(pipe(o) == 0);
    REQUIRE(pipe(e) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    posix_spawn_file_actions_addclose(&fa, o[0]);
    posix_spawn_file_actions_addclose(&fa, e[0]);
    std::vector<std::string> all{kProgram};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid, kProgram.c_str(), &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(o[1]);
    close(e[1]);
    out = o[0];
    err = e[0];
  }
  // Reads stdout until `text` has appeared (true) or the program closed it (false).
  bool wait_for(const std::string& text) {
    char buf[4096];
    while (out_text.find(text) == std::string::npos) {
      const ssize_t n = read(out, buf, sizeof buf);
      if (n <= 0) return false;
      out_text.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads both pipes to their ends, then returns the exit status (-1 if killed by a signal).
  int finish() {
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    std::string* text[2] = {&out_text, &err_text};
    int open_fds = 2;
    char buf[4096];
    while (open_fds > 0) {
      if (poll(fds, 2, -1) < 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          text[i]->append(buf, static_cast<std::size_t>(n));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    UNSCOPED_INFO("stdout: " << out_text << "\nstderr: " << err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

// What a terminal shows after `raw`: "\r" returns to the line's start, ESC[2K erases the line,
// "\n" ends it, other escapes are not expected (and kept, so a test sees them).
std::vector<std::string> screen(const std::string& raw) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t col = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      lines.push_back(line);
      line.clear();
      col = 0;
    } else if (raw.compare(i, 4, "\033[2K") == 0) {
      line.clear();
      i += 3;
    } else {
      if (col < line.size())
        line[col] = c;
      else
        line.push_back(c);
      ++col;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("runs: an --out that holds a run is refused, --overwrite replaces it", "[vae][runs]") {
  TempDir tmp("runs");
  const std::string out = tmp / "R";
  REQUIRE(run(train_args(out, 1)).status == 0);
  const std::string model = tg::read_file(out + "/model.safetensors");
  std::ofstream(out + "/notes.txt") << "mine";

  Result r = run(train_args(out, 1, {"--seed", "2"}));
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("exists and is not empty") &&
                        Catch::Contains("--overwrite") && Catch::Contains("--resume " + out));
  CHECK(tg::read_file(out + "/model.safetensors") == model);  // untouched
  CHECK(fs::exists(out + "/notes.txt"));

  r = run(train_args(out, 1, {"--seed", "2", "--overwrite"}));
  CHECK(r.status == 0);
  CHECK(tg::read_file(out + "/model.safetensors") != model);
  CHECK_FALSE(
      fs::exists(out + "/notes.txt"));  // the old run's folder was emptied first: nothing stale

  // A folder that is not a run is never emptied, even with --overwrite; an empty one is fine.
  fs::create_directories(tmp / "mine");
  std::ofstream(tmp / "mine/thesis.tex") << "x";
  r = run(train_args(tmp / "mine", 1, {"--overwrite"}));
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("holds no vae run"));
  CHECK(files_in(tmp / "mine") == std::set<std::string>{"thesis.tex"});
  fs::create_directories(tmp / "empty");
  CHECK(run(train_args(tmp / "empty", 1)).status == 0);

  // compare refuses the same way.
  r = run({"compare", "--limit", "64", "--limit-test", "64", "--epochs", "1", "--out", out});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--overwrite"));
}

TEST_CASE("runs: sample, interpolate and manifold never replace a run's files", "[vae][runs]") {
  TempDir tmp("runs");
  const fs::path out = tmp.path / "R";
  REQUIRE(run(train_args(out, 1, {"--latent", "2"})).status == 0);
  const std::string ckpt = (out / "model.safetensors").string();
  const auto before = files_in(out);
  const std::string samples = tg::read_file((out / "samples.png").string());

  Result r = run({"sample", "--checkpoint", ckpt, "--n", "8"});
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("samples-seed1.png"));
  r = run({"sample", "--checkpoint", ckpt, "--n", "8"});
  CHECK_THAT(r.out, Catch::Contains("samples-seed1-2.png"));
  r = run({"interpolate", "--checkpoint", ckpt, "--from", "0", "--to", "3"});
  CHECK_THAT(r.out, Catch::Contains("interpolation-0-3.png"));
  r = run({"manifold", "--checkpoint", ckpt, "--n", "4"});
  CHECK_THAT(r.out, Catch::Contains("manifold.png"));
  auto want = before;
  for (const char* f :
       {"samples-seed1.png", "samples-seed1-2.png", "interpolation-0-3.png", "manifold.png"})
    want.insert(f);
  CHECK(files_in(out) == want);
  CHECK(tg::read_file((out / "samples.png").string()) == samples);

  // An explicit --out that exists: refused, unless --overwrite.
  r = run({"sample", "--checkpoint", ckpt, "--out", (out / "samples.png").string()});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("exists") &&
                        Catch::Contains("--overwrite"));
  CHECK(tg::read_file((out / "samples.png").string()) == samples);
  r = run({"sample", "--checkpoint", ckpt, "--seed", "5", "--out", (out / "samples.png").string(),
           "--overwrite"});
  CHECK(r.status == 0);
  CHECK(tg::read_file((out / "samples.png").string()) != samples);
}

TEST_CASE("runs: train 4 epochs, then --resume --epochs 10, is bitwise one 10-epoch run",
          "[vae][runs]") {
  TempDir tmp("runs");
  const fs::path out = tmp.path / "R";
  REQUIRE(run(train_args(out, 4)).status == 0);
  CHECK(lines_in((out / "metrics.jsonl").string()) == 4);
  const Result r = run({"train", "--resume", out.string(), "--epochs", "10", "--threads", "1"});
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("resuming " + out.string() + " at epoch 5, until epoch 10") &&
                        Catch::Contains("epoch  10/10"));
  check_same_as_reference(out);
}

TEST_CASE("runs: interrupted mid-epoch (SIGINT), the run resumes bitwise", "[vae][runs]") {
  TempDir tmp("runs");
  const fs::path out = tmp.path / "R";
  // The test hook raises SIGINT in the program after its 6th step: epoch 2, step 2 of 4.
  Result r = run(train_args(out, 10, {"--test-signal-at-step", "6"}));
  CHECK(r.status == 130);
  CHECK_THAT(r.err, Catch::Contains("interrupted by SIGINT") &&
                        Catch::Contains("epoch 2, step 2 of 4") &&
                        Catch::Contains("vae train --resume " + out.string()));
  // The checkpoint, the pictures and the page are there; metrics hold the one completed epoch.
  for (const char* f :
       {"model.safetensors", "samples.png", "reconstructions.png", "index.html", "loss.svg"}) {
    INFO(f);
    CHECK(fs::exists(out / f));
  }
  CHECK(lines_in((out / "metrics.jsonl").string()) == 1);
  CHECK_THAT(tg::read_file((out / "index.html").string()),
             Catch::Contains("interrupted by SIGINT") &&
                 Catch::Contains("resume with: vae train --resume"));
  r = run({"train", "--resume", out.string()});  // to the run's own --epochs, 10
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("at epoch 2 step 3 of 4, until epoch 10"));
  check_same_as_reference(out);
}

TEST_CASE("runs: SIGTERM and SIGINT sent by PID stop after the step, resumable", "[vae][runs]") {
  for (int sig : {SIGTERM, SIGINT}) {
    INFO("signal " << sig);
    TempDir tmp("runs");
    const fs::path out = tmp.path / "R";
    Child child(train_args(out, 1000));
    REQUIRE(child.wait_for("epoch   1/1000"));  // training is under way
    REQUIRE(kill(child.pid, sig) == 0);
    const int status = child.finish();
    CHECK(status == 128 + sig);
    CHECK_THAT(child.err_text,
               Catch::Contains(sig == SIGTERM ? "SIGTERM" : "SIGINT") &&
                   Catch::Contains("resume with: vae train --resume " + out.string()));
    CHECK(fs::exists(out / "index.html"));
    CHECK(fs::exists(out / "samples.png"));
    const auto meta = tg::nn::load_safetensors((out / "model.safetensors").string()).metadata;
    const int done = std::stoi(meta.at("epoch"));
    CHECK(lines_in((out / "metrics.jsonl").string()) == done);
    const Result r = run({"train", "--resume", out.string(), "--epochs", std::to_string(done + 1)});
    CHECK(r.status == 0);
    CHECK(lines_in((out / "metrics.jsonl").string()) == done + 1);
  }
}

TEST_CASE("runs: resuming with other flags or a damaged run says what is wrong", "[vae][runs]") {
  TempDir tmp("runs");
  const fs::path out = tmp.path / "R";
  REQUIRE(run(train_args(out, 2)).status == 0);
  const std::string r_dir = out.string();
  const std::string model = tg::read_file(r_dir + "/model.safetensors");
  const std::string metrics = tg::read_file(r_dir + "/metrics.jsonl");
  auto unchanged = [&] {
    CHECK(tg::read_file(r_dir + "/model.safetensors") == model);
    CHECK(tg::read_file(r_dir + "/metrics.jsonl") == metrics);
  };

  SECTION("other model flags: each named with both values, exit 2") {
    const Result r = run({"train", "--resume", r_dir, "--epochs", "3", "--hidden", "100", "--model",
                          "ae", "--batch", "64"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error:") &&
                          Catch::Contains("--hidden: the run has 400, this command says 100") &&
                          Catch::Contains("--model: the run has vae, this command says ae"));
    CHECK_THAT(r.err, !Catch::Contains("--batch"));  // the same value is no difference
    unchanged();
  }
  SECTION("a finished run without a larger --epochs") {
    const Result r = run({"train", "--resume", r_dir});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("completed its 2 epochs") && Catch::Contains("--epochs N"));
    unchanged();
  }
  SECTION("--resume with --out or --overwrite") {
    Result r = run({"train", "--resume", r_dir, "--epochs", "3", "--out", tmp / "other"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("drop --out"));
    r = run({"train", "--resume", r_dir, "--epochs", "3", "--overwrite"});
    CHECK(r.status == 2);
    unchanged();
  }
  SECTION("a folder that does not exist, or holds no checkpoint") {
    Result r = run({"train", "--resume", tmp / "nope"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains(tmp / "nope") && Catch::Contains("no such folder"));
    fs::create_directories(tmp / "empty");
    r = run({"train", "--resume", tmp / "empty"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("model.safetensors is missing"));
  }
  SECTION("a truncated checkpoint names the file and the byte; nothing is written") {
    std::ofstream(r_dir + "/model.safetensors", std::ios::binary) << model.substr(0, 300);
    const Result r = run({"train", "--resume", r_dir, "--epochs", "3"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("model.safetensors") &&
                          Catch::Contains("byte"));
    CHECK(tg::read_file(r_dir + "/metrics.jsonl") == metrics);
  }
  SECTION("a checkpoint without the resume state (written by another program)") {
    // Drop the "rng_offset" entry from the header: same length, so the file stays valid.
    std::string bytes = model;
    const auto at = bytes.find("\"rng_offset\"");
    REQUIRE(at != std::string::npos);
    bytes.replace(at, 12, "\"xng_offset\"");
    std::ofstream(r_dir + "/model.safetensors", std::ios::binary) << bytes;
    const Result r = run({"train", "--resume", r_dir, "--epochs", "3"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("'rng_offset'") && Catch::Contains("cannot be resumed"));
  }
  SECTION("a damaged or missing metrics.jsonl") {
    // Cut inside the first line (halfway through the file can fall on a line's end).
    std::ofstream(r_dir + "/metrics.jsonl") << metrics.substr(0, metrics.find('\n') / 2) << "\n";
    Result r = run({"train", "--resume", r_dir, "--epochs", "3"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("metrics.jsonl: line 1"));
    // A whole line missing: the run folder disagrees with its checkpoint.
    std::ofstream(r_dir + "/metrics.jsonl") << metrics.substr(0, metrics.find('\n') + 1);
    r = run({"train", "--resume", r_dir, "--epochs", "3"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("the run folder is inconsistent"));
    fs::remove(r_dir + "/metrics.jsonl");
    r = run({"train", "--resume", r_dir, "--epochs", "3"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("metrics.jsonl: no such file"));
    CHECK(tg::read_file(r_dir + "/model.safetensors") == model);
  }
  for (const auto& f : files_in(out)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
  }
}

TEST_CASE("runs: a step with non-finite gradients stops with the op named, exit 1", "[vae][runs]") {
  TempDir tmp("runs");
  SECTION("a fresh run (--lr 1e6): no checkpoint yet, so no folder is left") {
    const Result r = run(train_args(tmp / "R", 3, {"--lr", "1e6"}));
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("not finite") &&
                          Catch::Contains("anomaly: '") && Catch::Contains("--lr"));
    CHECK_FALSE(fs::exists(tmp / "R"));
  }
  SECTION("a resumed run keeps its last good checkpoint") {
    const std::string out = tmp / "R";
    REQUIRE(run(train_args(out, 1)).status == 0);
    const std::string model = tg::read_file(out + "/model.safetensors");
    const Result r = run({"train", "--resume", out, "--epochs", "3", "--lr", "1e6"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err,
               Catch::Contains("epoch 2, step") && Catch::Contains("anomaly: '") &&
                   Catch::Contains("the last good checkpoint (after epoch 1) is kept in " + out));
    CHECK(tg::read_file(out + "/model.safetensors") == model);
    CHECK(lines_in(out + "/metrics.jsonl") == 1);
  }
}

TEST_CASE("runs: --patience stops early and best.safetensors holds the lowest test loss",
          "[vae][runs]") {
  TempDir tmp("runs");
  const fs::path out = tmp.path / "R";
  // lr 0.05 is high enough for the test loss to rise again within a few epochs.
  const Result r = run(train_args(out, 30, {"--lr", "0.05", "--patience", "2"}));
  REQUIRE(r.status == 0);
  std::vector<double> test;
  std::istringstream in(tg::read_file((out / "metrics.jsonl").string()));
  for (std::string line; std::getline(in, line);)
    test.push_back(nlohmann::json::parse(line)["test_loss"]);
  REQUIRE(test.size() < 30);
  CHECK_THAT(r.out, Catch::Contains("stopped early after epoch " + std::to_string(test.size())));
  const auto best = std::min_element(test.begin(), test.end());
  const int best_epoch = static_cast<int>(best - test.begin()) + 1;
  CHECK(static_cast<int>(test.size()) - best_epoch == 2);
  const auto meta = tg::nn::load_safetensors((out / "best.safetensors").string()).metadata;
  CHECK(meta.at("epoch") == std::to_string(best_epoch));
  CHECK(meta.at("test_loss") == fmt::format("{:.6f}", *best));
  // best.safetensors is a checkpoint eval reads like any other.
  const Result e =
      run({"eval", "--checkpoint", (out / "best.safetensors").string(), "--iw-samples", "0"});
  CHECK(e.status == 0);
}

TEST_CASE("runs: the progress bar through a pseudo-terminal, plain lines in a log",
          "[vae][runs][tty]") {
  TempDir tmp("runs");
  const std::string out = tmp / "R";
  std::vector<std::string> args{kProgram, "train",        "--epochs", "2",     "--limit",
                                "1024",   "--limit-test", "512",      "--out", out};
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(kProgram.c_str(), argv.data());
    _exit(127);
  }
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = read(master, buf, sizeof buf)) > 0;)
    raw.append(buf, static_cast<std::size_t>(n));
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  INFO("raw: " << raw);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The bars were drawn: the epoch's with an ETA, and the test set's evaluation.
  CHECK_THAT(raw, Catch::Contains("epoch 1/2 [") && Catch::Contains("eta ") &&
                      Catch::Contains("test set ["));
  // And what the terminal shows at the end is the plain lines, nothing glued to them.
  const std::vector<std::string> lines = screen(raw);
  REQUIRE(lines.size() == 5);
  CHECK_THAT(lines[0], Catch::StartsWith("training vae on "));
  const std::regex epoch_line(
      R"(epoch +[12]/2  train +[0-9.]+  test +[0-9.]+ \(recon +[0-9.]+ \+ kl +[0-9.]+\) +[0-9.]+ s)");
  CHECK(std::regex_match(lines[1], epoch_line));
  CHECK(std::regex_match(lines[2], epoch_line));
  CHECK_THAT(lines[3], Catch::StartsWith("wrote " + out + "/"));
  CHECK(lines[4] == "open " + out + "/index.html to see the run");

  // Not a terminal: the same lines, and not one control character.
  const Result r = run(
      {"train", "--epochs", "2", "--limit", "1024", "--limit-test", "512", "--out", tmp / "R2"});
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  CHECK(std::count_if(r.out.begin(), r.out.end(),
                      [](char c) { return c == '\033' || c == '\r'; }) == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 5);
}

TEST_CASE("runs: --snapshot-every and index.html, rendered by headless Chromium",
          "[vae][runs][browser]") {
  TempDir tmp("runs");
  const fs::path out = tmp.path / "R";
  REQUIRE(run(train_args(out.string(), 4, {"--snapshot-every", "2"})).status == 0);
  CHECK(files_in(out / "snapshots") ==
        std::set<std::string>{"samples-epoch-002.png", "samples-epoch-004.png"});
  const std::string html = tg::read_file((out / "index.html").string());
  // Self-contained: every image inline, nothing fetched.
  std::size_t imgs = 0;
  for (std::size_t at = 0; (at = html.find("<img ", at)) != std::string::npos; ++at) ++imgs;
  CHECK(imgs == 7);  // reconstructions, samples, interpolation, latent, loss, 2 snapshots
  CHECK(html.find("src=\"data:image/") != std::string::npos);
  CHECK(html.find("src=\"http") == std::string::npos);
  CHECK(html.find("src=\"file") == std::string::npos);
  CHECK_THAT(html, Catch::Contains("<td>4</td>") && Catch::Contains("finished: 4 of 4 epochs") &&
                       Catch::Contains("snapshot_every"));

  const char* chromium = "/usr/bin/chromium";
  if (!fs::exists(chromium)) {
    WARN("SKIPPED the browser check: " << chromium
                                       << " is not installed (scripts/install-deps installs it)");
    return;
  }
  // The page plus a probe that writes, after load, how many images decoded; and a control copy
  // with one broken image, so the probe is shown to catch one.
  const std::string probe =
      "<script>window.addEventListener('load', () => { const all = Array.from(document.images);"
      " const bad = all.filter(i => !(i.complete && i.naturalWidth > 0)).length;"
      " const p = document.createElement('pre'); p.id = 'probe';"
      " p.textContent = 'images ' + all.length + ' broken ' + bad; document.body.appendChild(p); "
      "});</script>\n";
  tg::write_file_atomic(tmp / "page.html", html + probe);
  tg::write_file_atomic(tmp / "control.html",
                        html + "<img alt=\"broken\" src=\"data:image/png;base64,AAAA\">" + probe);
  auto render = [&](const std::string& page) {
    TempDir profile("chromium");
    const std::string dom = tmp / (page + ".dom");
    const std::string cmd =
        std::string(chromium) +
        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
        " --disable-background-networking --disable-component-update --disable-sync"
        " --user-data-dir=" +
        quote(profile.path.string()) + " --virtual-time-budget=5000 --dump-dom " +
        quote("file://" + (tmp / page)) + " >" + quote(dom) + " 2>/dev/null </dev/null";
    const int rc = std::system(cmd.c_str());
    INFO(cmd);
    CHECK(rc == 0);
    const std::string text = tg::read_file(dom);
    std::smatch m;
    return std::regex_search(text, m, std::regex("images (\\d+) broken (\\d+)"))
               ? m.str(0)
               : std::string("no probe");
  };
  CHECK(render("page.html") == "images 7 broken 0");
  CHECK(render("control.html") == "images 8 broken 1");
}

TEST_CASE("runs: the bar's text: count, rate, ETA while running, elapsed time when done",
          "[vae][runs][tty]") {
  using vae::ProgressBar;
  CHECK(ProgressBar::render("epoch 1/2", 5, 10, 2.0, "loss", 1.5) ==
        "epoch 1/2 [###############...............] 5/10  2.5/s  eta 0:02  loss 1.50");
  CHECK(ProgressBar::render("test set", 0, 4, 0.0, "", 0) ==
        "test set [..............................] 0/4  0.0/s  eta ?");
  CHECK(ProgressBar::render("epoch 3/3", 71, 71, 3725.0, "", 0) ==
        "epoch 3/3 [##############################] 71/71  0.0/s  1:02:05");
}
