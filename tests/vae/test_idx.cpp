// Tests for the IDX reader: the embedded MNIST subset loads with the documented counts, and every
// kind of bad file (written to a temporary folder here) is an error naming the file and the byte
// offset.
#include <zlib.h>

#include <array>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "examples/vae/idx.hpp"
#include "support.hpp"
#include "tapegrad/tensor/error.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

using tgtest::contains;
using tgtest::TempDir;
using tgtest::write_bytes;

Bytes gzip(const Bytes& in) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, in.size()));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_be32(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
}

// An images file: n images of rows x cols, pixel k of the file holding k % 251.
Bytes images_idx(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
  Bytes b{0, 0, 0x08, 3};
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (std::uint64_t k = 0; k < std::uint64_t{n} * rows * cols; ++k)
    b.push_back(static_cast<std::uint8_t>(k % 251));
  return b;
}

Bytes labels_idx(const Bytes& labels) {
  Bytes b{0, 0, 0x08, 1};
  put_be32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

tg::FormatError format_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const tg::FormatError& e) {
    return e;
  }
  throw std::runtime_error("expected tg::FormatError, but nothing was thrown");
}

// The message names the file and the offset ("<file>: byte <offset>: ...") and says what it
// expected.
void check_message(const tg::FormatError& e, const std::string& file, std::uint64_t offset,
                   const std::string& part) {
  const std::string msg = e.what();
  INFO(msg);
  CHECK(e.file == file);
  CHECK(e.offset == offset);
  CHECK(msg.rfind(file + ": byte " + std::to_string(offset) + ": ", 0) == 0);
  CHECK(contains(msg, part));
}

std::array<int, 10> histogram(const Bytes& labels) {
  std::array<int, 10> h{};
  for (auto l : labels) h.at(l) += 1;
  return h;
}

}  // namespace

TEST_CASE("the embedded MNIST subset loads with the documented counts", "[idx]") {
  const vae::MnistData data = vae::load_mnist_dir(vae::default_data_dir());
  CHECK(data.train.images.n == 9000);
  CHECK(data.test.images.n == 1000);
  for (const auto* set : {&data.train, &data.test}) {
    CHECK(set->images.rows == 28);
    CHECK(set->images.cols == 28);
    CHECK(set->images.pixels.size() == static_cast<std::size_t>(set->images.n) * 28 * 28);
    CHECK(set->labels.size() == static_cast<std::size_t>(set->images.n));
    // Real digits: black background, saturated strokes, mean intensity near MNIST's 0.13.
    double sum = 0;
    std::uint8_t hi = 0;
    for (auto p : set->images.pixels) {
      sum += p;
      hi = std::max(hi, p);
    }
    const double mean = sum / 255.0 / static_cast<double>(set->images.pixels.size());
    CHECK(hi == 255);
    CHECK(mean > 0.10);
    CHECK(mean < 0.16);
    // Shuffled, not sorted by class.
    CHECK_FALSE(std::is_sorted(set->labels.begin(), set->labels.end()));
  }
  // The table in examples/vae/data/mnist-subset/README.md.
  CHECK(histogram(data.train.labels) ==
        std::array<int, 10>{901, 1014, 892, 929, 882, 777, 912, 963, 850, 880});
  CHECK(histogram(data.test.labels) ==
        std::array<int, 10>{100, 113, 99, 103, 98, 86, 102, 107, 94, 98});
}

TEST_CASE("read_idx_images reads gzipped and raw files alike, detected by content", "[idx]") {
  TempDir dir("idx");
  const Bytes raw = images_idx(3, 5, 4);
  write_bytes(dir / "raw.idx", raw);
  write_bytes(dir / "zipped.idx", gzip(raw));  // gzip without the .gz extension
  write_bytes(dir / "plain.gz", raw);          // and a raw file with it
  for (const char* name : {"raw.idx", "zipped.idx", "plain.gz"}) {
    const vae::Images im = vae::read_idx_images(dir / name);
    CHECK(im.n == 3);
    CHECK(im.rows == 5);
    CHECK(im.cols == 4);
    CHECK(im.pixels == Bytes(raw.begin() + 16, raw.end()));
  }
  // Concatenated gzip members are one valid file (what `cat a.gz b.gz` makes).
  const Bytes labels = labels_idx({3, 1, 4, 1, 5, 9, 2, 6});
  Bytes two = gzip(Bytes(labels.begin(), labels.begin() + 5));
  const Bytes rest = gzip(Bytes(labels.begin() + 5, labels.end()));
  two.insert(two.end(), rest.begin(), rest.end());
  write_bytes(dir / "two-members.gz", two);
  CHECK(vae::read_idx_labels(dir / "two-members.gz") == Bytes{3, 1, 4, 1, 5, 9, 2, 6});
  // A zero-image file is well formed.
  write_bytes(dir / "empty.idx", images_idx(0, 28, 28));
  CHECK(vae::read_idx_images(dir / "empty.idx").n == 0);
}

TEST_CASE("read_idx rejects bad headers with the file and the byte offset", "[idx]") {
  TempDir dir("idx");
  const std::string f = dir / "bad";

  SECTION("wrong magic") {
    Bytes b = images_idx(1, 2, 2);
    b[0] = 0x01;
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 0,
                  "expected the IDX magic 00 00, found 0x01 0x00");
  }
  SECTION("an HTML page instead of the file") {
    const std::string html = "<html><body>403 Forbidden</body></html>";
    write_bytes(f, Bytes(html.begin(), html.end()));
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 0, "HTML page");
  }
  SECTION("wrong type byte") {
    Bytes b = images_idx(1, 2, 2);
    b[2] = 0x0D;
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 2,
                  "expected data type 0x08 (unsigned byte), found 0x0D (float32)");
  }
  SECTION("a labels file where images are expected, and the reverse") {
    write_bytes(f, labels_idx({1, 2}));
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 3, "expected 3 dimensions");
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 3, "looks like a labels file");
    write_bytes(f, images_idx(2, 2, 2));
    check_message(format_error([&] { vae::read_idx_labels(f); }), f, 3,
                  "looks like an images file");
  }
  SECTION("shorter than the magic") {
    write_bytes(f, Bytes{0, 0});
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 2,
                  "expected a 4-byte IDX header");
  }
  SECTION("header cut inside the dimensions") {
    Bytes b = images_idx(1, 2, 2);
    b.resize(10);
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 10, "header ends early");
  }
  SECTION("negative dimension") {
    Bytes b = images_idx(1, 2, 2);
    b[8] = 0xff;  // rows = 0xff000002
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 8, "dimension 1 has size");
  }
  SECTION("zero-sized images") {
    write_bytes(f, images_idx(1, 28, 0));
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 12, "image size 28x0");
  }
}

TEST_CASE("read_idx rejects data of the wrong length and bad labels", "[idx]") {
  TempDir dir("idx");
  const std::string f = dir / "bad";

  SECTION("truncated data") {
    Bytes b = images_idx(2, 28, 28);
    b.resize(16 + 1500);
    write_bytes(f, b);
    check_message(
        format_error([&] { vae::read_idx_images(f); }), f, 16 + 1500,
        "data ends early: the header declares 2 images of 28x28 = 1568 bytes, but only 1500");
  }
  SECTION("trailing bytes") {
    Bytes b = images_idx(2, 28, 28);
    b.insert(b.end(), {1, 2, 3});
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 16 + 1568,
                  "3 unexpected bytes after");
  }
  SECTION("trailing bytes inside a gzip file: the offset is in the decompressed data") {
    Bytes b = labels_idx({1, 2, 3});
    b.push_back(7);
    write_bytes(f, gzip(b));
    const auto e = format_error([&] { vae::read_idx_labels(f); });
    check_message(e, f, 11, "1 unexpected bytes");
    CHECK(contains(e.what(), "decompressed"));
  }
  SECTION("label out of range") {
    write_bytes(f, labels_idx({1, 2, 12, 3}));
    check_message(format_error([&] { vae::read_idx_labels(f); }), f, 8 + 2,
                  "label 12 (of image 2) is outside 0..9");
  }
}

TEST_CASE("read_idx rejects damaged gzip files", "[idx]") {
  TempDir dir("idx");
  const std::string f = dir / "bad.gz";
  const Bytes good = gzip(images_idx(20, 28, 28));

  SECTION("corrupt data") {
    Bytes b = good;
    for (std::size_t i = 20; i < 60; ++i) b[i] ^= 0x5a;
    write_bytes(f, b);
    const auto e = format_error([&] { vae::read_idx_images(f); });
    INFO(e.what());
    CHECK(e.file == f);
    CHECK(e.offset <= b.size());
    CHECK(contains(e.what(), "corrupt gzip data"));
  }
  SECTION("a flipped bit caught by the CRC") {
    Bytes b = good;
    b[b.size() - 6] ^= 0x01;  // inside the CRC-32 trailer
    write_bytes(f, b);
    const auto e = format_error([&] { vae::read_idx_images(f); });
    CHECK(contains(e.what(), "corrupt gzip data"));
  }
  SECTION("truncated") {
    Bytes b = good;
    b.resize(b.size() / 2);
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, b.size(),
                  "gzip data ends early");
  }
  SECTION("only the gzip magic") {
    write_bytes(f, Bytes{0x1f, 0x8b});
    check_message(format_error([&] { vae::read_idx_images(f); }), f, 2, "gzip data ends early");
  }
  SECTION("garbage after the gzip stream") {
    Bytes b = good;
    b.insert(b.end(), {'x', 'y', 'z'});
    write_bytes(f, b);
    check_message(format_error([&] { vae::read_idx_images(f); }), f, good.size(),
                  "3 unexpected bytes after the end");
  }
}

TEST_CASE("a missing file is a clear tg::Error", "[idx]") {
  TempDir dir("idx");
  const std::string f = dir / "nope-images-idx3-ubyte.gz";
  try {
    vae::read_idx_images(f);
    FAIL("expected tg::Error");
  } catch (const tg::FormatError&) {
    FAIL("a missing file is not a format error");
  } catch (const tg::Error& e) {
    CHECK(std::string(e.what()) == "cannot open " + f + ": No such file or directory");
  }
  CHECK_THROWS_WITH(vae::read_idx_labels(dir.path.string()), Catch::Contains("Is a directory"));
}

TEST_CASE("load_mnist_dir checks the folder, the four files and their counts", "[idx]") {
  TempDir dir("idx");
  auto write_set = [&](const std::string& prefix, std::uint32_t n_images, std::size_t n_labels,
                       bool gz) {
    const Bytes im = images_idx(n_images, 28, 28);
    const Bytes lab = labels_idx(Bytes(n_labels, 7));
    const std::string ext = gz ? ".gz" : "";
    write_bytes(dir / (prefix + "-images-idx3-ubyte" + ext), gz ? gzip(im) : im);
    write_bytes(dir / (prefix + "-labels-idx1-ubyte" + ext), gz ? gzip(lab) : lab);
  };

  SECTION("a complete folder, mixing raw and gzipped, preferring .gz") {
    write_set("train", 5, 5, true);
    write_set("t10k", 2, 2, false);
    write_set("train", 4, 4, false);  // a raw copy with different counts: the .gz wins
    const auto data = vae::load_mnist_dir(dir.path.string());
    CHECK(data.train.images.n == 5);
    CHECK(data.train.labels.size() == 5);
    CHECK(data.test.images.n == 2);
    CHECK(data.test.labels == Bytes{7, 7});
  }
  SECTION("image and label counts differ") {
    write_set("train", 5, 4, true);
    write_set("t10k", 2, 2, true);
    const auto e = format_error([&] { vae::load_mnist_dir(dir.path.string()); });
    const std::string msg = e.what();
    INFO(msg);
    CHECK(e.file == dir / "train-labels-idx1-ubyte.gz");
    CHECK(contains(msg, "label count 4 does not match the image count 5"));
    CHECK(contains(msg, dir / "train-images-idx3-ubyte.gz"));
  }
  SECTION("a file is missing") {
    write_set("train", 5, 5, true);
    write_bytes(dir / "t10k-images-idx3-ubyte.gz", gzip(images_idx(2, 28, 28)));
    CHECK_THROWS_WITH(vae::load_mnist_dir(dir.path.string()),
                      Catch::StartsWith("cannot open " + (dir / "t10k-labels-idx1-ubyte.gz") +
                                        ": No such file or directory"));
  }
  SECTION("the folder is missing") {
    const std::string missing = dir / "no-such-folder";
    CHECK_THROWS_AS(vae::load_mnist_dir(missing), tg::Error);
    CHECK_THROWS_WITH(
        vae::load_mnist_dir(missing),
        Catch::StartsWith("cannot open MNIST folder " + missing + ": No such file or directory"));
  }
}
