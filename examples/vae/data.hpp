// The VAE's view of a data set: images kept as bytes and handed out as (n, pixels) f32 batches in
// [0, 1], labels, binarization (--binarize none|dynamic|static) and shuffled mini-batches.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "examples/vae/idx.hpp"
#include "tapegrad/tensor/random.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace vae {

// none: grey values as they are (PyTorch's example); dynamic: a fresh Bernoulli(x) draw for every
// batch (the research convention); static: one fixed draw made when the data is loaded.
enum class Binarize { none, dynamic, fixed };
Binarize parse_binarize(const std::string& s);  // "none" | "dynamic" | "static"
std::string binarize_name(Binarize b);

// The images stay bytes (a quarter of the memory of floats) and become floats one batch at a time.
struct Split {
  std::vector<std::uint8_t>
      bytes;                // n * rows * cols: grey values 0..255, or 0 / 255 once binarized
  std::vector<int> labels;  // n labels, 0..9
  int rows = 0, cols = 0;
  std::int64_t pixels() const { return static_cast<std::int64_t>(rows) * cols; }
  std::int64_t size() const {
    return pixels() > 0 ? static_cast<std::int64_t>(bytes.size()) / pixels() : 0;
  }
  // The images `index` as an (index.size(), rows * cols) f32 tensor in [0, 1] (byte / 255).
  tg::Tensor images(const std::vector<std::int64_t>& index) const;
  // Images [begin, end), the same way.
  tg::Tensor images(std::int64_t begin, std::int64_t end) const;
  tg::Tensor images() const { return images(0, size()); }
};

struct Data {
  Split train, test;
  std::string dir;
};

// Loads a folder with the four standard MNIST files; static binarization is applied here, with its
// own generator seeded from `seed`, so every model trained with the same seed sees the same bits.
Data load_data(const std::string& dir, Binarize binarize, std::uint64_t seed);

// Replaces every grey value x by a Bernoulli(x) draw (0 or 255), with the numbers of one fill from
// gen over the whole split.
void binarize(Split& s, tg::Generator& gen);

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
