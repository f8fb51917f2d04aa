// The VAE's view of a data set: images as an (n, pixels) f32 tensor in [0, 1], labels, binarization
// (--binarize none|dynamic|static) and shuffled mini-batches.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "examples/vae/idx.hpp"
#include "tensor/random.hpp"
#include "tensor/tensor.hpp"

namespace vae {

// none: grey values as they are (PyTorch's example); dynamic: a fresh Bernoulli(x) draw for every
// batch (the research convention); static: one fixed draw made when the data is loaded.
enum class Binarize { none, dynamic, fixed };
Binarize parse_binarize(const std::string& s);  // "none" | "dynamic" | "static"
std::string binarize_name(Binarize b);

struct Split {
  tg::Tensor images;          // (n, rows * cols), f32 in [0, 1]
  std::vector<int> labels;    // n labels, 0..9
  int rows = 0, cols = 0;
  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
  std::int64_t pixels() const { return static_cast<std::int64_t>(rows) * cols; }
};

struct Data {
  Split train, test;
  std::string dir;
};

// Loads a folder with the four standard MNIST files; static binarization is applied here, with its
// own generator seeded from `seed`, so every model trained with the same seed sees the same bits.
Data load_data(const std::string& dir, Binarize binarize, std::uint64_t seed);

// Keeps the first n images of a split (for quick runs and tests); n <= 0 keeps all.
void truncate(Split& s, std::int64_t n);

// A random permutation of 0..n-1 (Fisher-Yates on the generator's uniforms).
std::vector<std::int64_t> permutation(std::int64_t n, tg::Generator& gen);

// The batch of rows `index`, binarized by a fresh draw when binarize == dynamic.
tg::Tensor batch_images(const Split& s, const std::vector<std::int64_t>& index, Binarize binarize,
                        tg::Generator& gen);
// One-hot labels, (index.size(), classes).
tg::Tensor one_hot(const Split& s, const std::vector<std::int64_t>& index, int classes = 10);

}  // namespace vae
