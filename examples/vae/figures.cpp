// The figures of the VAE example.
#include "examples/vae/figures.hpp"

#include <fmt/format.h>

#include <cctype>
#include <sstream>

#include "examples/vae/labels.hpp"
#include "examples/vae/plot.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

namespace {

std::vector<const float*> rows_of(const Tensor& images) {
  std::vector<const float*> out;
  const float* p = images.data<float>();
  for (std::int64_t i = 0; i < images.size(0); ++i) out.push_back(p + i * images.size(1));
  return out;
}

Tensor labels_one_hot(const std::vector<int>& labels, std::int64_t classes) {
  Tensor y = Tensor::zeros({static_cast<std::int64_t>(labels.size()), classes});
  for (std::size_t i = 0; i < labels.size(); ++i)
    y.set({static_cast<std::int64_t>(i), labels[i]}, 1.0);
  return y;
}

Variable labels_for(const Model& model, const std::vector<int>& labels) {
  return model.config().conditional() ? Variable(labels_one_hot(labels, model.config().classes))
                                      : Variable();
}

}  // namespace

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
  }
  if (i < bytes.size()) {  // 1 or 2 bytes left: pad with '='
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void write_reconstructions(const std::string& path, Model& model, const Split& split, int n) {
  tg::NoGradGuard no_grad;
  model.eval();
  const std::int64_t count = std::min<std::int64_t>(n, split.size());
  std::vector<std::int64_t> idx;
  for (std::int64_t i = 0; i < count; ++i) idx.push_back(i);
  const Tensor x = split.images(idx);
  const Variable y = model.config().conditional()
                         ? Variable(one_hot(split, idx, static_cast<int>(model.config().classes)))
                         : Variable();
  const Tensor recon = model.decode_mean(model.encode(Variable(x), y).first, y);
  GridText text;
  text.rows = {"test", "recon"};
  write_png_grid(path, {rows_of(x), rows_of(recon)}, split.rows, split.cols, text);
}

void write_samples(const std::string& path, Model& model, int n, int digit, std::uint64_t seed,
                   const std::vector<std::string>& names_in) {
  tg::NoGradGuard no_grad;
  model.eval();
  const Config& cfg = model.config();
  const std::vector<std::string> names = names_in.empty() ? class_names("") : names_in;
  tg::Generator gen(seed);
  const Variable z(Tensor::randn({n, cfg.latent}, tg::DType::f32, &gen));
  // A cvae drawing every class gets one column per class, so each column is one class.
  const int per_row = cfg.conditional() && digit < 0 ? static_cast<int>(cfg.classes) : 8;
  std::vector<int> labels(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) labels[i] = digit >= 0 ? digit : i % static_cast<int>(cfg.classes);
  const Tensor images = model.decode_mean(z, labels_for(model, labels));
  std::vector<std::vector<const float*>> grid;
  const auto tiles = rows_of(images);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    if (i % per_row == 0) grid.emplace_back();
    grid.back().push_back(tiles[i]);
  }
  GridText text;
  if (cfg.conditional() && digit < 0)
    for (int k = 0; k < per_row; ++k) text.columns.push_back(short_name(names[k]));
  else if (cfg.conditional())
    text.title = fmt::format("samples of class {} ({}), z ~ N(0, I)", digit, names[digit]);
  else
    text.title = "samples, z ~ N(0, I)";
  write_png_grid(path, grid, static_cast<int>(cfg.rows), static_cast<int>(cfg.cols), text);
}

void write_decoded(const std::string& path, Model& model, const Tensor& codes,
                   const Tensor& labels) {
  tg::NoGradGuard no_grad;
  model.eval();
  const Config& cfg = model.config();
  const Tensor images =
      model.decode_mean(Variable(codes), labels.defined() ? Variable(labels) : Variable());
  std::vector<std::vector<const float*>> grid;
  GridText text;
  const auto tiles = rows_of(images);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    if (i % 10 == 0) {
      grid.emplace_back();
      text.captions.emplace_back();
    }
    grid.back().push_back(tiles[i]);
    text.captions.back().push_back(std::to_string(i));
  }
  write_png_grid(path, grid, static_cast<int>(cfg.rows), static_cast<int>(cfg.cols), text);
}

std::vector<std::pair<std::int64_t, std::int64_t>> default_pairs(const Split& split) {
  std::vector<std::int64_t> first(10, -1);
  for (std::int64_t i = 0; i < split.size(); ++i)
    if (first[split.labels[i]] < 0) first[split.labels[i]] = i;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  for (auto [a, b] : std::vector<std::pair<int, int>>{
           {0, 1}, {1, 7}, {2, 3}, {4, 9}, {5, 6}, {3, 8}, {6, 0}, {7, 2}})
    if (first[a] >= 0 && first[b] >= 0) pairs.emplace_back(first[a], first[b]);
  // A test set too small to hold both digits of any pair (--limit-test 1): the first image to the
  // last, so the picture is still drawn (an image to itself when there is only one).
  if (pairs.empty() && split.size() > 0) pairs.emplace_back(0, split.size() - 1);
  return pairs;
}

void write_interpolation(const std::string& path, Model& model, const Split& split,
                         const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs, int steps,
                         const std::vector<std::string>& names_in) {
  tg::NoGradGuard no_grad;
  model.eval();
  const Config& cfg = model.config();
  const std::vector<std::string> names = names_in.empty() ? class_names("") : names_in;
  GridText text;
  text.columns.push_back("image");
  for (int k = 0; k < steps; ++k) text.columns.push_back(std::to_string(k));
  text.columns.push_back("image");
  if (steps < 2) throw tg::ValueError(fmt::format("--steps must be at least 2, got {}", steps));
  std::vector<Tensor> keep;  // the tensors the tile pointers point into
  std::vector<std::vector<const float*>> rows;
  for (auto [from, to] : pairs) {
    for (auto i : {from, to})
      if (i < 0 || i >= split.size())
        throw tg::ValueError(
            fmt::format("interpolate: image index {} is out of range (the test set has "
                        "{} images: 0..{})",
                        i, split.size(), split.size() - 1));
    const std::vector<std::int64_t> idx{from, to};
    const Tensor x = split.images(idx);
    const Variable y = cfg.conditional()
                           ? Variable(one_hot(split, idx, static_cast<int>(cfg.classes)))
                           : Variable();
    const Tensor codes = model.encode(Variable(x), y).first.value();  // (2, latent)
    // z_t = (1 - t) z_from + t z_to; the cvae's label is blended the same way.
    const Tensor t = Tensor::linspace(0, 1, steps).reshape({steps, 1});
    const Tensor a = tg::slice(codes, 0, 0, 1), b = tg::slice(codes, 0, 1, 2);
    const Variable z(a + t * (b - a));
    Variable yt;
    if (y.defined()) {
      const Tensor ya = tg::slice(y.value(), 0, 0, 1), yb = tg::slice(y.value(), 0, 1, 2);
      yt = Variable(ya + t * (yb - ya));
    }
    const Tensor images = model.decode_mean(z, yt);
    keep.push_back(x);
    keep.push_back(images);
    std::vector<const float*> row{x.data<float>()};
    for (const float* p : rows_of(images)) row.push_back(p);
    row.push_back(x.data<float>() + cfg.input());
    rows.push_back(row);
    text.rows.push_back(fmt::format("#{} {} -> #{} {}", from,
                                    short_name(names[split.labels[from]], 5), to,
                                    short_name(names[split.labels[to]], 5)));
  }
  write_png_grid(path, rows, static_cast<int>(cfg.rows), static_cast<int>(cfg.cols), text);
}

void write_latent(const std::string& path, Model& model, const Split& split,
                  const std::string& title, const std::vector<std::string>& names) {
  const Tensor codes = encode_all(model, split);
  const int n = static_cast<int>(codes.size(0)), d = static_cast<int>(codes.size(1));
  const std::vector<double> v = codes.to_vector();
  std::vector<float> xs(n), ys(n);
  std::string xl = "z1", yl = "z2", full_title = title;
  if (d == 2) {
    for (int i = 0; i < n; ++i) {
      xs[i] = static_cast<float>(v[2 * i]);
      ys[i] = static_cast<float>(v[2 * i + 1]);
    }
  } else {
    Pca2d info;
    const auto p = pca_2d(std::vector<float>(v.begin(), v.end()), n, d, &info);
    for (int i = 0; i < n; ++i) {
      xs[i] = p[2 * i];
      ys[i] = p[2 * i + 1];
    }
    xl = fmt::format("PC1 ({:.0f}% of variance)", 100 * info.variance[0] / info.total_variance);
    yl = fmt::format("PC2 ({:.0f}% of variance)", 100 * info.variance[1] / info.total_variance);
    full_title += fmt::format(" (PCA of the {}-D codes)", d);
  }
  ScatterExtras extras;
  extras.class_names = names;
  write_scatter_svg(path, xs, ys, split.labels, full_title, xl, yl, extras);
}

void write_code_map(const std::string& path, Model& model, const Split& split, int n) {
  tg::NoGradGuard no_grad;
  model.eval();
  const Config& cfg = model.config();
  if (cfg.kind != ModelKind::sparse_ae)
    throw tg::ValueError("write_code_map: only the sparse AE's code lies in (0, 1)");
  Split first = split;
  truncate(first, n);
  const Tensor codes = encode_all(model, first).to(tg::DType::f32);  // (n, latent) in (0, 1)
  std::int64_t inactive = 0;
  for (double h : codes.to_vector()) inactive += h < kInactiveBelow;
  GridText text;
  text.title = fmt::format(
      "codes of {} test images (rows) x {} units: {:.0f}% below {}", codes.size(0), cfg.latent,
      100.0 * static_cast<double>(inactive) / static_cast<double>(codes.numel()), kInactiveBelow);
  const int scale = static_cast<int>(std::max<std::int64_t>(4, 320 / cfg.latent));
  write_png_grid(path, {{codes.data<float>()}}, static_cast<int>(codes.size(0)),
                 static_cast<int>(cfg.latent), text, scale, 2);
}

void write_loss(const std::string& path, const std::vector<EpochMetrics>& history,
                bool variational) {
  Series train{"train", {}}, test{"test", {}};
  for (const auto& m : history) {
    train.second.emplace_back(m.epoch, m.train_loss);
    test.second.emplace_back(m.epoch, m.test_loss);
  }
  write_line_svg(path, {train, test},
                 variational ? "negative ELBO per image"
                             : "reconstruction error per image (an autoencoder has no ELBO)",
                 "epoch", "nats");
}

void write_manifold(const std::string& path, Model& model, int n) {
  tg::NoGradGuard no_grad;
  model.eval();
  const Config& cfg = model.config();
  if (cfg.latent != 2)
    throw tg::ValueError(
        fmt::format("manifold: the model's latent space has {} dimensions; the manifold "
                    "picture needs a model trained with --latent 2",
                    cfg.latent));
  if (cfg.conditional())
    throw tg::ValueError("manifold: not defined for the cvae (use sample --digit)");
  if (n < 2) throw tg::ValueError(fmt::format("manifold: --n must be at least 2, got {}", n));
  // Quantiles of N(0, 1) at evenly spaced probabilities, so the grid covers the prior's mass
  // evenly.
  std::vector<double> q(n);
  for (int i = 0; i < n; ++i) q[i] = inverse_normal_cdf((i + 0.5) / n);
  std::vector<double> z;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) {
      z.push_back(q[c]);
      z.push_back(q[n - 1 - r]);  // z2 grows upwards, as on a plot
    }
  const Tensor images = model.decode_mean(Variable(Tensor::from_values({n * n, 2}, z)), Variable());
  // Labelled with the z values of every few columns (z1) and rows (z2).
  GridText text;
  const int every = std::max(1, n / 5);
  for (int c = 0; c < n; ++c)
    text.columns.push_back(c % every == 0 ? fmt::format("{:.2f}", q[c]) : "");
  for (int r = 0; r < n; ++r)
    text.rows.push_back(r % every == 0 ? fmt::format("{:.2f}", q[n - 1 - r]) : "");
  text.title = "z1 across, z2 up (quantiles of N(0, 1))";
  std::vector<std::vector<const float*>> grid(n);
  const auto tiles = rows_of(images);
  for (int i = 0; i < n * n; ++i) grid[i / n].push_back(tiles[i]);
  write_png_grid(path, grid, static_cast<int>(cfg.rows), static_cast<int>(cfg.cols), text, 1, 0);
}

std::string embed(const std::string& file, const std::string& mime, int x, int y, int w, int h) {
  return fmt::format(
      R"(<image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="xMinYMin meet" )"
      R"(href="data:{};base64,{}"/>)"
      "\n",
      x, y, w, h, mime, base64(tg::read_file(file)));
}

// "autoencoder vs VAE", "VAE vs conv VAE": the panels' names.
static std::string compare_title(const std::vector<ComparePanel>& panels) {
  std::string t;
  for (const auto& p : panels) t += (t.empty() ? "" : " vs ") + p.name;
  if (!t.empty()) t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
  return t;
}

void write_compare_figure(const std::string& path, const std::vector<ComparePanel>& panels) {
  constexpr int kCol = 560, kTop = 70;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"1340\" "
      "font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"20\" y=\"32\" font-size=\"22\">{}: the same budget</text>\n",
      kCol * static_cast<int>(panels.size()) + 20, compare_title(panels));
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const ComparePanel& p = panels[i];
    const int x = 20 + kCol * static_cast<int>(i);
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"18\" font-weight=\"bold\">{}: test recon {:.1f} + KL "
        "{:.1f} nats</text>\n",
        x, kTop, p.name, p.test_recon, p.test_kl);
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"14\">interpolations between test digits</text>\n", x,
        kTop + 28);
    svg += embed(p.interpolation_png, "image/png", x, kTop + 36, 520, 380);
    svg +=
        fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\">decoded samples z ~ N(0, I)</text>\n",
                    x, kTop + 440);
    svg += embed(p.samples_png, "image/png", x, kTop + 448, 400, 400);
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"14\">test codes, coloured by label</text>\n", x,
        kTop + 872);
    svg += embed(p.latent_svg, "image/svg+xml", x, kTop + 880, 520, 370);
  }
  svg += "</svg>\n";
  tg::write_file_atomic(path, svg);
}

}  // namespace vae
