// Codes files for `vae encode` and `vae decode`. See codes.hpp.
#include "examples/vae/codes.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "examples/vae/train.hpp"
#include "tapegrad/nn/npy.hpp"
#include "tapegrad/tensor/error.hpp"

namespace vae {

namespace fs = std::filesystem;
using tg::Tensor;

std::string labels_path_for(const std::string& codes_path) {
  fs::path p(codes_path);
  p.replace_extension(".labels.npy");
  return p.string();
}

void write_codes(const std::string& path, Model& model, const Split& split) {
  if (split.size() == 0) throw tg::ValueError("encode: the split has no images");
  const Tensor codes = encode_all(model, split).to(tg::DType::f32);
  std::vector<double> labels(split.labels.begin(), split.labels.end());
  const std::string labels_path = labels_path_for(path);
  tg::nn::save_npy(labels_path, Tensor::from_values({split.size()}, labels));
  try {
    tg::nn::save_npy(path, codes);
  } catch (...) {
    std::error_code ec;
    fs::remove(labels_path, ec);
    throw;
  }
}

Tensor read_codes(const std::string& path, const Config& config, const std::string& checkpoint) {
  if (!fs::exists(path))
    throw tg::Error(fmt::format(
        "cannot open {}: no such file (write one with `vae encode --checkpoint F --out {}`)", path,
        path));
  const Tensor codes = tg::nn::load_npy(path);
  if (codes.dim() != 2)
    throw tg::Error(
        fmt::format("{}: codes must be a 2-D array (images, latent); this one has shape {}", path,
                    tg::shape_str(codes.shape())));
  if (codes.size(1) != config.latent)
    throw tg::Error(
        fmt::format("{}: the codes have {} columns, but {} decodes codes of {} (its latent size); "
                    "decode them with the checkpoint that encoded them",
                    path, codes.size(1), checkpoint, config.latent));
  if (codes.size(0) == 0)
    throw tg::Error(
        fmt::format("{}: the file holds no codes (shape {})", path, tg::shape_str(codes.shape())));
  const std::vector<double> v = codes.to_vector();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw tg::Error(fmt::format("{}: code {}, column {} is {}", path,
                                  i / static_cast<std::size_t>(config.latent),
                                  i % static_cast<std::size_t>(config.latent), v[i]));
  return codes.to(tg::DType::f32);
}

Tensor read_labels(const std::string& path, std::int64_t n, std::int64_t classes) {
  if (!fs::exists(path))
    throw tg::Error(fmt::format(
        "cannot open {}: no such file; a cvae decodes a code with its label (`vae encode` "
        "writes them beside the codes; or pass --labels FILE)",
        path));
  const Tensor labels = tg::nn::load_npy(path);
  if (labels.dim() != 1 || labels.size(0) != n)
    throw tg::Error(fmt::format("{}: expected {} labels (one per code), got an array of shape {}",
                                path, n, tg::shape_str(labels.shape())));
  Tensor y = Tensor::zeros({n, classes});
  const std::vector<double> v = labels.to_vector();
  for (std::int64_t i = 0; i < n; ++i) {
    if (v[i] != std::floor(v[i]) || v[i] < 0 || v[i] >= static_cast<double>(classes))
      throw tg::Error(
          fmt::format("{}: label {} is {}, not a class 0..{}", path, i, v[i], classes - 1));
    y.set({i, static_cast<std::int64_t>(v[i])}, 1.0);
  }
  return y;
}

}  // namespace vae
