// Reading MNIST's IDX files (http://yann.lecun.com/exdb/mnist/), gzipped or raw, with every header
// field and length checked: a bad file is a tg::FormatError naming the file and the byte offset,
// never a crash or silently wrong data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vae {

// n images of rows x cols unsigned bytes (0 = background), row-major, image after image.
struct Images {
  std::int64_t n = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // n * rows * cols bytes
};

// An IDX file of type 0x08 (unsigned byte) with 3 dimensions (count, rows, cols).
Images read_idx_images(const std::string& path);
// An IDX file of type 0x08 with 1 dimension (count); every label is 0..9.
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

struct Dataset {
  Images images;
  std::vector<std::uint8_t> labels;  // labels[i] belongs to image i
};
struct MnistData {
  Dataset train, test;
};

// Loads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], preferring .gz when both exist. The
// image and label counts of each set must match, and both sets must have the same image size.
MnistData load_mnist_dir(const std::string& dir);

// The 10,000-digit subset embedded in the repository (examples/vae/data/mnist-subset), found from
// the program's own place: <prefix>/share/tapegrad/mnist-subset once installed,
// <build>/share/tapegrad/... (a link to the source folder) in the build tree.
std::string default_data_dir();

}  // namespace vae
