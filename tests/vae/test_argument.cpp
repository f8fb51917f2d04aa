// Tests of what `vae compare`, `vae encode`/`decode` and the labelled figures rest on: the
// classifier and its scores, class names, codes files, labelled PNG grids, the scatter plot's
// contours, and the comparison itself on a small slice of the embedded digits.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb_image.h>

#include "examples/vae/classifier.hpp"
#include "examples/vae/codes.hpp"
#include "examples/vae/compare.hpp"
#include "examples/vae/labels.hpp"
#include "examples/vae/plot.hpp"
#include "support.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/npy.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

namespace fs = std::filesystem;
using tg::Tensor;
using tg::Variable;
using tgtest::TempDir;

namespace {

const vae::Data& slice() {
  static const vae::Data data = [] {
    vae::Data d = vae::load_data(vae::default_data_dir(), vae::Binarize::none, 1);
    vae::truncate(d.train, 1024);
    vae::truncate(d.test, 200);
    return d;
  }();
  return data;
}

// Decodes a PNG to 8-bit grey.
std::vector<unsigned char> grey_pixels(const std::string& path, int& w, int& h) {
  const std::string b = tg::read_file(path);
  int channels = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(b.data()),
                                            static_cast<int>(b.size()), &w, &h, &channels, 1);
  REQUIRE(px != nullptr);
  std::vector<unsigned char> out(px, px + static_cast<std::size_t>(w) * h);
  stbi_image_free(px);
  return out;
}

}  // namespace

TEST_CASE("argument: cross_entropy is -mean log softmax[label], and gradchecks",
          "[vae][argument]") {
  const Tensor l = Tensor::from_values({3, 4}, {0.1, -2, 3, 0.5, 1, 1, 1, 1, -0.3, 2.2, 0.7, -1.5},
                                       tg::DType::f64);
  const std::vector<int> y{2, 0, 3};
  const Variable loss = vae::cross_entropy(Variable(l), y);
  const std::vector<double> v = l.to_vector();
  double want = 0;
  for (int i = 0; i < 3; ++i) {
    double z = 0;
    for (int j = 0; j < 4; ++j) z += std::exp(v[i * 4 + j]);
    want -= v[i * 4 + y[i]] - std::log(z);
  }
  CHECK(loss.item() == Approx(want / 3).epsilon(1e-12));
  CHECK(tg::gradcheck([&](const std::vector<Variable>& in) { return vae::cross_entropy(in[0], y); },
                      {Variable(l, true)}));
  CHECK_THROWS_WITH(vae::cross_entropy(Variable(l), {0, 1}),
                    Catch::Contains("3 logit rows but 2 labels"));
  CHECK_THROWS_WITH(vae::cross_entropy(Variable(l), {0, 1, 4}), Catch::Contains("outside 0..3"));
}

TEST_CASE("argument: score_images counts clear decodings and the class histogram's entropy",
          "[vae][argument]") {
  // A classifier trained on 1,024 digits scores the test slice; the bookkeeping is checked by hand.
  vae::ClassifierReport report;
  auto clf = vae::train_classifier(slice(), 4, 1, &report);
  INFO("test accuracy " << report.test_accuracy);
  CHECK(report.test_accuracy > 0.8);  // 1,024 images, 4 epochs: well above chance (0.1)
  const vae::SamplerScore s = vae::score_images(*clf, slice().test.images());
  REQUIRE(s.n == 200);
  std::int64_t total = 0, sure = 0;
  for (auto k : s.histogram) total += k;
  CHECK(total == 200);
  for (float p : s.confidence) sure += p >= 0.9f;
  CHECK(s.confident == Approx(static_cast<double>(sure) / 200));
  CHECK(s.confident_se == Approx(std::sqrt(s.confident * (1 - s.confident) / 200)));
  double h = 0;
  for (auto k : s.histogram)
    if (k) h -= (k / 200.0) * std::log2(k / 200.0);
  CHECK(s.entropy_bits == Approx(h));
  CHECK(s.entropy_bits > 3.0);  // the test digits cover all ten classes about evenly
  CHECK(s.entropy_bits <= std::log2(10.0) + 1e-12);
  // Blank images are all one class: entropy 0.
  const vae::SamplerScore blank = vae::score_images(*clf, Tensor::zeros({50, 784}));
  CHECK(blank.entropy_bits == 0);
}

TEST_CASE("argument: class names from the folder's name or --class-names", "[vae][argument]") {
  CHECK(vae::class_names("/data/mnist")[3] == "3");
  CHECK(vae::class_names("/usr/share/datasets/fashion-mnist")[9] == "Ankle boot");
  CHECK(vae::class_names("/x/Fashion_MNIST/")[0] == "T-shirt/top");
  CHECK(vae::class_names("", "a,b,c,d,e,f,g,h,i,j")[9] == "j");
  CHECK_THROWS_WITH(vae::class_names("", "a,b"), Catch::Contains("got 2 names, expected 10"));
  CHECK_THROWS_WITH(vae::class_names("", "a,b,,d,e,f,g,h,i,j"),
                    Catch::Contains("name 3 (label 2) is empty"));
  CHECK(vae::short_name("Ankle boot", 5) == "Ankle");
}

TEST_CASE("argument: labelled PNG grids carry their text", "[vae][argument]") {
  TempDir tmp("arg");
  std::vector<float> white(28 * 28, 1.0f);
  const std::vector<std::vector<const float*>> tiles{{white.data(), white.data()},
                                                     {white.data(), white.data()}};
  vae::GridText text;
  text.title = "title";
  text.columns = {"t=0", "t=1"};
  text.rows = {"3 -> 8", "7 -> 2"};
  text.captions = {{"7 0.98", "1 0.50"}, {"", "x"}};
  vae::write_png_grid(tmp / "g.png", tiles, 28, 28, text);
  int w = 0, h = 0;
  const auto px = grey_pixels(tmp / "g.png", w, h);
  CHECK(w > 2 * 58 + 2);  // the row labels' margin
  CHECK(h > 2 * 58 + 2);  // the title, the column labels and a caption strip a row
  // Black ink in the top margin (the title) and in the left margin (the row labels).
  auto ink = [&](int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) n += px[static_cast<std::size_t>(y) * w + x] == 0;
    return n;
  };
  CHECK(ink(0, 0, w, 12) > 10);
  CHECK(ink(0, 40, 30, h) > 10);
  // No text at all is the plain grid.
  vae::write_png_grid(tmp / "plain.png", tiles, 28, 28, vae::GridText{});
  grey_pixels(tmp / "plain.png", w, h);
  CHECK(w == 2 * 58 + 2);
}

TEST_CASE("argument: the scatter plot draws Gaussian contours and class names", "[vae][argument]") {
  TempDir tmp("arg");
  vae::ScatterExtras extras;
  extras.class_names = vae::fashion_mnist_class_names();
  extras.ellipses.push_back({0, 0, 1, 0, 1, 2, "N(0, I)", "#000000", false});
  extras.ellipses.push_back({1, 1, 4, 1, 2, 1, "fitted", "#d62728", true});
  vae::write_scatter_svg(tmp / "s.svg", {0.f, 1.f}, {0.f, 1.f}, {0, 9}, "t", "x", "y", extras);
  const std::string svg = tg::read_file(tmp / "s.svg");
  CHECK_THAT(svg, Catch::Contains("T-shirt/top") && Catch::Contains("Ankle boot") &&
                      Catch::Contains("N(0, I)") && Catch::Contains("stroke-dasharray"));
  CHECK(std::count(svg.begin(), svg.end(), '\n') > 10);
  extras.ellipses.push_back({0, 0, 1, 2, 1, 1, "bad", "#000000", false});  // not positive definite
  CHECK_THROWS_WITH(
      vae::write_scatter_svg(tmp / "bad.svg", {0.f}, {0.f}, {0}, "t", "x", "y", extras),
      Catch::Contains("positive-definite"));
  CHECK_FALSE(fs::exists(tmp / "bad.svg"));
}

TEST_CASE("argument: codes files: a round trip, and the wrong width is an error that says so",
          "[vae][argument]") {
  TempDir tmp("arg");
  vae::Config c;
  c.kind = vae::ModelKind::vae;
  c.latent = 5;
  tg::Generator init(1);
  vae::Model model(c, &init);
  vae::Split test = slice().test;
  vae::truncate(test, 30);
  vae::write_codes(tmp / "codes.npy", model, test);
  CHECK(vae::labels_path_for(tmp / "codes.npy") == tmp / "codes.labels.npy");
  const Tensor codes = vae::read_codes(tmp / "codes.npy", c, "m.safetensors");
  CHECK(codes.shape() == tg::Shape{30, 5});
  CHECK(codes.to_vector() == vae::encode_all(model, test).to_vector());  // the means mu
  const Tensor y = vae::read_labels(tmp / "codes.labels.npy", 30, 10);
  for (std::int64_t i = 0; i < 30; ++i) CHECK(y.to_vector()[i * 10 + test.labels[i]] == 1.0);

  vae::Config wide = c;
  wide.latent = 20;
  CHECK_THROWS_WITH(
      vae::read_codes(tmp / "codes.npy", wide, "m20.safetensors"),
      Catch::Contains("5 columns") && Catch::Contains("m20.safetensors") && Catch::Contains("20"));
  tg::nn::save_npy(tmp / "flat.npy", Tensor::zeros({7}));
  CHECK_THROWS_WITH(vae::read_codes(tmp / "flat.npy", c, "m"),
                    Catch::Contains("2-D") && Catch::Contains("(7,)"));
  tg::nn::save_npy(tmp / "nan.npy", Tensor::full({2, 5}, NAN));
  CHECK_THROWS_WITH(vae::read_codes(tmp / "nan.npy", c, "m"),
                    Catch::Contains("code 0, column 0 is nan"));
  CHECK_THROWS_WITH(vae::read_codes(tmp / "none.npy", c, "m"),
                    Catch::Contains("no such file") && Catch::Contains("vae encode"));
  CHECK_THROWS_WITH(vae::read_labels(tmp / "codes.labels.npy", 31, 10),
                    Catch::Contains("expected 31 labels"));
  tg::nn::save_npy(tmp / "badlabels.npy", Tensor::from_values({2}, {1, 12}));
  CHECK_THROWS_WITH(vae::read_labels(tmp / "badlabels.npy", 2, 10),
                    Catch::Contains("label 1 is 12"));
}

TEST_CASE("argument: compare_models draws and scores both models", "[vae][argument]") {
  TempDir tmp("arg");
  const vae::Data& data = slice();
  vae::ClassifierReport report;
  auto clf = vae::train_classifier(data, 2, 1, &report);
  for (std::int64_t latent : {2, 6}) {
    DYNAMIC_SECTION("latent " << latent) {
      vae::CompareModel m[2];
      std::unique_ptr<vae::Model> keep[2];
      int i = 0;
      for (auto kind : {vae::ModelKind::ae, vae::ModelKind::vae}) {
        vae::TrainOptions o;
        o.config.kind = kind;
        o.config.latent = latent;
        o.epochs = 1;
        tg::Generator init(1);
        keep[i] = std::make_unique<vae::Model>(o.config, &init);
        m[i] = {keep[i].get(), vae::train(*keep[i], data, o, nullptr)};
        ++i;
      }
      vae::CompareOptions o;
      o.dir = tmp.path.string();
      o.class_names = vae::class_names("");
      o.samples = 100;
      o.grid = 5;
      const vae::CompareResult r = vae::compare_models(m[0], m[1], data, *clf, o);
      REQUIRE(r.rows.size() == 9);  // the test images, then four samplers for each model
      CHECK(r.rows[0].model == "data");
      for (const auto& row : r.rows) {
        INFO(row.model << " " << row.sampler);
        CHECK(row.score.n > 0);
        CHECK((row.score.confident >= 0 && row.score.confident <= 1));
      }
      CHECK(r.rows[1].sampler == "N(0, I)");
      CHECK(r.rows[1].score.n == 100);
      CHECK(r.rows[3].score.n == 25);  // the 5 x 5 grid
      for (const char* model : {"ae", "vae"})
        for (const char* part : {"-latent.svg", "-grid.png", "-samples-prior.png",
                                 "-samples-fitted.png", "-interpolation.png"}) {
          const fs::path f = tmp.path / fmt::format("{}-latent{}{}", model, latent, part);
          INFO(f);
          CHECK(fs::exists(f));
        }
      const std::string svg = tg::read_file(r.figure);
      CHECK(svg.rfind("<svg", 0) == 0);
      CHECK_THAT(svg, Catch::Contains("data:image/png;base64,iVBORw0KGgo") &&
                          Catch::Contains("no bound on -log p(x)"));
      const auto j = nlohmann::json::parse(vae::compare_json(report, {r}));
      CHECK(j["rows"].size() == 9);
      CHECK(j["classifier"]["test_accuracy"] == report.test_accuracy);
    }
  }
}

TEST_CASE("argument: far_pairs joins different classes, far apart", "[vae][argument]") {
  const vae::Split& test = slice().test;
  tg::Generator g(1);
  const Tensor codes = Tensor::randn({test.size(), 3}, tg::DType::f32, &g);
  const auto pairs = vae::far_pairs(test, {&codes});
  CHECK(pairs.size() == 8);
  const std::vector<double> v = codes.to_vector();
  for (auto [a, b] : pairs) {
    CHECK(test.labels[a] != test.labels[b]);
    // No other pair of the same two classes is farther apart.
    double d = 0;
    for (int k = 0; k < 3; ++k) d += std::pow(v[a * 3 + k] - v[b * 3 + k], 2);
    for (std::int64_t i = 0; i < test.size(); ++i)
      for (std::int64_t j = 0; j < test.size(); ++j)
        if (test.labels[i] == test.labels[a] && test.labels[j] == test.labels[b]) {
          double e = 0;
          for (int k = 0; k < 3; ++k) e += std::pow(v[i * 3 + k] - v[j * 3 + k], 2);
          CHECK(e <= d + 1e-9);
        }
  }
}
