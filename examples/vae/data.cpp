// The VAE's data: IDX bytes to [0, 1] floats, binarization, permutations and batches.
#include "examples/vae/data.hpp"

#include <fmt/format.h>

#include "autograd/profile.hpp"
#include "tensor/ops.hpp"

namespace vae {

Binarize parse_binarize(const std::string& s) {
  if (s == "none") return Binarize::none;
  if (s == "dynamic") return Binarize::dynamic;
  if (s == "static") return Binarize::fixed;
  throw tg::ValueError(fmt::format("--binarize: '{}' is not one of none, dynamic, static", s));
}

std::string binarize_name(Binarize b) {
  switch (b) {
    case Binarize::none: return "none";
    case Binarize::dynamic: return "dynamic";
    case Binarize::fixed: return "static";
  }
  return "none";
}

namespace {

Split to_split(const Dataset& d) {
  Split s;
  s.rows = static_cast<int>(d.images.rows);
  s.cols = static_cast<int>(d.images.cols);
  s.images = tg::Tensor::empty({d.images.n, d.images.rows * d.images.cols});
  float* p = s.images.data<float>();
  for (std::size_t i = 0; i < d.images.pixels.size(); ++i) p[i] = d.images.pixels[i] / 255.0f;
  s.labels.assign(d.labels.begin(), d.labels.end());
  return s;
}

void binarize_in_place(tg::Tensor& images, tg::Generator& gen) {
  float* p = images.data<float>();
  gen.fill_bernoulli<float>(p, images.numel(), p, 1);  // x <- [u < x]: reads p[i] before writing it
}

}  // namespace

Data load_data(const std::string& dir, Binarize binarize, std::uint64_t seed) {
  const MnistData raw = load_mnist_dir(dir);
  Data d{to_split(raw.train), to_split(raw.test), dir};
  if (binarize == Binarize::fixed) {
    tg::Generator gen(seed ^ 0x5eed5eedULL);
    binarize_in_place(d.train.images, gen);
    binarize_in_place(d.test.images, gen);
  }
  return d;
}

void truncate(Split& s, std::int64_t n) {
  if (n <= 0 || n >= s.size()) return;
  s.images = tg::slice(s.images, 0, 0, n);
  s.labels.resize(static_cast<std::size_t>(n));
}

std::vector<std::int64_t> permutation(std::int64_t n, tg::Generator& gen) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) idx[i] = i;
  std::vector<double> u(static_cast<std::size_t>(n));
  gen.fill_uniform<double>(u.data(), n);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(u[i] * static_cast<double>(i + 1));
    std::swap(idx[i], idx[std::min(j, i)]);
  }
  return idx;
}

tg::Tensor batch_images(const Split& s, const std::vector<std::int64_t>& index, Binarize binarize,
                        tg::Generator& gen) {
  tg::profile::Region region("data");
  tg::Tensor x = tg::index_select(s.images, 0, index);
  if (binarize == Binarize::dynamic) binarize_in_place(x, gen);
  return x;
}

tg::Tensor one_hot(const Split& s, const std::vector<std::int64_t>& index, int classes) {
  tg::Tensor y = tg::Tensor::zeros({static_cast<std::int64_t>(index.size()), classes});
  float* p = y.data<float>();
  for (std::size_t i = 0; i < index.size(); ++i) p[i * classes + s.labels[index[i]]] = 1.0f;
  return y;
}

}  // namespace vae
