// Tests of the `vae` program itself, run as a user would run it: --help, every kind of bad input (a
// bad flag value, a missing or unreadable file, an unwritable folder, a checkpoint of the wrong
// kind) exits non-zero with a clear "error: ..." line and leaves no partial file; a tiny training
// run writes all its files, and eval, sample, interpolate, manifold and compare work on its
// checkpoints.
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "vae/cli_support.hpp"

namespace fs = std::filesystem;

namespace {

using tgtest::TempDir;
using namespace tgtest::cli;

const std::vector<std::string> kTrainFiles{
    "best.safetensors", "index.html",        "interpolation.png",   "latent.svg", "loss.svg",
    "metrics.jsonl",    "model.safetensors", "reconstructions.png", "samples.png"};

// A tiny trained run, made once and shared by the tests that need a checkpoint.
struct TinyRun {
  TempDir dir{"cli-run"};
  Result result;
  std::string checkpoint;
  TinyRun(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"train",    "--limit", "256",   "--limit-test", "128",
                                  "--epochs", "1",       "--out", dir / "run"};
    args.insert(args.end(), extra.begin(), extra.end());
    result = run(args);
    checkpoint = dir / "run/model.safetensors";
  }
};
const TinyRun& tiny_run() {
  static const TinyRun r;
  return r;
}
const TinyRun& tiny_latent2_run() {
  static const TinyRun r({"--latent", "2"});
  return r;
}

}  // namespace

TEST_CASE("cli: --help lists the commands", "[vae][cli]") {
  const Result r = run({"--help"});
  CHECK(r.status == 0);
  for (const char* cmd :
       {"train", "eval", "sample", "interpolate", "manifold", "compare", "encode", "decode"})
    CHECK_THAT(r.out, Catch::Contains(cmd));
  const Result t = run({"train", "--help"});
  CHECK(t.status == 0);
  CHECK_THAT(t.out, Catch::Contains("--epochs") && Catch::Contains("--kl-warmup") &&
                        Catch::Contains("--binarize"));
}

TEST_CASE("cli: usage errors exit 2 with an error line", "[vae][cli]") {
  TempDir tmp("cli");
  SECTION("no command") {
    const Result r = run({});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error:"));
  }
  SECTION("--epochs 0") {
    const Result r = run({"train", "--epochs", "0", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("--epochs") &&
                          Catch::Contains("1..100000"));
  }
  SECTION("a value that is not a number") {
    const Result r = run({"train", "--lr", "fast", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err,
               Catch::StartsWith("error:") && Catch::Contains("--lr") && Catch::Contains("'fast'"));
  }
  SECTION("a negative seed") {
    const Result r = run({"train", "--seed", "-3", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--seed"));
  }
  SECTION("--model nope names the value and the choices") {
    const Result r = run({"train", "--model", "nope", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("'nope'") &&
                          Catch::Contains("vae, ae, sparse-ae, cvae"));
  }
  SECTION("--binarize and --likelihood name their choices") {
    Result r = run({"train", "--binarize", "otsu", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("'otsu'") && Catch::Contains("none, dynamic, static"));
    r = run({"train", "--likelihood", "normal", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("'normal'") &&
                          Catch::Contains("bernoulli, continuous-bernoulli, gaussian"));
  }
  SECTION("--sigma, --sparsity-target, --class-names and --latents say what is wrong") {
    Result r = run({"train", "--likelihood", "gaussian", "--sigma", "-1", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("--sigma") &&
                          Catch::Contains("learned"));
    r = run({"train", "--model", "sparse-ae", "--sparsity-target", "1.5", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--sparsity-target") && Catch::Contains("between 0 and 1"));
    r = run({"train", "--class-names", "a,b,c", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err,
               Catch::Contains("--class-names") && Catch::Contains("got 3 names, expected 10"));
    r = run({"compare", "--latents", "2,0", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--latents") && Catch::Contains("1..10000"));
    r = run({"compare", "--limit", "64", "--limit-test", "5", "--epochs", "1", "--latents", "2",
             "--classifier-epochs", "1", "--samples", "64", "--out", tmp / "few"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("at least 10 test images"));
    CHECK_FALSE(fs::exists(tmp / "few"));  // checked before anything is written
    r = run({"decode", "--checkpoint", tmp / "m", "--codes", tmp / "c.npy"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--out"));
  }
  SECTION("an unknown flag") {
    const Result r = run({"train", "--epoch", "3", "--out", tmp / "run"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("--epoch"));
  }
  SECTION("a required flag missing") {
    const Result r = run({"eval"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--checkpoint"));
  }
  CHECK(files_in(tmp.path).empty());  // nothing was created: not even the output folder
  CHECK_FALSE(fs::exists(tmp / "run"));
}

TEST_CASE("cli: bad files and folders exit 1 with a clear message and no partial output",
          "[vae][cli]") {
  TempDir tmp("cli");
  SECTION("--data a missing folder names it, and creates no output folder") {
    const Result r = run({"train", "--data", "/nonexistent-tg-data", "--out", tmp / "run"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("/nonexistent-tg-data"));
    CHECK_FALSE(fs::exists(tmp / "run"));
  }
  SECTION("--out under a regular file: the folder cannot be created (even as root)") {
    std::ofstream(tmp / "file") << "x";
    const Result r = run({"train", "--limit", "64", "--limit-test", "64", "--epochs", "1", "--out",
                          tmp / "file/sub"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains(tmp / "file/sub"));
    CHECK(files_in(tmp.path) == std::set<std::string>{"file"});
    CHECK(tg::read_file(tmp / "file") == "x");
  }
  SECTION("eval --checkpoint missing.safetensors names the file") {
    const Result r = run({"eval", "--checkpoint", tmp / "missing.safetensors"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains(tmp / "missing.safetensors") &&
                          Catch::Contains("vae train"));
  }
  SECTION("--checkpoint a folder") {
    const Result r = run({"eval", "--checkpoint", tmp.path.string()});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("is a folder"));
  }
  SECTION("a truncated checkpoint: the file and the byte are named") {
    const std::string bytes = tg::read_file(tiny_run().checkpoint);
    REQUIRE(bytes.size() > 1000);
    for (std::size_t keep : {std::size_t(4), std::size_t(500), bytes.size() - 100}) {
      std::ofstream(tmp / "cut.safetensors", std::ios::binary) << bytes.substr(0, keep);
      const Result r = run({"eval", "--checkpoint", tmp / "cut.safetensors", "--iw-samples", "0"});
      CHECK(r.status == 1);
      CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains(tmp / "cut.safetensors") &&
                            Catch::Contains("byte"));
      CHECK(r.out.empty());
    }
  }
  SECTION("a garbled checkpoint: the file and the byte are named") {
    std::string bytes = tg::read_file(tiny_run().checkpoint);
    bytes[8] = '[';  // the JSON header must be an object
    std::ofstream(tmp / "garbled.safetensors", std::ios::binary) << bytes;
    Result r = run({"sample", "--checkpoint", tmp / "garbled.safetensors", "--out", tmp / "s.png"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains(tmp / "garbled.safetensors") &&
                          Catch::Contains("byte"));
    std::ofstream(tmp / "text.safetensors") << "this is not a checkpoint\n";
    r = run({"eval", "--checkpoint", tmp / "text.safetensors"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("byte 0"));
    CHECK_FALSE(fs::exists(tmp / "s.png"));
  }
  SECTION("manifold on a latent-20 checkpoint explains it needs --latent 2") {
    const Result r =
        run({"manifold", "--checkpoint", tiny_run().checkpoint, "--out", tmp / "m.png"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("20 dimensions") &&
                          Catch::Contains("--latent 2"));
    CHECK_FALSE(fs::exists(tmp / "m.png"));
  }
  SECTION("sample --digit on a model that is not a cvae explains") {
    const Result r = run(
        {"sample", "--checkpoint", tiny_run().checkpoint, "--digit", "3", "--out", tmp / "s.png"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("--digit") &&
                          Catch::Contains("cvae"));
    CHECK_FALSE(fs::exists(tmp / "s.png"));
  }
  SECTION("interpolate with an index past the test set names the range") {
    const Result r = run({"interpolate", "--checkpoint", tiny_run().checkpoint, "--from", "0",
                          "--to", "5000", "--out", tmp / "i.png"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err,
               Catch::StartsWith("error:") && Catch::Contains("5000") && Catch::Contains("0..999"));
    CHECK_FALSE(fs::exists(tmp / "i.png"));
  }
  SECTION("a picture into a folder that does not exist") {
    const Result r =
        run({"sample", "--checkpoint", tiny_run().checkpoint, "--out", tmp / "no/such/dir/s.png"});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains(tmp / "no/such/dir/s.png"));
  }
  for (const auto& f : files_in(tmp.path)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
  }
}

TEST_CASE("cli: a tiny run, then eval, sample, interpolate and manifold on it", "[vae][cli]") {
  const TinyRun& run0 = tiny_run();
  REQUIRE(run0.result.status == 0);
  CHECK_THAT(run0.result.out,
             Catch::Contains("256 train / 128 test") && Catch::Contains("epoch   1/1"));
  CHECK(run0.result.err.empty());  // no progress bar: stderr is not a terminal
  const fs::path dir = run0.dir.path / "run";

  SECTION("train writes its 9 files and no temporary ones") {
    const std::set<std::string> files = files_in(dir);
    CHECK(files == std::set<std::string>(kTrainFiles.begin(), kTrainFiles.end()));
  }
  SECTION("eval --json prints one JSON line with the keys") {
    const Result r = run({"eval", "--checkpoint", run0.checkpoint, "--iw-samples", "20",
                          "--limit-test", "200", "--json"});
    REQUIRE(r.status == 0);
    REQUIRE(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    const auto j = nlohmann::json::parse(r.out);
    for (const char* key : {"images", "neg_elbo", "recon", "kl", "active_units", "latent",
                            "iw_samples", "neg_log_px_iwae"}) {
      INFO(key);
      CHECK(j.contains(key));
    }
    CHECK(j["images"] == 200);
    CHECK(j["iw_samples"] == 20);
    CHECK(j["latent"] == 20);
    CHECK(j["neg_log_px_iwae"].get<double>() <= j["neg_elbo"].get<double>() + 1.0);
  }
  SECTION("eval prints a readable summary") {
    const Result r =
        run({"eval", "--checkpoint", run0.checkpoint, "--iw-samples", "5", "--limit-test", "50"});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("50 test images") && Catch::Contains("negative ELBO") &&
                          Catch::Contains("IWAE") && Catch::Contains("active units"));
  }
  SECTION("sample and interpolate write their PNGs") {
    TempDir tmp("cli");
    Result r =
        run({"sample", "--checkpoint", run0.checkpoint, "--n", "16", "--out", tmp / "s.png"});
    CHECK(r.status == 0);
    CHECK(is_png(tmp / "s.png"));
    r = run({"interpolate", "--checkpoint", run0.checkpoint, "--from", "0", "--to", "5", "--out",
             tmp / "i.png"});
    CHECK(r.status == 0);
    CHECK(is_png(tmp / "i.png"));
    CHECK(files_in(tmp.path) == std::set<std::string>{"i.png", "s.png"});
    // Without --out, beside the checkpoint.
    r = run({"interpolate", "--checkpoint", run0.checkpoint, "--from", "0", "--to", "5"});
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("interpolation-0-5.png"));
    CHECK(is_png((dir / "interpolation-0-5.png").string()));
    fs::remove(dir / "interpolation-0-5.png");
  }
  SECTION("manifold on a latent-2 model") {
    const TinyRun& run2 = tiny_latent2_run();
    REQUIRE(run2.result.status == 0);
    TempDir tmp("cli");
    const Result r =
        run({"manifold", "--checkpoint", run2.checkpoint, "--n", "6", "--out", tmp / "m.png"});
    CHECK(r.status == 0);
    CHECK(is_png(tmp / "m.png"));
  }
}

TEST_CASE("cli: compare trains both models at each latent size, draws and scores them",
          "[vae][cli]") {
  TempDir tmp("cli");
  const Result r =
      run({"compare", "--limit", "256", "--limit-test", "128", "--epochs", "1", "--latents", "2,3",
           "--classifier-epochs", "1", "--samples", "64", "--out", tmp / "cmp"});
  REQUIRE(r.status == 0);
  std::set<std::string> want{"compare.json"};
  for (const char* latent : {"2", "3"}) {
    const std::string dir = std::string("latent") + latent + "/";
    want.insert(dir + "compare-latent" + latent + ".svg");
    for (const char* model : {"ae", "vae"}) {
      for (const auto& f : kTrainFiles) want.insert(dir + model + "/" + f);
      for (const char* part : {"-latent.svg", "-grid.png", "-samples-prior.png",
                               "-samples-fitted.png", "-interpolation.png"})
        want.insert(dir + model + "-latent" + latent + part);
    }
  }
  CHECK(files_in(tmp.path / "cmp") == want);
  const std::string svg = tg::read_file(tmp / "cmp/latent2/compare-latent2.svg");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("data:image/png;base64,") != std::string::npos);
  CHECK(svg.find("data:image/svg+xml;base64,") != std::string::npos);
  // The table: every sampler of both models at both sizes, with its standard error and entropy.
  CHECK_THAT(r.out, Catch::Contains("classifier (MLP") && Catch::Contains("test accuracy") &&
                        Catch::Contains("fitted Gaussian") && Catch::Contains("interpolations") &&
                        Catch::Contains("bits") && Catch::Contains("±"));
  // The AEs print their reconstruction only.
  CHECK_THAT(r.out, Catch::Contains("train recon") && !Catch::Contains("kl   0.000"));
  const auto j = nlohmann::json::parse(tg::read_file(tmp / "cmp/compare.json"));
  CHECK(j["rows"].size() == 18);
  CHECK(j["rows"][1]["sampler"] == "N(0, I)");
  CHECK_THAT(tg::read_file(tmp / "cmp/latent2/ae/loss.svg"), !Catch::Contains("ELBO per"));
}

TEST_CASE("cli: encode writes codes and labels, decode draws them; the wrong width is an error",
          "[vae][cli]") {
  const TinyRun& run0 = tiny_run();
  REQUIRE(run0.result.status == 0);
  TempDir tmp("cli");
  Result r =
      run({"encode", "--checkpoint", run0.checkpoint, "--limit", "25", "--out", tmp / "codes.npy"});
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("25 codes of 20 numbers"));
  CHECK(files_in(tmp.path) == std::set<std::string>{"codes.labels.npy", "codes.npy"});
  CHECK(tg::read_file(tmp / "codes.npy").rfind("\x93NUMPY", 0) == 0);
  // Never replaced unasked.
  r = run({"encode", "--checkpoint", run0.checkpoint, "--limit", "5", "--out", tmp / "codes.npy"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("--overwrite"));
  r = run({"decode", "--checkpoint", run0.checkpoint, "--codes", tmp / "codes.npy", "--out",
           tmp / "back.png"});
  REQUIRE(r.status == 0);
  CHECK(is_png(tmp / "back.png"));
  // A latent-2 checkpoint cannot decode 20-number codes.
  const TinyRun& run2 = tiny_latent2_run();
  REQUIRE(run2.result.status == 0);
  r = run({"decode", "--checkpoint", run2.checkpoint, "--codes", tmp / "codes.npy", "--out",
           tmp / "bad.png"});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains("20 columns") &&
                        Catch::Contains("latent size"));
  CHECK_FALSE(fs::exists(tmp / "bad.png"));
  r = run({"decode", "--checkpoint", run0.checkpoint, "--codes", tmp / "missing.npy", "--out",
           tmp / "bad.png"});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("no such file") && Catch::Contains("vae encode"));
  r = run({"encode", "--checkpoint", run0.checkpoint, "--out", tmp / "x.npy", "--split", "valid"});
  CHECK(r.status == 2);
  CHECK_FALSE(fs::exists(tmp / "x.npy"));
}

TEST_CASE("cli: the Gaussian likelihood, the sparse AE and the eval labels", "[vae][cli]") {
  SECTION("--likelihood gaussian with a learned sigma: eval reports it") {
    const TinyRun g({"--likelihood", "gaussian"});
    REQUIRE(g.result.status == 0);
    const Result r =
        run({"eval", "--checkpoint", g.checkpoint, "--iw-samples", "5", "--limit-test", "40"});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("sigma of p(x|z)") && Catch::Contains("learned"));
  }
  SECTION(
      "the sparse AE prints its inactive share; the AE paths no KL, no bound, no active units") {
    const TinyRun s({"--model", "sparse-ae"});
    REQUIRE(s.result.status == 0);
    CHECK_THAT(s.result.out, Catch::Contains("inactive") && !Catch::Contains("kl "));
    CHECK(is_png(s.dir / "run/code.png"));  // the sparsity picture
    const Result r = run({"eval", "--checkpoint", s.checkpoint, "--limit-test", "40"});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("reconstruction") && Catch::Contains("inactive code") &&
                          !Catch::Contains("active units") && !Catch::Contains("IWAE bound -L_K"));
  }
  SECTION("eval: every figure with its standard error; IWAE named as the bound it is") {
    const Result r = run(
        {"eval", "--checkpoint", tiny_run().checkpoint, "--iw-samples", "5", "--limit-test", "40"});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("negative ELBO") && Catch::Contains("±") &&
                          Catch::Contains("an upper bound on -log p(x)"));
  }
}

TEST_CASE("cli: eval and interpolate default to the data the model was trained on", "[vae][cli]") {
  TempDir tmp("cli");
  const fs::path digits = tmp.path / "digits";
  fs::create_directories(digits);
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::copy_file(fs::path(TG_SOURCE_DIR) / "examples/vae/data/mnist-subset" / f, digits / f);
  Result r = run({"train", "--data", digits.string(), "--limit", "128", "--limit-test", "64",
                  "--epochs", "1", "--out", tmp / "run"});
  REQUIRE(r.status == 0);
  r = run({"eval", "--checkpoint", tmp / "run/model.safetensors", "--iw-samples", "0",
           "--limit-test", "10"});
  CHECK(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains(digits.string()));
  // Gone: an error that names the folder and the way out, not a silent switch to other data.
  fs::remove_all(digits);
  r = run({"eval", "--checkpoint", tmp / "run/model.safetensors", "--iw-samples", "0"});
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::StartsWith("error:") && Catch::Contains(digits.string()) &&
                        Catch::Contains("--data"));
  r = run({"interpolate", "--checkpoint", tmp / "run/model.safetensors", "--from", "0", "--to", "1",
           "--out", tmp / "i.png"});
  CHECK(r.status == 1);
  CHECK_FALSE(fs::exists(tmp / "i.png"));
  r = run({"eval", "--checkpoint", tmp / "run/model.safetensors", "--iw-samples", "0",
           "--limit-test", "10", "--data",
           fs::path(TG_SOURCE_DIR "/examples/vae/data/mnist-subset").string()});
  CHECK(r.status == 0);
}

// Issue 13, F10: every numeric flag is range-checked, by name, before anything runs; an unknown
// command is named as such. F8: a test set too small for the default interpolation pairs still gets
// every file.
TEST_CASE("cli: out-of-range numbers and unknown commands are usage errors that say which",
          "[vae][cli][reliability]") {
  TempDir tmp("cli-ranges");
  SECTION("an unknown command") {
    const Result r = run({"trian", "--epochs", "1"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("error: unknown command 'trian'") &&
                          Catch::Contains("train, eval"));
  }
  struct Case {
    std::vector<std::string> args;
    std::string flag, range;
  };
  for (const Case& c : std::vector<Case>{
           {{"train", "--threads", "10000"}, "--threads", "0..256"},
           {{"train", "--sparsity", "-1"}, "--sparsity", "0..1000000"},
           {{"train", "--kl-warmup", "inf"}, "--kl-warmup", "0..1000000"},
           {{"train", "--beta", "nan"}, "--beta", "0..1000000"},
           {{"train", "--lr", "0"}, "--lr", "> 0 and <= 1000000000"},
           {{"train", "--hidden", "100000000000"}, "--hidden", "1..100000"},
           {{"train", "--latent", "0"}, "--latent", "1..10000"},
           {{"train", "--batch", "1.5"}, "--batch", "1..1048576"},
           {{"eval", "--checkpoint", "x", "--iw-samples", "100000000"},
            "--iw-samples",
            "0..1000000"},
           {{"eval", "--checkpoint", "x", "--threads", "-1"}, "--threads", "0..256"},
           {{"sample", "--checkpoint", "x", "--n", "0"}, "--n", "1..4096"},
           {{"interpolate", "--checkpoint", "x", "--from", "-1", "--to", "2"}, "--from", "0.."},
       }) {
    std::vector<std::string> args = c.args;
    if (args[0] == "train") args.insert(args.end(), {"--out", tmp / "run"});
    const Result r = run(args);
    CHECK(r.status == 2);
    CHECK_THAT(r.err,
               Catch::StartsWith("error:") && Catch::Contains(c.flag) && Catch::Contains(c.range));
  }
  CHECK(files_in(tmp.path).empty());
}

TEST_CASE("cli: train with a one-image test set writes every file", "[vae][cli][reliability]") {
  TempDir tmp("cli-tiny-test");
  const Result r = run({"train", "--limit", "64", "--limit-test", "1", "--epochs", "1", "--hidden",
                        "16", "--out", tmp / "run"});
  CHECK(r.status == 0);
  for (const auto& f : kTrainFiles) CHECK(fs::exists(tmp / ("run/" + f)));
}

TEST_CASE(
    "cli: --model conv-vae trains, and eval, sample, interpolate, manifold and compare work with "
    "it",
    "[vae][cli][conv]") {
  TempDir tmp("cli-conv");
  Result r = run({"train", "--model", "conv-vae", "--latent", "2", "--limit", "128", "--limit-test",
                  "64", "--epochs", "1", "--out", tmp / "run"});
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("training conv-vae"));
  CHECK(files_in(tmp.path / "run") ==
        std::set<std::string>(kTrainFiles.begin(), kTrainFiles.end()));
  const std::string ckpt = tmp / "run/model.safetensors";
  r = run({"eval", "--checkpoint", ckpt, "--iw-samples", "5", "--limit-test", "32", "--json"});
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["latent"] == 2);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"sample", "--checkpoint", ckpt, "--n", "9", "--out", tmp / "s.png"},
           {"interpolate", "--checkpoint", ckpt, "--from", "0", "--to", "3", "--out",
            tmp / "i.png"},
           {"manifold", "--checkpoint", ckpt, "--n", "4", "--out", tmp / "m.png"}}) {
    r = run(args);
    CHECK(r.status == 0);
    CHECK(is_png(args.back()));
  }
  r = run({"compare", "--models", "vae,conv-vae", "--limit", "128", "--limit-test", "64",
           "--epochs", "1", "--out", tmp / "cmp"});
  REQUIRE(r.status == 0);
  std::set<std::string> want{"compare.svg"};
  for (const char* model : {"vae", "conv-vae"})
    for (const auto& f : kTrainFiles) want.insert(std::string(model) + "/" + f);
  CHECK(files_in(tmp.path / "cmp") == want);
  CHECK_THAT(tg::read_file(tmp / "cmp/compare.svg"), Catch::Contains("VAE vs conv VAE"));
  r = run({"compare", "--models", "vae,cnn", "--out", tmp / "bad"});
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("error:") && Catch::Contains("cnn"));
}
