// The VAE's data: IDX bytes to [0, 1] floats, binarization, permutations and batches.
#include "examples/vae/data.hpp"

#include <fmt/format.h>

#include "tapegrad/autograd/profile.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace vae {

Binarize parse_binarize(const std::string& s) {
  if (s == "none") return Binarize::none;
  if (s == "dynamic") return Binarize::dynamic;
  if (s == "static") return Binarize::fixed;
  throw tg::ValueError(fmt::format("--binarize: '{}' is not one of none, dynamic, static", s));
}

std::string binarize_name(Binarize b) {
  switch (b) {
    case Binarize::none:
      return "none";
    case Binarize::dynamic:
      return "dynamic";
    case Binarize::fixed:
      return "static";
  }
  return "none";
}

namespace {

Split to_split(Dataset&& d) {
  Split s;
  s.rows = static_cast<int>(d.images.rows);
  s.cols = static_cast<int>(d.images.cols);
  s.bytes = std::move(d.images.pixels);
  s.labels.assign(d.labels.begin(), d.labels.end());
  return s;
}

}  // namespace

// x <- [u < x] for every pixel, as 0 / 255 bytes. Floats a few thousand images at a time: a whole
// number of Philox blocks per chunk (4 pixels a block, whatever the image size, since chunks are
// multiples of 4 images), so the bits are those of one fill over the whole split.
void binarize(Split& s, tg::Generator& gen) {
  constexpr std::int64_t kChunk = 4096;  // images
  for (std::int64_t b = 0; b < s.size(); b += kChunk) {
    const std::int64_t e = std::min(s.size(), b + kChunk);
    tg::Tensor x = s.images(b, e);
    float* p = x.data<float>();
    gen.fill_bernoulli<float>(p, x.numel(), p, 1);  // reads p[i] before writing it
    std::uint8_t* out = s.bytes.data() + b * s.pixels();
    for (std::int64_t i = 0; i < x.numel(); ++i) out[i] = p[i] != 0 ? 255 : 0;
  }
}

namespace {

// bytes[i] / 255 into out[i], for n bytes.
void to_float(const std::uint8_t* bytes, std::int64_t n, float* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = bytes[i] / 255.0f;
}

}  // namespace

tg::Tensor Split::images(const std::vector<std::int64_t>& index) const {
  const std::int64_t n = size(), p = pixels();
  tg::Tensor x = tg::Tensor::empty({static_cast<std::int64_t>(index.size()), p});
  float* out = x.data<float>();
  for (std::size_t k = 0; k < index.size(); ++k) {
    const std::int64_t i = index[k];
    if (i < 0 || i >= n)
      throw tg::ValueError(fmt::format("Split::images: image {} of a split of {}", i, n));
    to_float(bytes.data() + i * p, p, out + static_cast<std::int64_t>(k) * p);
  }
  return x;
}

tg::Tensor Split::images(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end > size() || begin > end)
    throw tg::ValueError(
        fmt::format("Split::images: images [{}, {}) of a split of {}", begin, end, size()));
  tg::Tensor x = tg::Tensor::empty({end - begin, pixels()});
  to_float(bytes.data() + begin * pixels(), (end - begin) * pixels(), x.data<float>());
  return x;
}

Data load_data(const std::string& dir, Binarize binarize, std::uint64_t seed) {
  MnistData raw = load_mnist_dir(dir);
  Data d{to_split(std::move(raw.train)), to_split(std::move(raw.test)), dir};
  if (binarize == Binarize::fixed) {
    tg::Generator gen(seed ^ 0x5eed5eedULL);
    vae::binarize(d.train, gen);
    vae::binarize(d.test, gen);
  }
  return d;
}

void truncate(Split& s, std::int64_t n) {
  if (n <= 0 || n >= s.size()) return;
  s.bytes.resize(static_cast<std::size_t>(n * s.pixels()));
  s.bytes.shrink_to_fit();
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
  tg::Tensor x = s.images(index);
  if (binarize == Binarize::dynamic) {
    float* p = x.data<float>();
    gen.fill_bernoulli<float>(p, x.numel(), p, 1);  // x <- [u < x]
  }
  return x;
}

tg::Tensor one_hot(const Split& s, const std::vector<std::int64_t>& index, int classes) {
  tg::Tensor y = tg::Tensor::zeros({static_cast<std::int64_t>(index.size()), classes});
  float* p = y.data<float>();
  for (std::size_t i = 0; i < index.size(); ++i) p[i * classes + s.labels[index[i]]] = 1.0f;
  return y;
}

}  // namespace vae
