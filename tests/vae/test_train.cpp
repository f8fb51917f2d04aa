// End-to-end tests of the VAE example through its library API, on a small slice of the embedded
// digits (512 train / 256 test images): the loss falls over 3 epochs; metrics.jsonl holds one valid
// JSON object per epoch; model.safetensors loads back into a model rebuilt from its metadata; every
// figure is a valid PNG (decoded with stb_image, independently of the writer) or SVG; the
// importance-weighted bound is tighter than the ELBO; the cvae and dynamic binarization run too.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "examples/vae/data.hpp"
#include "examples/vae/figures.hpp"
#include "examples/vae/idx.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/train.hpp"
#include "sanitized.hpp"
#include "support.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#include <stb_image.h>

namespace fs = std::filesystem;

namespace {

using tgtest::be32;
using tgtest::TempDir;

// A valid PNG: the signature, an IHDR of the expected size, and the whole file decodes.
void check_png(const std::string& path, int width, int height) {
  INFO(path);
  const std::string b = tg::read_file(path);
  REQUIRE(b.size() > 33);
  CHECK(b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(b.compare(12, 4, "IHDR") == 0);
  CHECK(be32(b, 16) == std::uint32_t(width));
  CHECK(be32(b, 20) == std::uint32_t(height));
  int w = 0, h = 0, channels = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(b.data()),
                                            static_cast<int>(b.size()), &w, &h, &channels, 1);
  REQUIRE(px != nullptr);
  CHECK(w == width);
  CHECK(h == height);
  stbi_image_free(px);
}

// A valid PNG at least width x height: a labelled grid adds margins for its text to the tiles'
// size.
void check_labelled_png(const std::string& path, int width, int height) {
  INFO(path);
  const std::string b = tg::read_file(path);
  REQUIRE(b.size() > 33);
  int w = 0, h = 0, channels = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(b.data()),
                                            static_cast<int>(b.size()), &w, &h, &channels, 1);
  REQUIRE(px != nullptr);
  CHECK(w >= width);
  CHECK(w <= width + 120);
  CHECK(h >= height);
  CHECK(h <= height + 12 * 16);  // a title, column labels, at most a caption line a row
  stbi_image_free(px);
}

// The width (or height) of a PNG grid of `tiles` 28-pixel tiles at scale 2 with 2-pixel padding.
int grid_px(int tiles) { return tiles * (28 * 2 + 2) + 2; }

void check_svg(const std::string& path) {
  INFO(path);
  std::string s = tg::read_file(path);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  REQUIRE(s.size() > 20);
  CHECK((s.rfind("<svg", 0) == 0 || s.rfind("<?xml", 0) == 0));
  CHECK(s.substr(s.size() - 6) == "</svg>");
}

// The embedded digits, cut to a small slice; loaded once (the file is gzipped: ~0.3 s).
const vae::Data& small_data() {
  static const vae::Data data = [] {
    vae::Data d = vae::load_data(vae::default_data_dir(), vae::Binarize::none, 1);
    vae::truncate(d.train, 512);
    vae::truncate(d.test, 256);
    return d;
  }();
  return data;
}

vae::TrainOptions options(vae::ModelKind kind, int epochs, const std::string& out_dir = {}) {
  const vae::Data& d = small_data();
  vae::TrainOptions o;
  o.config.kind = kind;
  o.config.rows = d.train.rows;
  o.config.cols = d.train.cols;
  if (tgtest::kSanitized)
    o.config.hidden = 64;  // 6x less work under ASan/TSan; the loss still falls
  o.epochs = epochs;
  o.batch = 64;
  o.seed = 3;
  o.out_dir = out_dir;
  o.progress = false;
  return o;
}

}  // namespace

TEST_CASE("train: a 3-epoch VAE run writes metrics, a checkpoint and valid figures",
          "[vae][train]") {
  const vae::Data& data = small_data();
  REQUIRE(data.train.size() == 512);
  REQUIRE(data.test.size() == 256);
  TempDir tmp("train");
  const vae::TrainOptions opt = options(vae::ModelKind::vae, 3, tmp.path.string());
  tg::Generator init(opt.seed);
  vae::Model model(opt.config, &init);
  std::vector<int> seen;
  const auto history =
      vae::train(model, data, opt, [&](const vae::EpochMetrics& m) { seen.push_back(m.epoch); });

  SECTION("the loss falls") {
    REQUIRE(history.size() == 3);
    CHECK(seen == std::vector<int>{1, 2, 3});
    CHECK(history[2].train_loss < history[0].train_loss);
    CHECK(history[2].test_loss < history[0].test_loss);
    for (const auto& m : history) {
      CHECK(std::isfinite(m.test_loss));
      CHECK(m.test_loss == Approx(m.test_recon + m.test_kl));
      CHECK(m.test_kl > 0);
      CHECK(m.seconds >= 0);
    }
  }

  SECTION("metrics.jsonl: one JSON object per epoch with the required keys") {
    std::istringstream lines(tg::read_file(tmp / "metrics.jsonl"));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      INFO("line " << n << ": " << line);
      const auto j = nlohmann::json::parse(line);  // throws on invalid JSON
      REQUIRE(j.is_object());
      for (const char* key :
           {"epoch", "train_loss", "test_loss", "test_recon", "test_kl", "seconds"}) {
        INFO(key);
        REQUIRE(j.contains(key));
        CHECK(j[key].is_number());
      }
      CHECK(j["epoch"].get<int>() == n);
      CHECK(j["test_loss"].get<double>() == Approx(history[n - 1].test_loss));
    }
    CHECK(n == 3);
  }

  SECTION("model.safetensors loads back into a model rebuilt from its metadata") {
    const std::string path = tmp / "model.safetensors";
    const auto file = tg::nn::load_safetensors(path);
    CHECK(file.metadata.at("model") == "vae");
    CHECK(file.metadata.at("latent") == "20");
    CHECK(file.metadata.at("epoch") == "3");
    CHECK(file.metadata.at("step") == "24");  // 3 epochs of 512 / 64 steps
    CHECK(file.metadata.at("binarize") == "none");
    CHECK(file.metadata.at("data") ==
          fs::absolute(vae::default_data_dir()).lexically_normal().string());
    const vae::Config cfg = vae::Config::from_metadata(file.metadata, path);
    vae::Model back(cfg, nullptr);
    const auto meta = tg::nn::load_checkpoint(path, back);
    CHECK(meta.count("optim.lr") == 0);  // the optimizer's keys are not the caller's
    const auto a = model.named_parameters(), b = back.named_parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].first);
      CHECK(a[i].first == b[i].first);
      CHECK(a[i].second.value().to_vector() == b[i].second.value().to_vector());
    }
  }

  SECTION("every figure is a valid PNG or SVG") {
    vae::write_reconstructions(tmp / "reconstructions.png", model, data.test, 16);
    check_labelled_png(tmp / "reconstructions.png", grid_px(16), grid_px(2));
    vae::write_samples(tmp / "samples.png", model, 64, -1, 9);
    check_labelled_png(tmp / "samples.png", grid_px(8), grid_px(8));
    const auto pairs = vae::default_pairs(data.test);
    CHECK(pairs.size() == 8);  // every digit is in the first 256 test images
    vae::write_interpolation(tmp / "interpolation.png", model, data.test, pairs, 10);
    check_labelled_png(tmp / "interpolation.png", grid_px(12), grid_px(8));
    vae::write_latent(tmp / "latent.svg", model, data.test, "vae: test codes");
    check_svg(tmp / "latent.svg");
    vae::write_loss(tmp / "loss.svg", history);
    check_svg(tmp / "loss.svg");
    CHECK_THAT(tg::read_file(tmp / "loss.svg"), Catch::Contains("negative ELBO"));
    vae::write_loss(tmp / "loss-ae.svg", history, false);
    CHECK_THAT(tg::read_file(tmp / "loss-ae.svg"),
               !Catch::Contains("ELBO per") && Catch::Contains("reconstruction"));
    CHECK_THROWS_WITH(vae::write_manifold(tmp / "manifold.png", model, 5),
                      Catch::Contains("--latent 2"));
    CHECK_FALSE(fs::exists(tmp / "manifold.png"));
    CHECK_THROWS_WITH(vae::write_interpolation(tmp / "bad.png", model, data.test, {{0, 256}}, 10),
                      Catch::Contains("256") && Catch::Contains("0..255"));
    CHECK_FALSE(fs::exists(tmp / "bad.png"));

    // A latent-2 model (untrained is enough) draws the manifold.
    vae::Config c2 = opt.config;
    c2.latent = 2;
    tg::Generator init2(1);
    vae::Model m2(c2, &init2);
    vae::write_manifold(tmp / "manifold.png", m2, 5);
    check_labelled_png(tmp / "manifold.png", 5 * 28,
                       5 * 28);  // scale 1, no padding, plus the z labels

    // No temporary file is left behind by the atomic writes.
    for (const auto& e : fs::directory_iterator(tmp.path)) {
      INFO(e.path());
      CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
    }
  }

  SECTION("evaluate: the IWAE bound is tighter than the ELBO; active units are counted") {
    const vae::EvalResult r = vae::evaluate(model, data.test, vae::Binarize::none, 50, 5);
    CHECK(r.images == 256);
    CHECK(r.latent == 20);
    CHECK(r.iw_samples == 50);
    CHECK(r.loss == Approx(r.recon + r.kl));
    REQUIRE(std::isfinite(r.iwae));
    CHECK(r.iwae > 0);
    // E[-L_K] <= E[-ELBO] (docs/elbo.md, eq. 17); both are estimates, hence 1 nat of slack.
    CHECK(r.iwae <= r.loss + 1.0);
    CHECK(r.active_units >= 0);
    CHECK(r.active_units <= 20);
    const auto j = nlohmann::json::parse(r.json());
    for (const char* key : {"images", "neg_elbo", "recon", "kl", "active_units", "latent",
                            "iw_samples", "neg_log_px_iwae"})
      CHECK(j.contains(key));
    // The same seed gives the same numbers.
    CHECK(vae::evaluate(model, data.test, vae::Binarize::none, 0, 5).loss == r.loss);
  }
}

TEST_CASE("train: the same seed trains to the same numbers", "[vae][train]") {
  const vae::TrainOptions opt = options(vae::ModelKind::vae, 1);
  auto run = [&] {
    tg::Generator init(opt.seed);
    vae::Model m(opt.config, &init);
    return vae::train(m, small_data(), opt, nullptr).back();
  };
  const auto a = run(), b = run();
  CHECK(a.train_loss == b.train_loss);
  CHECK(a.test_loss == b.test_loss);
}

TEST_CASE("train: the cvae trains and draws a chosen digit", "[vae][train]") {
  TempDir tmp("train");
  const vae::TrainOptions opt = options(vae::ModelKind::cvae, 2);
  tg::Generator init(opt.seed);
  vae::Model model(opt.config, &init);
  const auto history = vae::train(model, small_data(), opt, nullptr);
  CHECK(history.back().test_loss < history.front().test_loss);
  vae::write_samples(tmp / "samples-3.png", model, 16, 3, 1);
  check_labelled_png(tmp / "samples-3.png", grid_px(8), grid_px(2));
  // Without a digit: one column per class, ten of them, not ten digits cycled over eight columns.
  vae::write_samples(tmp / "samples.png", model, 30, -1, 1);
  check_labelled_png(tmp / "samples.png", grid_px(10), grid_px(3));
  vae::write_interpolation(tmp / "interpolation.png", model, small_data().test, {{0, 1}}, 5);
  check_labelled_png(tmp / "interpolation.png", grid_px(7), grid_px(1));
  const vae::EvalResult r = vae::evaluate(model, small_data().test, vae::Binarize::none, 10, 1);
  CHECK(std::isfinite(r.iwae));
  vae::Config c2 = opt.config;
  c2.latent = 2;
  vae::Model latent2(c2, &init);
  CHECK_THROWS_WITH(vae::write_manifold(tmp / "manifold.png", latent2, 5), Catch::Contains("cvae"));
}

TEST_CASE("train: the sparse AE is sparse: its inactive share rises with the penalty",
          "[vae][train]") {
  auto inactive = [](double sparsity) {
    vae::TrainOptions opt = options(vae::ModelKind::sparse_ae, 10);
    opt.config.hidden = 400;  // the thresholds below hold at this size, also under the sanitizers
    opt.config.sparsity = sparsity;
    opt.batch = 32;  // 16 steps an epoch on the 512 images
    tg::Generator init(opt.seed);
    vae::Model model(opt.config, &init);
    const auto history = vae::train(model, small_data(), opt, nullptr);
    for (const auto& m : history) CHECK(std::isfinite(m.test_inactive));
    CHECK(nlohmann::json::parse(history.back().json()).contains("test_inactive"));
    return history.back().test_inactive;
  };
  const double without = inactive(0.0), with = inactive(3.0);
  INFO("inactive share without the penalty " << without << ", with the default " << with);
  CHECK(with > without + 0.25);
  CHECK(with > 0.3);
}

TEST_CASE("train: evaluate reports standard errors", "[vae][train]") {
  const vae::TrainOptions opt = options(vae::ModelKind::vae, 1);
  tg::Generator init(opt.seed);
  vae::Model model(opt.config, &init);
  vae::train(model, small_data(), opt, nullptr);
  const vae::EvalResult r = vae::evaluate(model, small_data().test, vae::Binarize::none, 5, 1);
  // The per-image spread of MNIST losses is tens of nats: the mean's standard error on 256 images
  // is a few nats, neither 0 nor as large as the mean.
  for (double se : {r.loss_se, r.recon_se, r.kl_se, r.iwae_se}) {
    CHECK(se > 0.01);
    CHECK(se < r.loss / 10);
  }
  const auto j = nlohmann::json::parse(r.json());
  for (const char* key : {"neg_elbo_se", "recon_se", "kl_se", "neg_log_px_iwae_se"})
    CHECK(j.contains(key));
}

TEST_CASE("train: the autoencoders have no KL and no IWAE bound", "[vae][train]") {
  for (auto kind : {vae::ModelKind::ae, vae::ModelKind::sparse_ae}) {
    const vae::TrainOptions opt = options(kind, 1);
    tg::Generator init(opt.seed);
    vae::Model model(opt.config, &init);
    const auto m = vae::train(model, small_data(), opt, nullptr).back();
    CHECK(m.test_kl == 0);
    CHECK(m.test_loss == m.test_recon);
    const vae::EvalResult r = vae::evaluate(model, small_data().test, vae::Binarize::none, 10, 1);
    CHECK(r.iw_samples == 0);
    CHECK(std::isnan(r.iwae));
    CHECK_FALSE(nlohmann::json::parse(r.json()).contains("neg_log_px_iwae"));
  }
}

TEST_CASE("train: binarization", "[vae][train]") {
  SECTION("dynamic: every batch is a fresh 0/1 draw, and training runs on it") {
    vae::Data data = small_data();
    tg::Generator gen(1);
    const std::vector<std::int64_t> idx{0, 1, 2, 3};
    const auto a = vae::batch_images(data.train, idx, vae::Binarize::dynamic, gen).to_vector();
    const auto b = vae::batch_images(data.train, idx, vae::Binarize::dynamic, gen).to_vector();
    CHECK(std::count_if(a.begin(), a.end(), [](double v) { return v != 0.0 && v != 1.0; }) == 0);
    CHECK(a != b);
    // The stored images keep their grey values.
    bool grey = false;
    for (double v : data.train.images().to_vector()) grey = grey || (v > 0 && v < 1);
    CHECK(grey);

    vae::TrainOptions opt = options(vae::ModelKind::vae, 2);
    opt.binarize = vae::Binarize::dynamic;
    tg::Generator init(opt.seed);
    vae::Model model(opt.config, &init);
    const auto history = vae::train(model, data, opt, nullptr);
    CHECK(std::isfinite(history.back().test_loss));
    CHECK(history.back().train_loss < history.front().train_loss);
  }
  SECTION("static: one fixed draw at load time") {
    vae::Data d = vae::load_data(vae::default_data_dir(), vae::Binarize::fixed, 1);
    vae::truncate(d.test, 64);
    const auto v = d.test.images().to_vector();
    CHECK(std::count_if(v.begin(), v.end(), [](double p) { return p != 0.0 && p != 1.0; }) == 0);
    vae::Data again = vae::load_data(vae::default_data_dir(), vae::Binarize::fixed, 1);
    vae::truncate(again.test, 64);
    CHECK(again.test.images().to_vector() == d.test.images().to_vector());
  }
  CHECK(vae::parse_binarize("static") == vae::Binarize::fixed);
  CHECK(vae::binarize_name(vae::Binarize::fixed) == "static");
  CHECK_THROWS_WITH(vae::parse_binarize("otsu"),
                    Catch::Contains("'otsu'") && Catch::Contains("none, dynamic, static"));
}

TEST_CASE("train: bad options are errors, not crashes", "[vae][train]") {
  vae::TrainOptions opt = options(vae::ModelKind::vae, 1);
  tg::Generator init(opt.seed);
  vae::Model model(opt.config, &init);
  opt.batch = 0;
  CHECK_THROWS_WITH(vae::train(model, small_data(), opt, nullptr), Catch::Contains("--batch"));
  vae::Data empty = small_data();
  vae::truncate(empty.train, 0);  // n <= 0 keeps everything
  CHECK(empty.train.size() == 512);
  opt = options(vae::ModelKind::vae, 1);
  opt.out_dir = (fs::temp_directory_path() / "tg-test-train-no-such-dir" / "sub").string();
  CHECK_THROWS_AS(vae::train(model, small_data(), opt, nullptr), tg::Error);
  CHECK_FALSE(fs::exists(opt.out_dir));
}
