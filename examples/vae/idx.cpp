// IDX reader. The whole file is read into memory (the full MNIST training images are 47 MB),
// inflated with zlib when it starts with the gzip magic, then the header and the length are checked
// before any pixel is used: a header cannot make us allocate more than the file actually holds.
#include "examples/vae/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>

#include "tapegrad/tensor/error.hpp"

namespace vae {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::string error_text(int err) { return std::generic_category().message(err); }

Bytes read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw tg::Error("cannot open " + path + ": " + error_text(errno));
  Bytes bytes;
  // The file's size up front, so the buffer is not grown by doubling (a 26 MB file would briefly
  // hold 48 MB); a size that cannot be read (a pipe) only costs the growth.
  std::error_code size_error;
  const auto size = std::filesystem::file_size(path, size_error);
  if (!size_error) bytes.reserve(static_cast<std::size_t>(size));
  std::uint8_t buf[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f);
    bytes.insert(bytes.end(), buf, buf + n);
    if (n < sizeof buf) break;
  }
  const bool failed = std::ferror(f);
  const int err = errno;  // e.g. EISDIR when the path is a folder
  std::fclose(f);
  if (failed) throw tg::Error("cannot read " + path + ": " + error_text(err));
  return bytes;
}

bool is_gzip(const Bytes& b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

// Inflates a gzip file (possibly several concatenated members, as `cat a.gz b.gz` makes), stopping
// as soon as `limit` bytes are out: at most `limit` bytes are returned, and exactly `limit` when
// the stream holds that many or more. zlib checks each member's CRC-32 and length, so a damaged
// download is caught here rather than as odd pixels (when the stream is read to its end). Error
// offsets are positions in the compressed file.
Bytes gunzip(const std::string& path, const Bytes& in, std::uint64_t limit) {
  if (in.size() > std::numeric_limits<uInt>::max())
    throw tg::FormatError(
        path, 0, "gzip file too large for one zlib call (" + std::to_string(in.size()) + " bytes)");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    throw tg::Error("cannot read " + path + ": zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct; it does not write
  zs.avail_in = static_cast<uInt>(in.size());
  Bytes out;
  // The caller bounds `limit` (the header's declared size, at most 1032 x the compressed size):
  // reserve it, so the output is not grown by doubling (47 MB of images would briefly take 96 MB).
  out.reserve(static_cast<std::size_t>(limit));
  std::uint8_t buf[1 << 16];
  for (;;) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
    if (out.size() >= limit) {  // enough for what the header can need: stop inflating
      inflateEnd(&zs);
      out.resize(limit);
      return out;
    }
    const std::uint64_t at = in.size() - zs.avail_in;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      if (zs.avail_in < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
        inflateEnd(&zs);
        throw tg::FormatError(
            path, at,
            std::to_string(zs.avail_in) +
                " unexpected bytes after the end of the gzip data; "
                "expected the file to end here or another gzip member (1f 8b) to start");
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
      const std::string why = zs.msg ? zs.msg : "invalid data";
      inflateEnd(&zs);
      throw tg::FormatError(
          path, at,
          "corrupt gzip data (zlib: " + why + "); the file is damaged: download or regenerate it");
    }
    if (rc == Z_MEM_ERROR) {
      inflateEnd(&zs);
      throw tg::Error("cannot read " + path + ": out of memory while decompressing");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      inflateEnd(&zs);
      throw tg::Error("cannot read " + path + ": zlib inflate failed with code " +
                      std::to_string(rc));
    }
    // No input left and room in the output (or no progress at all): the stream stopped before its
    // end.
    if (rc == Z_BUF_ERROR || (zs.avail_in == 0 && zs.avail_out != 0)) {
      inflateEnd(&zs);
      throw tg::FormatError(
          path, in.size(),
          "gzip data ends early after " + std::to_string(out.size()) +
              " decompressed bytes; expected the end of the gzip stream (a truncated download?)");
    }
  }
  inflateEnd(&zs);
  return out;
}

// The decompressed bytes of one IDX file, and enough about where they came from to report errors.
struct Source {
  std::string path;
  Bytes bytes;
  bool gzipped = false;
  bool capped = false;  // gzip: inflating stopped one byte past what the header declares

  [[noreturn]] void fail(std::uint64_t offset, const std::string& message) const {
    throw tg::FormatError(path, offset,
                          gzipped ? message + " (byte offset in the decompressed data)" : message);
  }
};

// The file size a (possibly partial) IDX header declares: the header plus the product of its sizes.
// nullopt when the header is incomplete or malformed (read_header then says what is wrong), or when
// the product overflows (read_idx_images says so).
std::optional<std::uint64_t> declared_size(const Bytes& b) {
  if (b.size() < 4 || b[0] != 0 || b[1] != 0) return std::nullopt;
  const std::uint64_t header = 4 + 4 * std::uint64_t{b[3]};
  if (b.size() < header) return std::nullopt;
  std::uint64_t n = 1;
  for (std::uint64_t at = 4; at < header; at += 4) {
    const std::uint64_t v = (std::uint64_t{b[at]} << 24) | (std::uint64_t{b[at + 1]} << 16) |
                            (std::uint64_t{b[at + 2]} << 8) | std::uint64_t{b[at + 3]};
    if (__builtin_mul_overflow(n, v, &n)) return std::nullopt;
  }
  return n > std::numeric_limits<std::uint64_t>::max() - header ? std::nullopt
                                                                : std::optional(header + n);
}

// deflate's best ratio is 1032:1; a little slack for the gzip headers of concatenated members.
constexpr std::uint64_t max_inflate_ratio = 1032;
constexpr std::uint64_t max_idx_header = 4 + 4 * 255;

Source load(const std::string& path) {
  Source src{path, read_file(path), false};
  if (is_gzip(src.bytes)) {
    // Inflate the header first, then only what it declares (and one byte more, to notice data
    // beyond it): a gzip bomb is never inflated past the size of the file its header describes.
    const Bytes compressed = std::move(src.bytes);
    src.gzipped = true;
    src.bytes = gunzip(path, compressed, max_idx_header);
    const auto declared = declared_size(src.bytes);
    if (!declared) return src;  // read_header reports the malformed header from these bytes
    if (*declared / max_inflate_ratio > compressed.size() + 1024)
      throw tg::FormatError(path, 4,
                            "the header declares " + std::to_string(*declared) +
                                " bytes, more than a " + std::to_string(compressed.size()) +
                                "-byte gzip file can decompress to (a truncated or corrupt file?)");
    src.bytes = gunzip(path, compressed, *declared + 1);
    src.capped = src.bytes.size() > *declared;
  }
  return src;
}

std::string hex_byte(unsigned v) {
  char s[8];
  std::snprintf(s, sizeof s, "0x%02X", v & 0xffu);
  return s;
}

const char* idx_type_name(std::uint8_t t) {
  switch (t) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "not an IDX type";
  }
}

// Parses the header: 00 00, type, ndim, then ndim big-endian 32-bit sizes. Returns the sizes; the
// data starts at 4 + 4 * ndim.
std::vector<std::int64_t> read_header(const Source& src, int want_ndim, const char* want_what) {
  const Bytes& b = src.bytes;
  if (b.size() < 4)
    src.fail(b.size(), "file ends after " + std::to_string(b.size()) +
                           " bytes; expected a 4-byte IDX header (00 00 08 ndim)");
  if (b[0] != 0 || b[1] != 0) {
    std::string hint = "is this an MNIST IDX file such as train-images-idx3-ubyte.gz?";
    if (b[0] == '<')
      hint = "it starts with '<', like an HTML page: a failed download saved in place of the file?";
    if (b[0] == 'P' && b[1] == 'K') hint = "it starts with 'PK': a zip archive; unzip it first";
    src.fail(0, "expected the IDX magic 00 00, found " + hex_byte(b[0]) + " " + hex_byte(b[1]) +
                    "; " + hint);
  }
  if (b[2] != 0x08)
    src.fail(2, "expected data type 0x08 (unsigned byte), found " + hex_byte(b[2]) + " (" +
                    idx_type_name(b[2]) + ")");
  const int ndim = b[3];
  if (ndim != want_ndim) {
    std::string hint;
    if (want_ndim == 3 && ndim == 1)
      hint = "; this looks like a labels file (idx1): pass the images file (idx3)";
    if (want_ndim == 1 && ndim == 3)
      hint = "; this looks like an images file (idx3): pass the labels file (idx1)";
    src.fail(3, "expected " + std::to_string(want_ndim) + " dimension" +
                    (want_ndim == 1 ? "" : "s") + " (" + want_what + "), found " +
                    std::to_string(ndim) + hint);
  }
  const std::size_t data_offset = 4 + 4 * static_cast<std::size_t>(ndim);
  if (b.size() < data_offset)
    src.fail(b.size(), "header ends early: expected " + std::to_string(ndim) +
                           " dimension sizes of 4 bytes (a " + std::to_string(data_offset) +
                           "-byte header), the file has " + std::to_string(b.size()) + " bytes");
  std::vector<std::int64_t> dims(ndim);
  for (int i = 0; i < ndim; ++i) {
    const std::size_t at = 4 + 4 * static_cast<std::size_t>(i);
    const std::uint32_t v = (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
                            (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
    // IDX sizes are signed 32-bit; a "negative" size is a corrupt header (or a little-endian
    // writer).
    if (v > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()))
      src.fail(at, "dimension " + std::to_string(i) + " has size " +
                       std::to_string(static_cast<std::int32_t>(v)) +
                       "; expected a non-negative big-endian 32-bit size");
    dims[i] = v;
  }
  return dims;
}

// The data must be exactly the product of the sizes: a short file is truncated, a long one is not
// the file the header describes.
void check_length(const Source& src, std::uint64_t expected, const std::string& described) {
  const std::uint64_t header = src.bytes.size() >= 4 ? 4 + 4 * std::uint64_t{src.bytes[3]} : 0;
  const std::uint64_t have = src.bytes.size() - header;
  if (have < expected)
    src.fail(src.bytes.size(), "data ends early: the header declares " + described + " = " +
                                   std::to_string(expected) + " bytes, but only " +
                                   std::to_string(have) + " bytes follow the " +
                                   std::to_string(header) + "-byte header (a truncated file?)");
  if (have > expected)
    src.fail(header + expected, (src.capped ? "at least " : "") + std::to_string(have - expected) +
                                    " unexpected bytes after the " + described + " (" +
                                    std::to_string(expected) +
                                    " bytes) the header declares; expected the file to end here");
}

std::string join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

// DIR/base.gz if it exists, else DIR/base.
std::string find_idx(const std::string& dir, const std::string& base) {
  const std::string gz = join(dir, base + ".gz"), raw = join(dir, base);
  std::error_code ec;
  if (std::filesystem::exists(gz, ec)) return gz;
  if (std::filesystem::exists(raw, ec)) return raw;
  throw tg::Error(
      "cannot open " + gz + ": No such file or directory (nor " + raw +
      "); hint: an MNIST folder holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
      "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or not)");
}

Dataset load_set(const std::string& dir, const std::string& prefix) {
  const std::string images_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  Dataset set{read_idx_images(images_path), read_idx_labels(labels_path)};
  if (set.images.n == 0)
    throw tg::FormatError(images_path, 4, "the file holds no images (count 0)");
  if (static_cast<std::int64_t>(set.labels.size()) != set.images.n)
    throw tg::FormatError(labels_path, 4,
                          "label count " + std::to_string(set.labels.size()) +
                              " does not match the image count " + std::to_string(set.images.n) +
                              " of " + images_path +
                              "; each image needs exactly one label (files from different sets?)");
  return set;
}

}  // namespace

Images read_idx_images(const std::string& path) {
  Source src = load(path);  // not const: its buffer becomes the pixels
  const auto dims = read_header(src, 3, "images: count, rows, cols");
  Images im{dims[0], dims[1], dims[2], {}};
  if (im.rows == 0 || im.cols == 0)
    src.fail(im.rows == 0 ? 8 : 12, "image size " + std::to_string(im.rows) + "x" +
                                        std::to_string(im.cols) +
                                        "; expected at least 1x1 (MNIST is 28x28)");
  // Each size is < 2^31, so rows * cols < 2^62 fits; n * (rows * cols) may not.
  const std::uint64_t per_image =
      static_cast<std::uint64_t>(im.rows) * static_cast<std::uint64_t>(im.cols);
  const std::string described = std::to_string(im.n) + " images of " + std::to_string(im.rows) +
                                "x" + std::to_string(im.cols);
  if (static_cast<std::uint64_t>(im.n) > std::numeric_limits<std::uint64_t>::max() / per_image)
    src.fail(4, "the header declares " + described + ", more bytes than any file can hold");
  check_length(src, static_cast<std::uint64_t>(im.n) * per_image, described);
  // Drop the header in place and keep the buffer: no second copy of a 47 MB file.
  src.bytes.erase(src.bytes.begin(), src.bytes.begin() + 16);
  im.pixels = std::move(src.bytes);
  return im;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  const Source src = load(path);
  const auto dims = read_header(src, 1, "labels: count");
  check_length(src, static_cast<std::uint64_t>(dims[0]), std::to_string(dims[0]) + " labels");
  std::vector<std::uint8_t> labels(src.bytes.begin() + 8, src.bytes.end());
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] > 9)
      src.fail(8 + i, "label " + std::to_string(labels[i]) + " (of image " + std::to_string(i) +
                          ") is outside 0..9");
  return labels;
}

MnistData load_mnist_dir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw tg::Error(
        "cannot open MNIST folder " + dir + ": " +
        (std::filesystem::exists(dir, ec) ? "Not a directory" : "No such file or directory") +
        "; hint: the embedded 10,000-digit subset is at " + default_data_dir());
  MnistData data{load_set(dir, "train"), load_set(dir, "t10k")};
  const Images &a = data.train.images, &b = data.test.images;
  if (a.rows != b.rows || a.cols != b.cols)
    throw tg::FormatError(find_idx(dir, "t10k-images-idx3-ubyte"), 8,
                          "test images are " + std::to_string(b.rows) + "x" +
                              std::to_string(b.cols) + " but the training images (" +
                              find_idx(dir, "train-images-idx3-ubyte") + ") are " +
                              std::to_string(a.rows) + "x" + std::to_string(a.cols));
  return data;
}

// Found from the running program's own file (/proc/self/exe), so an installed tree can move and a
// build tree works from any working directory: first the installed place, <bindir>/TG_DATA_FROM_BIN
// (e.g. bin/../share/tapegrad), then share/tapegrad in the program's folder or one of the three
// above it (the build tree's link). When none exists, the installed place, so the error names where
// it belongs.
std::string default_data_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "share/tapegrad/mnist-subset";
  const fs::path installed =
      (exe.parent_path() / TG_DATA_FROM_BIN / "mnist-subset").lexically_normal();
  if (fs::is_directory(installed, ec)) return installed.string();
  fs::path dir = exe.parent_path();
  for (int up = 0; up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    const fs::path candidate = dir / "share" / "tapegrad" / "mnist-subset";
    if (fs::is_directory(candidate, ec)) return candidate.string();
    if (dir == dir.root_path()) break;
  }
  return installed.string();
}

}  // namespace vae
