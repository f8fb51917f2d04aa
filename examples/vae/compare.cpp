// `vae compare`'s pictures and numbers. See compare.hpp.
#include "examples/vae/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "examples/vae/figures.hpp"
#include "examples/vae/labels.hpp"
#include "examples/vae/plot.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

namespace {

std::string path_in(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

// A Gaussian N(mean, cov) fitted to n points of dimension d, with the Cholesky factor for sampling.
struct Gaussian {
  std::int64_t d = 0;
  std::vector<double> mean, cov, chol;  // d, d x d, d x d (lower)
};

Gaussian fit_gaussian(const std::vector<double>& x, std::int64_t n, std::int64_t d) {
  Gaussian g;
  g.d = d;
  g.mean.assign(d, 0);
  g.cov.assign(d * d, 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) g.mean[j] += x[i * d + j] / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j)
      for (std::int64_t k = 0; k < d; ++k)
        g.cov[j * d + k] +=
            (x[i * d + j] - g.mean[j]) * (x[i * d + k] - g.mean[k]) / static_cast<double>(n - 1);
  // Cholesky, with a little jitter on the diagonal for codes that use fewer than d directions.
  double trace = 0;
  for (std::int64_t j = 0; j < d; ++j) trace += g.cov[j * d + j];
  std::vector<double> a = g.cov;
  for (std::int64_t j = 0; j < d; ++j)
    a[j * d + j] += 1e-6 * trace / static_cast<double>(d) + 1e-12;
  g.chol.assign(d * d, 0);
  for (std::int64_t j = 0; j < d; ++j) {
    for (std::int64_t k = 0; k <= j; ++k) {
      double s = a[j * d + k];
      for (std::int64_t m = 0; m < k; ++m) s -= g.chol[j * d + m] * g.chol[k * d + m];
      g.chol[j * d + k] = j == k ? std::sqrt(std::max(s, 1e-300)) : s / g.chol[k * d + k];
    }
  }
  return g;
}

Tensor sample_gaussian(const Gaussian& g, std::int64_t n, tg::Generator& gen) {
  const std::vector<double> eps = Tensor::randn({n, g.d}, tg::DType::f64, &gen).to_vector();
  std::vector<double> z(n * g.d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < g.d; ++j) {
      double v = g.mean[j];
      for (std::int64_t k = 0; k <= j; ++k) v += g.chol[j * g.d + k] * eps[i * g.d + k];
      z[i * g.d + j] = v;
    }
  return Tensor::from_values({n, g.d}, z);
}

// The plane the pictures use: the codes themselves at latent 2; otherwise the first two principal
// components of the model's codes, through their mean. p = U^T (z - c).
struct Plane {
  std::int64_t d = 2;
  std::vector<double> c;
  std::array<std::vector<double>, 2> u;
  std::string xlabel = "z1", ylabel = "z2";
  std::pair<double, double> project(const double* z) const {
    double a = 0, b = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      a += u[0][j] * (z[j] - c[j]);
      b += u[1][j] * (z[j] - c[j]);
    }
    return {a, b};
  }
};

Plane plane_of(const std::vector<double>& codes, std::int64_t n, std::int64_t d) {
  Plane p;
  p.d = d;
  p.c.assign(d, 0);
  if (d == 2) {
    p.u = {std::vector<double>{1, 0}, std::vector<double>{0, 1}};
    return p;
  }
  Pca2d info;
  pca_2d(std::vector<float>(codes.begin(), codes.end()), static_cast<int>(n), static_cast<int>(d),
         &info);
  p.c = info.mean;
  p.u = info.components;
  p.xlabel = fmt::format("PC1 of the codes ({:.0f}% of variance)",
                         100 * info.variance[0] / info.total_variance);
  p.ylabel = fmt::format("PC2 ({:.0f}% of variance)", 100 * info.variance[1] / info.total_variance);
  return p;
}

// U^T S U for a d x d covariance S: the Gaussian's shadow on the plane.
std::array<double, 3> project_cov(const Plane& p, const std::vector<double>& s) {
  std::array<double, 3> out{};  // xx, xy, yy
  for (std::int64_t j = 0; j < p.d; ++j)
    for (std::int64_t k = 0; k < p.d; ++k) {
      const double v = s[j * p.d + k];
      out[0] += p.u[0][j] * v * p.u[0][k];
      out[1] += p.u[0][j] * v * p.u[1][k];
      out[2] += p.u[1][j] * v * p.u[1][k];
    }
  return out;
}

std::vector<const float*> tiles(const Tensor& images, std::int64_t count) {
  std::vector<const float*> out;
  const float* p = images.data<float>();
  for (std::int64_t i = 0; i < std::min(count, images.size(0)); ++i)
    out.push_back(p + i * images.size(1));
  return out;
}

std::string pct(double share, double se) {
  return fmt::format("{:.1f}% +- {:.1f}%", 100 * share, 100 * se);
}

std::string score_line(const SamplerScore& s) {
  return fmt::format("{} clear (p >= 0.9), class entropy {:.2f} bits",
                     pct(s.confident, s.confident_se), s.entropy_bits);
}

// 64 decodings in an 8 x 8 grid, each captioned with the classifier's class and probability.
void write_scored_samples(const std::string& path, const Tensor& images, const SamplerScore& s,
                          const std::vector<std::string>& names, const std::string& title, int rows,
                          int cols) {
  GridText text;
  text.title = title;
  std::vector<std::vector<const float*>> grid;
  const auto t = tiles(images, 64);
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i % 8 == 0) {
      grid.emplace_back();
      text.captions.emplace_back();
    }
    grid.back().push_back(t[i]);
    text.captions.back().push_back(
        fmt::format("{} {:.2f}", short_name(names[s.predicted[i]], 5), s.confidence[i]));
  }
  write_png_grid(path, grid, rows, cols, text, 2, 2);
}

std::string xml_text(const std::string& s) {
  std::string out;
  for (char c : s)
    out += c == '<'   ? std::string("&lt;")
           : c == '>' ? std::string("&gt;")
           : c == '&' ? std::string("&amp;")
                      : std::string(1, c);
  return out;
}

}  // namespace

std::vector<std::pair<std::int64_t, std::int64_t>> far_pairs(
    const Split& split, const std::vector<const Tensor*>& codes) {
  std::vector<std::vector<std::int64_t>> by_class(10);
  for (std::int64_t i = 0; i < split.size(); ++i)
    if (by_class[split.labels[i]].size() < 100) by_class[split.labels[i]].push_back(i);
  std::vector<std::vector<double>> v;
  std::vector<double> spread;
  for (const Tensor* c : codes) {
    v.push_back(c->to_vector());
    const std::int64_t n = c->size(0), d = c->size(1);
    std::vector<double> mean(d, 0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < d; ++j) mean[j] += v.back()[i * d + j] / static_cast<double>(n);
    double ss = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < d; ++j) ss += std::pow(v.back()[i * d + j] - mean[j], 2);
    spread.push_back(std::sqrt(ss / static_cast<double>(n)) + 1e-12);
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  for (auto [a, b] : std::vector<std::pair<int, int>>{
           {0, 1}, {1, 7}, {2, 3}, {4, 9}, {5, 6}, {3, 8}, {6, 0}, {7, 2}}) {
    double best = -1;
    std::pair<std::int64_t, std::int64_t> pick{-1, -1};
    for (auto i : by_class[a])
      for (auto j : by_class[b]) {
        double score = 0;
        for (std::size_t m = 0; m < codes.size(); ++m) {
          const std::int64_t d = codes[m]->size(1);
          double dist = 0;
          for (std::int64_t k = 0; k < d; ++k)
            dist += std::pow(v[m][i * d + k] - v[m][j * d + k], 2);
          score += std::sqrt(dist) / spread[m];
        }
        if (score > best) {
          best = score;
          pick = {i, j};
        }
      }
    if (pick.first >= 0) pairs.push_back(pick);
  }
  return pairs;
}

CompareResult compare_models(const CompareModel& ae_in, const CompareModel& vae_in,
                             const Data& data, Classifier& clf, const CompareOptions& o) {
  tg::NoGradGuard no_grad;
  const Split& test = data.test;
  const std::vector<std::string>& names = o.class_names;
  Model* models[2] = {ae_in.model, vae_in.model};
  const char* tags[2] = {"ae", "vae"};
  const char* titles[2] = {"autoencoder", "VAE"};
  const Config& cfg = models[0]->config();
  const std::int64_t d = cfg.latent, n = test.size();
  const int rows = static_cast<int>(cfg.rows), cols = static_cast<int>(cfg.cols);
  if (n < 10)
    throw tg::ValueError(
        fmt::format("compare: needs at least 10 test images to fit a Gaussian to the codes, got {} "
                    "(raise --limit-test)",
                    n));
  if (o.grid < 2)
    throw tg::ValueError(
        fmt::format("compare: the latent grid needs at least 2 points a side, got {}", o.grid));
  CompareResult result;
  result.latent = d;
  result.rows.push_back({"data", "test images", score_images(clf, test.images())});

  Tensor codes[2];
  std::vector<double> cv[2];
  Gaussian fitted[2];
  Plane plane[2];
  for (int m = 0; m < 2; ++m) {
    models[m]->eval();
    codes[m] = encode_all(*models[m], test).to(tg::DType::f32);
    cv[m] = codes[m].to_vector();
    fitted[m] = fit_gaussian(cv[m], n, d);
    plane[m] = plane_of(cv[m], n, d);
  }
  // (b)'s box: at latent 2 the same for both models, wide enough for both models' codes (their 1st
  // to 99th percentiles); wider latents get each model's own plane and box.
  auto extent = [&](int m) {
    std::vector<double> a;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto [x, y] = plane[m].project(&cv[m][i * d]);
      a.push_back(std::abs(x));
      a.push_back(std::abs(y));
    }
    std::sort(a.begin(), a.end());
    return a.empty()
               ? 3.0
               : std::max(3.0,
                          a[static_cast<std::size_t>(0.99 * static_cast<double>(a.size() - 1))]);
  };
  const double shared_box = std::max(extent(0), extent(1));
  const auto pairs = far_pairs(test, {&codes[0], &codes[1]});
  if (pairs.empty())
    throw tg::ValueError(
        "compare: no two of the interpolation pairs' classes (0-1, 1-7, 2-3, 4-9, 5-6, 3-8, 6-0, "
        "7-2) "
        "are both among the test images (raise --limit-test)");

  struct Pictures {
    std::string latent, grid, prior, fitted, interpolation;
    SamplerScore s_grid, s_prior, s_fitted, s_interp;
    double box = 0;
  } pic[2];
  for (int m = 0; m < 2; ++m) {
    Model& model = *models[m];
    const std::string tag = fmt::format("{}-latent{}", tags[m], d);
    Pictures& p = pic[m];
    // (a) the latent space, with N(0, I) and the fitted Gaussian: 1 and 2 standard deviations.
    {
      std::vector<float> xs(n), ys(n);
      for (std::int64_t i = 0; i < n; ++i) {
        const auto [x, y] = plane[m].project(&cv[m][i * d]);
        xs[i] = static_cast<float>(x);
        ys[i] = static_cast<float>(y);
      }
      const std::vector<double> zero(d, 0.0);
      const auto [ox, oy] = plane[m].project(zero.data());
      std::vector<double> eye(d * d, 0.0);
      for (std::int64_t j = 0; j < d; ++j) eye[j * d + j] = 1;
      const auto pi = project_cov(plane[m], eye), pf = project_cov(plane[m], fitted[m].cov);
      const auto [fx, fy] = plane[m].project(fitted[m].mean.data());
      ScatterExtras extras;
      extras.class_names = names;
      extras.ellipses.push_back(
          {ox, oy, pi[0], pi[1], pi[2], 1, "N(0, I): 1 and 2 sd", "#000000", false});
      extras.ellipses.push_back({ox, oy, pi[0], pi[1], pi[2], 2, "", "#000000", false});
      extras.ellipses.push_back(
          {fx, fy, pf[0], pf[1], pf[2], 1, "fitted Gaussian", "#d62728", true});
      extras.ellipses.push_back({fx, fy, pf[0], pf[1], pf[2], 2, "", "#d62728", true});
      p.latent = path_in(o.dir, tag + "-latent.svg");
      write_scatter_svg(
          p.latent, xs, ys, test.labels,
          fmt::format("{}, latent {}: test codes{}", titles[m], d, d == 2 ? "" : " (PCA)"),
          plane[m].xlabel, plane[m].ylabel, extras);
    }
    // (b) decodings over the box, z1 left to right, z2 bottom to top.
    {
      p.box = d == 2 ? shared_box : extent(m);
      const int g = o.grid;
      std::vector<double> z;
      std::vector<double> ticks(g);
      for (int i = 0; i < g; ++i) ticks[i] = -p.box + 2 * p.box * i / (g - 1);
      for (int r = 0; r < g; ++r)
        for (int c = 0; c < g; ++c)
          for (std::int64_t j = 0; j < d; ++j)
            z.push_back(plane[m].c[j] + ticks[c] * plane[m].u[0][j] +
                        ticks[g - 1 - r] * plane[m].u[1][j]);
      const Tensor images =
          model.decode_mean(Variable(Tensor::from_values({g * g, d}, z)), Variable());
      p.s_grid = score_images(clf, images);
      GridText text;
      text.title =
          d == 2 ? fmt::format("{}: decodings of z over [-{:.1f}, {:.1f}]^2 (z1 across, z2 up)",
                               titles[m], p.box, p.box)
                 : fmt::format(
                       "{}: decodings over the codes' PC1-PC2 plane, +-{:.1f} (PC1 across, PC2 up)",
                       titles[m], p.box);
      for (int c = 0; c < g; ++c)
        text.columns.push_back(c % 3 == 0 ? fmt::format("{:.1f}", ticks[c]) : "");
      for (int r = 0; r < g; ++r)
        text.rows.push_back(r % 3 == 0 ? fmt::format("{:.1f}", ticks[g - 1 - r]) : "");
      std::vector<std::vector<const float*>> grid(g);
      const auto t = tiles(images, g * g);
      for (int i = 0; i < g * g; ++i) grid[i / g].push_back(t[i]);
      p.grid = path_in(o.dir, tag + "-grid.png");
      write_png_grid(p.grid, grid, rows, cols, text, 1, 1);
    }
    // (c) samples from N(0, I) and from the Gaussian fitted to the codes.
    {
      tg::Generator gen(o.seed + 17);
      const Tensor prior_z = Tensor::randn({o.samples, d}, tg::DType::f32, &gen);
      const Tensor prior_images = model.decode_mean(Variable(prior_z), Variable());
      p.s_prior = score_images(clf, prior_images);
      p.prior = path_in(o.dir, tag + "-samples-prior.png");
      write_scored_samples(
          p.prior, prior_images, p.s_prior, names,
          fmt::format("{}: z ~ N(0, I)   (caption: classifier's class, probability)", titles[m]),
          rows, cols);
      const Tensor fit_z = sample_gaussian(fitted[m], o.samples, gen).to(tg::DType::f32);
      const Tensor fit_images = model.decode_mean(Variable(fit_z), Variable());
      p.s_fitted = score_images(clf, fit_images);
      p.fitted = path_in(o.dir, tag + "-samples-fitted.png");
      write_scored_samples(p.fitted, fit_images, p.s_fitted, names,
                           fmt::format("{}: z ~ a Gaussian fitted to its test codes", titles[m]),
                           rows, cols);
    }
    // (d) interpolations: the two test images at the ends, 10 decodings between their codes.
    {
      constexpr int kSteps = 10;
      std::vector<Tensor> keep;
      std::vector<std::vector<const float*>> grid;
      GridText text;
      text.title = fmt::format(
          "{}: the straight line between two far-apart codes of different classes", titles[m]);
      text.columns.push_back("image");
      for (int k = 0; k < kSteps; ++k)
        text.columns.push_back(fmt::format("t={:.2g}", k / (kSteps - 1.0)));
      text.columns.push_back("image");
      std::vector<Tensor> all;
      for (auto [a, b] : pairs) {
        const Tensor za = tg::slice(codes[m], 0, a, a + 1), zb = tg::slice(codes[m], 0, b, b + 1);
        const Tensor t = Tensor::linspace(0, 1, kSteps).reshape({kSteps, 1});
        const Tensor images = model.decode_mean(Variable(za + t * (zb - za)), Variable());
        const Tensor ends = test.images(std::vector<std::int64_t>{a, b});
        keep.push_back(images);
        keep.push_back(ends);
        all.push_back(images);
        std::vector<const float*> row{ends.data<float>()};
        for (const float* q : tiles(images, kSteps)) row.push_back(q);
        row.push_back(ends.data<float>() + ends.size(1));
        grid.push_back(row);
        text.rows.push_back(fmt::format("{} -> {}", short_name(names[test.labels[a]], 5),
                                        short_name(names[test.labels[b]], 5)));
      }
      p.s_interp = score_images(clf, tg::concat(all, 0));
      p.interpolation = path_in(o.dir, tag + "-interpolation.png");
      write_png_grid(p.interpolation, grid, rows, cols, text, 2, 2);
    }
    result.rows.push_back({tags[m], "N(0, I)", p.s_prior});
    result.rows.push_back({tags[m], "fitted Gaussian", p.s_fitted});
    result.rows.push_back({tags[m], "latent grid", p.s_grid});
    result.rows.push_back({tags[m], "interpolations", p.s_interp});
  }

  // One SVG with everything: a column per model.
  constexpr int kCol = 760;
  const CompareModel* in[2] = {&ae_in, &vae_in};
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="2400" font-family="DejaVu Sans, Arial, sans-serif">)"
      "\n"
      R"(<rect width="100%" height="100%" fill="white"/>)"
      "\n"
      R"(<text x="20" y="34" font-size="22">Autoencoder vs VAE at latent {}: the same layers, data and epochs</text>)"
      "\n"
      R"(<text x="20" y="60" font-size="14">Every set of decodings is scored by an MLP classifier trained on the training images; the test images themselves: {}</text>)"
      "\n",
      2 * kCol + 20, d, xml_text(score_line(result.rows[0].score)));
  for (int m = 0; m < 2; ++m) {
    const Pictures& p = pic[m];
    const int x = 20 + kCol * m;
    const EpochMetrics& last = in[m]->history.back();
    const std::string loss =
        m == 0 ? fmt::format("test reconstruction {:.1f} nats (no bound on -log p(x))",
                             last.test_recon)
               : fmt::format("test negative ELBO {:.1f} = recon {:.1f} + KL {:.1f} nats",
                             last.test_loss, last.test_recon, last.test_kl);
    int y = 100;
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="18" font-weight="bold">{}: {}</text>)"
                       "\n",
                       x, y, titles[m], xml_text(loss));
    y += 14;
    svg += fmt::format(
        R"(<text x="{}" y="{}" font-size="14">(a) test codes, with N(0, I) and the Gaussian fitted to them</text>)"
        "\n",
        x, y + 12);
    svg += embed(p.latent, "image/svg+xml", x, y + 20, 720, 480);
    y += 520;
    svg += fmt::format(
        R"(<text x="{}" y="{}" font-size="14">(b) decodings over a grid of codes: {}</text>)"
        "\n",
        x, y + 12, xml_text(score_line(p.s_grid)));
    svg += embed(p.grid, "image/png", x, y + 20, 520, 520);
    y += 560;
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="14">(c) left, z ~ N(0, I): {}</text>)"
                       "\n",
                       x, y + 12, xml_text(score_line(p.s_prior)));
    svg += fmt::format(
        R"(<text x="{}" y="{}" font-size="14">right, z ~ the fitted Gaussian: {}</text>)"
        "\n",
        x, y + 30, xml_text(score_line(p.s_fitted)));
    svg += embed(p.prior, "image/png", x, y + 38, 360, 460);
    svg += embed(p.fitted, "image/png", x + 370, y + 38, 360, 460);
    y += 520;
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="14">(d) interpolations: {}</text>)"
                       "\n",
                       x, y + 12, xml_text(score_line(p.s_interp)));
    svg += embed(p.interpolation, "image/png", x, y + 20, 720, 560);
  }
  svg += "</svg>\n";
  result.figure = path_in(o.dir, fmt::format("compare-latent{}.svg", d));
  tg::write_file_atomic(result.figure, svg);
  return result;
}

std::string compare_json(const ClassifierReport& clf, const std::vector<CompareResult>& results) {
  nlohmann::json j;
  j["classifier"] = {
      {"epochs", clf.epochs}, {"test_accuracy", clf.test_accuracy}, {"threshold", 0.9}};
  for (const auto& r : results)
    for (const auto& row : r.rows)
      j["rows"].push_back({{"latent", r.latent},
                           {"model", row.model},
                           {"sampler", row.sampler},
                           {"n", row.score.n},
                           {"clear", row.score.confident},
                           {"clear_se", row.score.confident_se},
                           {"class_entropy_bits", row.score.entropy_bits},
                           {"histogram", row.score.histogram}});
  return j.dump(1) + "\n";
}

}  // namespace vae
