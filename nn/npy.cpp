// The .npy header is a Python dict literal. NumPy reads it with ast.literal_eval; here a small
// parser accepts the subset NumPy writes (strings, True/False, tuples of integers) and reports the
// byte where anything else starts.
#include "tapegrad/nn/npy.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <optional>
#include <string_view>

#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

namespace tg::nn {
namespace {

static_assert(std::endian::native == std::endian::little, "the .npy data is read as little-endian");

constexpr std::string_view magic = "\x93NUMPY";
constexpr std::size_t array_align = 64;
constexpr std::size_t growth_axis_max_digits = 21;  // NumPy's GROWTH_AXIS_MAX_DIGITS

std::string py_tuple(const Shape& shape) {
  if (shape.empty()) return "()";
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

struct HeaderParser {
  std::string_view text;
  std::uint64_t base;  // file offset of text[0]
  const std::string& file;
  std::size_t pos = 0;

  [[noreturn]] void fail(const std::string& msg) const { throw FormatError(file, base + pos, msg); }
  void skip_ws() {
    while (pos < text.size() &&
           (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool eat(char c) {
    skip_ws();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) fail(fmt::format("malformed header: expected {}", what));
  }
  std::string string() {
    skip_ws();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      fail("malformed header: expected a string");
    const char quote = text[pos++];
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] != quote) {
      if (text[pos] == '\\') fail("malformed header: escapes in strings are not supported");
      ++pos;
    }
    if (pos >= text.size()) fail("malformed header: unterminated string");
    return std::string(text.substr(start, pos++ - start));
  }
  std::int64_t integer() {
    skip_ws();
    const std::size_t start = pos;
    std::int64_t v = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, text[pos] - '0', &v)) {
        pos = start;
        fail("malformed header: dimension too large");
      }
      ++pos;
    }
    if (pos == start) fail("malformed header: expected a non-negative integer");
    return v;
  }
  bool boolean() {
    skip_ws();
    if (text.substr(pos, 4) == "True") {
      pos += 4;
      return true;
    }
    if (text.substr(pos, 5) == "False") {
      pos += 5;
      return false;
    }
    fail("malformed header: expected True or False");
  }
  Shape tuple() {
    expect('(', "'(' starting the shape tuple");
    Shape shape;
    bool comma = false;
    while (!eat(')')) {
      if (!shape.empty() && !comma)
        fail("malformed header: expected ',' or ')' in the shape tuple");
      shape.push_back(integer());
      comma = eat(',');
    }
    if (shape.size() == 1 && !comma)
      fail("malformed header: the shape is not a tuple (a 1-tuple needs a comma)");
    return shape;
  }
};

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

Header parse_header(std::string_view text, std::uint64_t base, const std::string& file) {
  HeaderParser p{text, base, file};
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<Shape> shape;
  p.expect('{', "'{' starting the header dict");
  bool comma = true;
  while (!p.eat('}')) {
    if (!comma) p.fail("malformed header: expected ',' or '}' in the header dict");
    const std::size_t key_pos = p.pos;
    const std::string key = p.string();
    p.expect(':', "':' after a key");
    const auto dup = [&](bool seen) {
      if (seen) {
        p.pos = key_pos;
        p.fail(fmt::format("malformed header: key '{}' appears twice", key));
      }
    };
    if (key == "descr") {
      dup(descr.has_value());
      descr = p.string();
    } else if (key == "fortran_order") {
      dup(fortran.has_value());
      fortran = p.boolean();
    } else if (key == "shape") {
      dup(shape.has_value());
      shape = p.tuple();
    } else {
      p.pos = key_pos;
      p.fail(fmt::format(
          "malformed header: unexpected key '{}' (a .npy header has descr, fortran_order, "
          "shape)",
          key));
    }
    comma = p.eat(',');
  }
  p.skip_ws();
  if (p.pos != text.size()) p.fail("malformed header: text after the header dict");
  p.pos = 0;
  if (!descr) p.fail("malformed header: no 'descr'");
  if (!fortran) p.fail("malformed header: no 'fortran_order'");
  if (!shape) p.fail("malformed header: no 'shape'");
  return {*descr, *fortran, *shape};
}

}  // namespace

// NumPy's _write_array_header + _wrap_header: keys sorted, spare spaces for the growth axis, then
// spaces and '\n' up to a multiple of 64 (a full 64 when already aligned, as NumPy does).
std::string npy_bytes(const Tensor& t) {
  if (!t.defined()) throw ValueError("save_npy: undefined tensor");
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   t.dtype() == DType::f32 ? "<f4" : "<f8", py_tuple(t.shape()));
  if (!t.shape().empty()) {
    const std::size_t digits = std::to_string(t.shape()[0]).size();
    header.append(growth_axis_max_digits > digits ? growth_axis_max_digits - digits : 0, ' ');
  }
  const std::size_t hlen = header.size() + 1;
  std::string out(magic);
  std::size_t prefix = magic.size() + 2 + 2;  // version 1.0: u16 length
  std::size_t padlen = array_align - (prefix + hlen) % array_align;
  if (hlen + padlen > 0xffff) {  // version 2.0: u32 length
    prefix = magic.size() + 2 + 4;
    padlen = array_align - (prefix + hlen) % array_align;
  }
  const std::uint64_t len = hlen + padlen;
  const bool v1 = prefix == magic.size() + 4;
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  for (std::size_t i = 0; i < (v1 ? 2u : 4u); ++i)
    out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += header;
  out.append(padlen, ' ');
  out += '\n';
  if (t.nbytes() > 0) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

void save_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, npy_bytes(t)); }

Tensor parse_npy(const std::string& bytes, const std::string& file) {
  const std::uint64_t size = bytes.size();
  if (size < magic.size() || std::string_view(bytes).substr(0, magic.size()) != magic)
    throw FormatError(file, 0, "not a .npy file: the magic string \\x93NUMPY is missing");
  if (size < 8) throw FormatError(file, size, "truncated: the file ends inside the version");
  const int major = static_cast<unsigned char>(bytes[6]),
            minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    throw FormatError(
        file, 6,
        fmt::format("unsupported .npy version {}.{} (1.0, 2.0 and 3.0 are read)", major, minor));
  const std::size_t len_size = major == 1 ? 2 : 4;
  if (size < 8 + len_size)
    throw FormatError(file, size, "truncated: the file ends inside the header length");
  std::uint64_t hlen = 0;
  for (std::size_t i = len_size; i-- > 0;)
    hlen = (hlen << 8) | static_cast<unsigned char>(bytes[8 + i]);
  const std::uint64_t header_start = 8 + len_size;
  if (hlen > size - header_start)
    throw FormatError(file, 8,
                      fmt::format("truncated: the header length is {} but only {} bytes follow",
                                  hlen, size - header_start));
  const std::string_view text(bytes.data() + header_start, hlen);
  for (std::size_t i = 0; i < text.size(); ++i)
    if (static_cast<unsigned char>(text[i]) >= 0x80 && major < 3)
      throw FormatError(file, header_start + i, "malformed header: not ASCII");
  const Header h = parse_header(text, header_start, file);

  DType dtype;
  if (h.descr == "<f4") {
    dtype = DType::f32;
  } else if (h.descr == "<f8") {
    dtype = DType::f64;
  } else if (h.descr == ">f4" || h.descr == ">f8") {
    throw FormatError(file, header_start,
                      fmt::format("dtype '{}' is big-endian; only little-endian '<f4' and "
                                  "'<f8' are supported (np.save(a.astype('<f4')))",
                                  h.descr));
  } else {
    throw FormatError(file, header_start,
                      fmt::format("dtype '{}' is not supported; only '<f4' (float32) and "
                                  "'<f8' (float64) are",
                                  h.descr));
  }
  if (h.fortran_order)
    throw FormatError(file, header_start,
                      "the array is in Fortran order; only C order is supported "
                      "(np.save(np.ascontiguousarray(a)))");
  // The element count must fit int64 even when a size is 0: (2^32, 2^31, 0) is not a shape a tensor
  // has.
  const auto count = checked_numel(h.shape);
  if (!count)
    throw FormatError(
        file, header_start,
        fmt::format("shape {} overflows (more than 2^63 - 1 elements)", py_tuple(h.shape)));
  const auto numel = static_cast<std::uint64_t>(*count);
  std::uint64_t nbytes = 0;
  const std::uint64_t data_start = header_start + hlen;
  const std::uint64_t have = size - data_start;
  if (__builtin_mul_overflow(numel, dtype_size(dtype), &nbytes) || nbytes > have)
    throw FormatError(
        file, size,
        fmt::format("truncated: shape {} of '{}' needs {} data bytes but the file has {}",
                    py_tuple(h.shape), h.descr, numel * dtype_size(dtype), have));
  if (nbytes < have)
    throw FormatError(file, data_start + nbytes,
                      fmt::format("{} bytes after the end of the array's data", have - nbytes));
  Tensor t = Tensor::empty(h.shape, dtype);
  if (nbytes > 0) std::memcpy(t.raw_data(), bytes.data() + data_start, nbytes);
  return t;
}

Tensor load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

}  // namespace tg::nn
