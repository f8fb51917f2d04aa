// Tests for the VAE's pictures and their numerics: PNG grids decode (with stb_image, independently
// of the writer) to the expected pixels, SVGs are well-formed XML with their legends, PCA recovers
// known directions and satisfies C v = lambda v, and the inverse normal CDF matches known
// quantiles.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "examples/vae/idx.hpp"
#include "examples/vae/plot.hpp"
#include "support.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#include <stb_image.h>

namespace fs = std::filesystem;

namespace {

using tgtest::be32;
using tgtest::contains;
using tgtest::TempDir;

struct Decoded {
  int w = 0, h = 0;
  std::vector<std::uint8_t> px;
  int at(int x, int y) const { return px[static_cast<std::size_t>(y) * w + x]; }
};

Decoded decode_png(const std::string& bytes) {
  Decoded d;
  int comp = 0;
  unsigned char* p = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()),
                                           static_cast<int>(bytes.size()), &d.w, &d.h, &comp, 1);
  REQUIRE(p != nullptr);
  d.px.assign(p, p + static_cast<std::size_t>(d.w) * d.h);
  stbi_image_free(p);
  return d;
}

// A small XML well-formedness check: every tag closes in order, attributes are quoted, '&' starts
// an entity, and there is one root element. Enough to catch unescaped text and unbalanced output.
bool well_formed(const std::string& s, std::string& why) {
  std::vector<std::string> stack;
  bool had_root = false;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      const auto semi = s.find(';', i);
      const std::string ent = s.substr(i, semi == std::string::npos ? 8 : semi - i + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;") {
        why = "bad entity " + ent;
        return false;
      }
      i = semi + 1;
      continue;
    }
    if (s[i] == '>') {
      why = "stray '>' at " + std::to_string(i);
      return false;
    }
    if (s[i] != '<') {
      if (stack.empty() && !std::isspace(static_cast<unsigned char>(s[i]))) {
        why = "text outside the root at " + std::to_string(i);
        return false;
      }
      ++i;
      continue;
    }
    const auto close = s.find('>', i);
    if (close == std::string::npos) {
      why = "unterminated tag";
      return false;
    }
    std::string tag = s.substr(i + 1, close - i - 1);
    i = close + 1;
    if (tag.empty()) {
      why = "empty tag";
      return false;
    }
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) {
        why = "unbalanced </" + tag.substr(1) + ">";
        return false;
      }
      stack.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n"));
    // Attribute values are quoted: an even number of quotes, and no '<' inside the tag.
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0 || tag.find('<') != std::string::npos) {
      why = "bad attributes in <" + name + ">";
      return false;
    }
    if (stack.empty()) {
      if (had_root) {
        why = "second root element <" + name + ">";
        return false;
      }
      had_root = true;
    }
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) {
    why = "unclosed <" + stack.back() + ">";
    return false;
  }
  return had_root;
}

}  // namespace

TEST_CASE("write_png_grid draws real digits into a PNG of the right size", "[plot]") {
  TempDir dir("plot");
  const vae::Images im =
      vae::read_idx_images(vae::default_data_dir() + "/t10k-images-idx3-ubyte.gz");
  std::vector<std::vector<float>> floats(7, std::vector<float>(28 * 28));
  std::vector<const float*> tiles;
  for (int k = 0; k < 7; ++k) {
    for (int j = 0; j < 28 * 28; ++j)
      floats[k][j] = im.pixels[static_cast<std::size_t>(k) * 784 + j] / 255.0f;
    tiles.push_back(floats[k].data());
  }
  const std::string path = dir / "grid.png";
  vae::write_png_grid(path, tiles, 28, 28, /*grid_cols=*/4, /*scale=*/2, /*pad=*/2);

  const std::string png = tg::read_file(path);
  REQUIRE(png.size() > 33);
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(png.substr(12, 4) == "IHDR");
  const int width = 4 * (56 + 2) + 2,
            height = 2 * (56 + 2) + 2;  // 2 rows: 4 tiles, then 3 and a blank
  CHECK(be32(png, 16) == static_cast<std::uint32_t>(width));
  CHECK(be32(png, 20) == static_cast<std::uint32_t>(height));
  CHECK(png[24] == 8);  // bit depth
  CHECK(png[25] == 0);  // greyscale

  const Decoded d = decode_png(png);
  REQUIRE(d.w == width);
  REQUIRE(d.h == height);
  CHECK(d.at(0, 0) == 128);  // the border is pad_value 0.5
  // Image 5 is tile (row 1, col 1); each source pixel is a 2x2 block.
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const int expected = im.pixels[5 * 784 + static_cast<std::size_t>(y) * 28 + x];
      const int x0 = 2 + 1 * 58 + 2 * x, y0 = 2 + 1 * 58 + 2 * y;
      REQUIRE(d.at(x0, y0) == expected);
      REQUIRE(d.at(x0 + 1, y0 + 1) == expected);
    }
  CHECK(d.at(2 + 3 * 58 + 10, 2 + 58 + 10) == 0);  // the missing eighth tile is black
  CHECK(fs::file_size(path) < 20000);              // deflated, not stored
}

TEST_CASE("write_png_grid lays out caller-given rows and clamps values", "[plot]") {
  TempDir dir("plot");
  const std::vector<float> a = {-1.0f, 0.0f, 0.5f, 2.0f}, b = {NAN, 1.0f, 0.25f, 0.75f};
  const std::string path = dir / "rows.png";
  vae::write_png_grid(path, {{a.data(), b.data()}, {nullptr, a.data(), b.data()}}, 2, 2,
                      /*scale=*/1, /*pad=*/1,
                      /*pad_value=*/1.0f);
  const Decoded d = decode_png(tg::read_file(path));
  CHECK(d.w == 3 * 3 + 1);
  CHECK(d.h == 2 * 3 + 1);
  CHECK(d.at(0, 0) == 255);
  CHECK(d.at(1, 1) == 0);  // -1 clamps to black
  CHECK(d.at(2, 1) == 0);
  CHECK(d.at(1, 2) == 128);
  CHECK(d.at(2, 2) == 255);  // 2 clamps to white
  CHECK(d.at(4, 1) == 0);    // NaN shows as black
  CHECK(d.at(5, 2) == 191);
  CHECK(d.at(1, 4) == 0);  // the null tile is empty
  CHECK(d.at(4, 4) == 0);  // row 2, tile 2 is a again
  CHECK(d.at(5, 5) == 255);
}

TEST_CASE("write_png_grid rejects bad arguments and fails without leaving files", "[plot]") {
  TempDir dir("plot");
  const std::vector<float> a(4, 0.5f);
  CHECK_THROWS_AS(vae::write_png_grid(dir / "x.png", std::vector<const float*>{}, 2, 2, 1),
                  tg::ValueError);
  CHECK_THROWS_AS(vae::write_png_grid(dir / "x.png", {a.data()}, 0, 2, 1), tg::ValueError);
  CHECK_THROWS_AS(vae::write_png_grid(dir / "x.png", {a.data()}, 2, 2, 0), tg::ValueError);
  CHECK_THROWS_WITH(vae::write_png_grid(dir / "missing/x.png", {a.data()}, 2, 2, 1),
                    Catch::StartsWith("cannot write " + (dir / "missing/x.png")));
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("write_scatter_svg writes well-formed SVG with a legend of the labels present",
          "[plot]") {
  TempDir dir("plot");
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> x, y;
  std::vector<int> label;
  for (int i = 0; i < 500; ++i) {
    const int l = i % 10 == 7 ? 3 : i % 10;  // no 7s
    label.push_back(l);
    x.push_back(normal(rng) + static_cast<float>(l));
    y.push_back(normal(rng) - static_cast<float>(l));
  }
  x.push_back(NAN);  // skipped
  y.push_back(0.0f);
  label.push_back(1);
  const std::string path = dir / "latent.svg";
  vae::write_scatter_svg(path, x, y, label, "Latent space <z> & 'labels'", "z[0]", "z[1]");
  const std::string svg = tg::read_file(path);
  std::string why;
  const bool ok = well_formed(svg, why);
  INFO(why);
  CHECK(ok);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(contains(svg, "Latent space &lt;z&gt; &amp; &apos;labels&apos;"));
  for (char l : std::string("012345689"))
    CHECK(contains(svg, std::string{'>', l} + "</text>"));  // no 7
  CHECK_FALSE(contains(svg, ">7</text>"));
  CHECK(contains(svg, "#1f77b4"));
  std::size_t circles = 0;
  for (auto at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1))
    ++circles;
  CHECK(circles == 500 + 9);  // the points, then one legend dot per label

  CHECK_THROWS_AS(vae::write_scatter_svg(path, {1.0f}, {1.0f, 2.0f}, {}, "", "", ""),
                  tg::ValueError);
  CHECK_THROWS_AS(vae::write_scatter_svg(path, {1.0f}, {1.0f}, {10}, "", "", ""), tg::ValueError);
  // No labels: one colour, no legend; a single point still gets a sensible range.
  vae::write_scatter_svg(path, {2.0f}, {2.0f}, {}, "one", "x", "y");
  CHECK(well_formed(tg::read_file(path), why));
}

TEST_CASE("write_line_svg writes well-formed SVG with a legend of the series", "[plot]") {
  TempDir dir("plot");
  std::vector<std::pair<double, double>> train, test;
  for (int epoch = 1; epoch <= 20; ++epoch) {
    train.emplace_back(epoch, 200.0 / epoch + 100.0);
    test.emplace_back(epoch, 210.0 / epoch + 104.0);
  }
  test.emplace_back(21, NAN);  // skipped
  const std::string path = dir / "loss.svg";
  vae::write_line_svg(path, {{"train", train}, {"test & eval", test}}, "Negative ELBO", "epoch",
                      "nats / image");
  const std::string svg = tg::read_file(path);
  std::string why;
  const bool ok = well_formed(svg, why);
  INFO(why);
  CHECK(ok);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(contains(svg, ">train</text>"));
  CHECK(contains(svg, ">test &amp; eval</text>"));
  CHECK(contains(svg, ">epoch</text>"));
  CHECK(contains(svg, "<polyline"));
  CHECK(contains(svg, ">300</text>"));  // a y tick at a round number

  vae::write_line_svg(path, {}, "empty", "x", "y");  // no data still makes a valid, empty chart
  CHECK(well_formed(tg::read_file(path), why));
}

TEST_CASE("pca_2d recovers the dominant directions", "[pca]") {
  // Points with standard deviations 3, 2 and 0.3 along three orthonormal directions in 5-D.
  const int n = 2000, d = 5;
  const std::vector<double> u = {1 / std::sqrt(2.0), 1 / std::sqrt(2.0), 0, 0, 0};
  const std::vector<double> v = {0.5, -0.5, 0.5, 0.5, 0};
  const std::vector<double> w = {0, 0, 0, 0, 1};
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  std::vector<float> data;
  for (int i = 0; i < n; ++i) {
    const double a = 3 * normal(rng), b = 2 * normal(rng), c = 0.3 * normal(rng);
    for (int j = 0; j < d; ++j)
      data.push_back(static_cast<float>(10.0 + a * u[j] + b * v[j] + c * w[j]));
  }
  vae::Pca2d info;
  const std::vector<float> xy = vae::pca_2d(data, n, d, &info);
  REQUIRE(xy.size() == static_cast<std::size_t>(n) * 2);

  auto dot = [&](const std::vector<double>& p, const std::vector<double>& q) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += p[j] * q[j];
    return s;
  };
  CHECK(std::abs(dot(info.components[0], u)) > 0.999);
  CHECK(std::abs(dot(info.components[1], v)) > 0.999);
  CHECK(dot(info.components[0], info.components[1]) == Approx(0.0).margin(1e-12));
  CHECK(dot(info.components[0], info.components[0]) == Approx(1.0).epsilon(1e-12));
  CHECK(info.variance[0] == Approx(9.0).epsilon(0.1));
  CHECK(info.variance[1] == Approx(4.0).epsilon(0.1));
  CHECK(info.mean[2] == Approx(10.0).epsilon(0.01));

  // Independent check: C v = lambda v on the covariance computed here.
  std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) mean[j] += data[i * d + j] / double(n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k)
        cov[j * d + k] += (data[i * d + j] - mean[j]) * (data[i * d + k] - mean[k]) / (n - 1.0);
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < d; ++j) {
      double cv = 0;
      for (int k = 0; k < d; ++k) cv += cov[j * d + k] * info.components[c][k];
      CHECK(cv == Approx(info.variance[c] * info.components[c][j]).margin(1e-9));
    }
  // The projections are the centred points dotted with the components, and the x variance is PC1's.
  double var_x = 0;
  for (int i = 0; i < n; ++i) {
    double px = 0;
    for (int j = 0; j < d; ++j) px += (data[i * d + j] - info.mean[j]) * info.components[0][j];
    CHECK(xy[i * 2] == Approx(px).margin(1e-4));
    var_x += xy[i * 2] * double(xy[i * 2]) / (n - 1.0);
  }
  CHECK(var_x == Approx(info.variance[0]).epsilon(1e-5));
  // Signs are fixed, so the result is reproducible.
  CHECK(*std::max_element(info.components[0].begin(), info.components[0].end(),
                          [](double p, double q) { return std::abs(p) < std::abs(q); }) > 0);
  CHECK(vae::pca_2d(data, n, d) == xy);
}

TEST_CASE("pca_2d handles small and degenerate inputs", "[pca]") {
  // Already 2-D along the axes: the components are the axes, larger variance first.
  const std::vector<float> axes = {0, -1, 0, 1, 4, 0, -4, 0};
  vae::Pca2d info;
  const auto xy = vae::pca_2d(axes, 4, 2, &info);
  CHECK(info.components[0] == std::vector<double>{1.0, 0.0});
  CHECK(info.components[1] == std::vector<double>{0.0, 1.0});
  CHECK(xy == std::vector<float>{0, -1, 0, 1, 4, 0, -4, 0});
  // d = 1: y is 0.
  const auto line = vae::pca_2d({1, 2, 3}, 3, 1);
  CHECK(line == std::vector<float>{-1, 0, 0, 0, 1, 0});
  // One point, no points.
  CHECK(vae::pca_2d({5, 6, 7}, 1, 3) == std::vector<float>{0, 0});
  CHECK(vae::pca_2d({}, 0, 3).empty());
  CHECK_THROWS_AS(vae::pca_2d({1, 2, 3}, 2, 2), tg::ValueError);
  CHECK_THROWS_AS(vae::pca_2d({1, NAN}, 1, 2), tg::ValueError);
}

TEST_CASE("inverse_normal_cdf matches known quantiles", "[normal]") {
  CHECK(vae::inverse_normal_cdf(0.5) == 0.0);
  CHECK(vae::inverse_normal_cdf(0.975) == Approx(1.959963984540054).margin(1e-9));
  CHECK(vae::inverse_normal_cdf(0.025) == Approx(-1.959963984540054).margin(1e-9));
  CHECK(vae::inverse_normal_cdf(0.001) == Approx(-3.090232306167813).margin(1e-9));
  CHECK(vae::inverse_normal_cdf(0.8413447460685429) == Approx(1.0).margin(1e-9));  // Phi(1)
  CHECK(std::isinf(vae::inverse_normal_cdf(0.0)));
  CHECK(vae::inverse_normal_cdf(0.0) < 0);
  CHECK(vae::inverse_normal_cdf(1.0) > 0);
  CHECK_THROWS_AS(vae::inverse_normal_cdf(-0.1), tg::ValueError);
  CHECK_THROWS_AS(vae::inverse_normal_cdf(1.5), tg::ValueError);
  CHECK_THROWS_AS(vae::inverse_normal_cdf(NAN), tg::ValueError);
  // Round trip through Phi(x) = erfc(-x / sqrt 2) / 2, across both tails and the region boundaries.
  for (double p :
       {1e-300, 1e-100, 1e-10, 1e-5, 0.02, 0.02425, 0.03, 0.1, 0.3, 0.6, 0.9, 0.97575, 0.99}) {
    const double x = vae::inverse_normal_cdf(p);
    CHECK(0.5 * std::erfc(-x / std::sqrt(2.0)) == Approx(p).epsilon(1e-13));
    // Symmetry, where 1 - p is close enough to exact not to blur the comparison.
    if (p >= 1e-5) CHECK(vae::inverse_normal_cdf(1.0 - p) == Approx(-x).epsilon(1e-9));
  }
}
