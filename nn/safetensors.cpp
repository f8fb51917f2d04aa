// safetensors reading and writing. The writer produces what the reference implementation
// (huggingface/safetensors, safetensors/src/tensor.rs) produces: compact JSON with "__metadata__"
// first, spaces up to a multiple of 8, tensors packed in order. The reader applies the reference's
// checks (header length, JSON, offsets contiguous from 0 and covering the data section exactly,
// sizes equal to numel * dtype size) and a few stricter ones (duplicate names, unknown fields), and
// says where.
#include "tapegrad/nn/safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

namespace tg::nn {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this reader copies bytes as they are");

using Json = nlohmann::ordered_json;

constexpr std::uint64_t max_header_size = 100'000'000;  // the reference's limit

// Every dtype the format defines, with its size; tapegrad reads only F32 and F64.
struct KnownDType {
  const char* name;
  std::size_t size;
};
constexpr KnownDType known_dtypes[] = {{"BOOL", 1},    {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1},
                                       {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
                                       {"BF16", 2},    {"I32", 4}, {"U32", 4}, {"F32", 4},
                                       {"F64", 8},     {"I64", 8}, {"U64", 8}};

const char* dtype_tag(DType d) { return d == DType::f32 ? "F32" : "F64"; }

std::string header_json(const std::vector<std::pair<std::string, Tensor>>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw ValueError("save_safetensors: a tensor has an empty name");
    if (name == "__metadata__")
      throw ValueError("save_safetensors: '__metadata__' is a reserved name");
    if (!names.insert(name).second)
      throw ValueError(fmt::format("save_safetensors: duplicate tensor name '{}'", name));
    if (!t.defined()) throw ValueError(fmt::format("save_safetensors: '{}' is undefined", name));
    Json entry = Json::object();
    entry["dtype"] = dtype_tag(t.dtype());
    entry["shape"] = t.shape();
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    offset += t.nbytes();
    header[name] = std::move(entry);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {  // e.g. a name that is not valid UTF-8
    throw ValueError(fmt::format("save_safetensors: cannot encode the header: {}", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

std::string length_prefix(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

}  // namespace

std::string safetensors_bytes(const std::vector<std::pair<std::string, Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  const std::string header = header_json(tensors, metadata);
  std::string out = length_prefix(header.size()) + header;
  for (const auto& [_, t] : tensors)
    if (t.nbytes() > 0) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = header_json(tensors, metadata);  // validates before creating a file
  AtomicFile file(path);
  file.write(length_prefix(header.size()));
  file.write(header);
  for (const auto& [_, t] : tensors)
    if (t.nbytes() > 0) file.write({static_cast<const char*>(t.raw_data()), t.nbytes()});
  file.commit();
}

// The reader, in the order it runs: the length prefix, the JSON, each entry (dtype, shape,
// offsets), the tiling of the data section, and only then the copy into tensors. Each part throws
// FormatError with the file, the byte offset and what is wrong; nothing is allocated from a size
// the file cannot hold.
namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
  std::uint64_t where;  // file offset of the entry's key in the header, for messages
};

// The whole file as the parts see it.
struct Reader {
  const std::string& bytes;
  const std::string& file;
  std::string_view header;       // the JSON text
  std::uint64_t data_start = 0;  // file offset of the data section
  std::uint64_t data_size = 0;

  [[noreturn]] void fail(std::uint64_t offset, const std::string& message) const {
    throw FormatError(file, offset, message);
  }

  // Where a key appears in the header, for messages (the header start when not found verbatim).
  std::uint64_t where(const std::string& key) const {
    std::string quoted;
    try {
      quoted = Json(key).dump();
    } catch (const Json::exception&) {
      return 8;
    }
    const auto pos = header.find(quoted);
    return pos == std::string_view::npos ? 8 : 8 + pos;
  }
};

// The 8-byte little-endian header length, checked against the reference's limit and the file's
// size.
void read_length_prefix(Reader& r) {
  const std::uint64_t size = r.bytes.size();
  if (size < 8)
    r.fail(0,
           fmt::format("not a safetensors file: {} bytes, too short for the 8-byte header length",
                       size));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(r.bytes[static_cast<std::size_t>(i)]);
  if (n > max_header_size)
    r.fail(0, fmt::format(
                  "header length {} is larger than the 100 MB limit (not a safetensors file?)", n));
  if (n > size - 8)
    r.fail(0, fmt::format("header length {} runs past the end of the file ({} bytes: truncated?)",
                          n, size));
  r.header = std::string_view(r.bytes.data() + 8, n);
  r.data_start = 8 + n;
  r.data_size = size - r.data_start;
  if (r.header.empty() || r.header.front() != '{')
    r.fail(8, "the header is not a JSON object (does not start with '{')");
}

// Parses the header, noting duplicate top-level keys (JSON allows them; a safetensors header must
// not have them). Every nlohmann exception becomes a FormatError: a syntax error at its byte, a
// number too large for a double (1e400) at the number.
Json parse_header_json(const Reader& r) {
  std::set<std::string> seen;
  std::string duplicate;
  Json json;
  try {
    json = Json::parse(r.header.begin(), r.header.end(),
                       [&](int depth, Json::parse_event_t event, Json& parsed) {
                         if (depth == 1 && event == Json::parse_event_t::key && duplicate.empty() &&
                             !seen.insert(parsed.get<std::string>()).second)
                           duplicate = parsed.get<std::string>();
                         return true;
                       });
  } catch (const Json::parse_error& e) {
    const std::uint64_t pos = e.byte > 0 ? e.byte - 1 : 0;
    r.fail(8 + pos, fmt::format("invalid JSON in the header: {}", e.what()));
  } catch (const Json::out_of_range& e) {
    // "number overflow parsing '1e400'": point at the number when it can be found.
    const std::string what = e.what();
    const auto open = what.find('\''), close = what.rfind('\'');
    std::uint64_t at = 8;
    if (open != std::string::npos && close > open + 1) {
      const auto pos = r.header.find(std::string_view(what).substr(open + 1, close - open - 1));
      if (pos != std::string_view::npos) at = 8 + pos;
    }
    r.fail(at, fmt::format(
                   "a number in the header is out of range (safetensors numbers are integers below "
                   "2^64): {}",
                   what));
  } catch (const Json::exception& e) {
    r.fail(8, fmt::format("the header cannot be read as JSON: {}", e.what()));
  }
  if (!json.is_object()) r.fail(8, "the header is not a JSON object");
  if (!duplicate.empty()) r.fail(8, fmt::format("the header names '{}' twice", duplicate));
  return json;
}

void read_metadata(const Reader& r, const Json& info, std::uint64_t at,
                   std::map<std::string, std::string>& out) {
  if (!info.is_object()) r.fail(at, "'__metadata__' is not a map of strings to strings");
  for (const auto& [k, v] : info.items()) {
    if (!v.is_string())
      r.fail(at, fmt::format("'__metadata__' is not a map of strings to strings: '{}' is {}", k,
                             v.dump()));
    out[k] = v.get<std::string>();
  }
}

DType read_dtype(const Reader& r, const std::string& name, const Json& info, std::uint64_t at) {
  if (!info.contains("dtype")) r.fail(at, fmt::format("tensor '{}': no dtype", name));
  const Json& dt = info["dtype"];
  if (!dt.is_string())
    r.fail(at, fmt::format("tensor '{}': dtype {} is not a string", name, dt.dump()));
  const std::string tag = dt.get<std::string>();
  if (tag == "F32") return DType::f32;
  if (tag == "F64") return DType::f64;
  bool known = false;
  for (const auto& k : known_dtypes) known = known || tag == k.name;
  r.fail(at,
         known ? fmt::format("tensor '{}': dtype {} is not supported (tapegrad reads F32 and F64)",
                             name, tag)
               : fmt::format("tensor '{}': unknown dtype '{}'", name, tag));
}

// A list of non-negative integers whose product (the element count) fits int64.
Shape read_shape(const Reader& r, const std::string& name, const Json& info, std::uint64_t at) {
  if (!info.contains("shape")) r.fail(at, fmt::format("tensor '{}': no shape", name));
  const Json& sh = info["shape"];
  if (!sh.is_array())
    r.fail(at, fmt::format("tensor '{}': shape {} is not a list", name, sh.dump()));
  Shape shape;
  for (const auto& d : sh) {
    if (!d.is_number_unsigned())
      r.fail(at, fmt::format("tensor '{}': shape {} is not a list of non-negative integers", name,
                             sh.dump()));
    const auto v = d.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(INT64_MAX))
      r.fail(at, fmt::format("tensor '{}': shape {} has a size above 2^63 - 1", name, sh.dump()));
    shape.push_back(static_cast<std::int64_t>(v));
  }
  if (!checked_numel(shape))
    r.fail(at, fmt::format("tensor '{}': shape {} overflows (more than 2^63 - 1 elements)", name,
                           sh.dump()));
  return shape;
}

// [begin, end) inside the data section, holding exactly numel * dtype size bytes.
void read_offsets(const Reader& r, Entry& e, const Json& info) {
  const std::string& name = e.name;
  if (!info.contains("data_offsets"))
    r.fail(e.where, fmt::format("tensor '{}': no data_offsets", name));
  const Json& off = info["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    r.fail(e.where,
           fmt::format("tensor '{}': data_offsets {} is not [begin, end]", name, off.dump()));
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  if (e.begin > e.end)
    r.fail(e.where,
           fmt::format("tensor '{}': data_offsets [{}, {}] has begin > end", name, e.begin, e.end));
  if (e.end > r.data_size)
    r.fail(
        e.where,
        fmt::format(
            "tensor '{}': data_offsets [{}, {}] run past the data section ({} bytes: truncated?)",
            name, e.begin, e.end, r.data_size));
  const auto numel = static_cast<std::uint64_t>(*checked_numel(e.shape));
  std::uint64_t nbytes = 0;
  const bool overflow = __builtin_mul_overflow(numel, dtype_size(e.dtype), &nbytes);
  if (overflow || nbytes != e.end - e.begin)
    r.fail(
        e.where,
        fmt::format("tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}",
                    name, shape_str(e.shape), dtype_tag(e.dtype),
                    overflow ? std::string("more than 2^64") : std::to_string(nbytes), e.begin,
                    e.end, e.end - e.begin));
}

Entry read_entry(const Reader& r, const std::string& name, const Json& info, std::uint64_t at) {
  if (!info.is_object()) r.fail(at, fmt::format("tensor '{}': its entry is not an object", name));
  for (const auto& [field, _] : info.items())
    if (field != "dtype" && field != "shape" && field != "data_offsets")
      r.fail(at, fmt::format("tensor '{}': unknown field '{}'", name, field));
  Entry e{name, read_dtype(r, name, info, at), read_shape(r, name, info, at), 0, 0, at};
  read_offsets(r, e, info);
  return e;
}

// The tensors, ordered by offset, must tile the data section exactly: no gaps, no overlaps.
void check_tiling(const Reader& r, std::vector<Entry>& entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expect = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < expect)
      r.fail(r.data_start + e.begin,
             fmt::format("tensor '{}' [{}, {}] overlaps tensor '{}' [{}, {}]", e.name, e.begin,
                         e.end, prev->name, prev->begin, prev->end));
    if (e.begin > expect)
      r.fail(r.data_start + expect,
             fmt::format("the data section has a gap: bytes [{}, {}) belong to no tensor", expect,
                         e.begin));
    expect = e.end;
    prev = &e;
  }
  if (expect != r.data_size)
    r.fail(
        r.data_start + expect,
        fmt::format("the data section has {} bytes after the last tensor that belong to no tensor",
                    r.data_size - expect));
}

}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& file) {
  Reader r{bytes, file, {}};
  read_length_prefix(r);
  const Json json = parse_header_json(r);
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, info] : json.items()) {
    const std::uint64_t at = r.where(name);
    if (name == "__metadata__")
      read_metadata(r, info, at, out.metadata);
    else
      entries.push_back(read_entry(r, name, info, at));
  }
  check_tiling(r, entries);
  // Every size is now known to be within the file: allocate and copy.
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes() > 0)
      std::memcpy(t.raw_data(), bytes.data() + r.data_start + e.begin, t.nbytes());
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), path);
}

}  // namespace tg::nn
