#include <catch2/catch.hpp>
#include <cstring>

#include "support.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/ops.hpp"

using namespace tg;

namespace {

std::string u64le(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file from a header text (padded to a multiple of 8 like the reference writer) and data bytes.
std::string file_of(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return u64le(header.size()) + header + data;
}

std::string bytes_of(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

// parse_safetensors must throw a FormatError naming the file and `byte <offset>` and containing
// `what`.
void expect_error(const std::string& bytes, const std::string& what, std::uint64_t offset) {
  try {
    nn::parse_safetensors(bytes, "t.safetensors");
    FAIL("expected a FormatError: " << what);
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.rfind("t.safetensors: byte " + std::to_string(offset) + ": ", 0) == 0);
    CHECK(e.offset == offset);
  }
}

}  // namespace

TEST_CASE("bytes equal the reference implementation's test vectors", "[safetensors]") {
  // huggingface/safetensors, safetensors/src/tensor.rs: test_serialization and test_empty.
  const Tensor t = Tensor::from_values({1, 2, 3}, {0, 1, 2, 3, 4, 5});
  const std::string want =
      bytes_of({64, 0,  0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,
                34, 58, 123, 34,  100, 116, 121, 112, 101, 34,  58,  34,  70,  51,  50,  34,
                44, 34, 115, 104, 97,  112, 101, 34,  58,  91,  49,  44,  50,  44,  51,  93,
                44, 34, 100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115, 34,  58,
                91, 48, 44,  50,  52,  93,  125, 125, 0,   0,   0,   0,   0,   0,   128, 63,
                0,  0,  0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64});
  CHECK(nn::safetensors_bytes({{"attn.0", t}}) == want);
  CHECK(nn::safetensors_bytes({}) ==
        bytes_of({8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}));
  CHECK(nn::safetensors_bytes({}, {{"framework", "pt"}}) ==
        bytes_of({40,  0,   0,   0,  0,  0,  0,   0,   123, 34,  95,  95,  109, 101, 116, 97,
                  100, 97,  116, 97, 95, 95, 34,  58,  123, 34,  102, 114, 97,  109, 101, 119,
                  111, 114, 107, 34, 58, 34, 112, 116, 34,  125, 125, 32,  32,  32,  32,  32}));
  // And the reference's own reader accepts those bytes, so ours must too.
  const auto f = nn::parse_safetensors(want, "ref");
  REQUIRE(f.tensors.size() == 1);
  CHECK(f.tensors[0].first == "attn.0");
  CHECK(allclose(f.tensors[0].second, t, 0, 0));
}

TEST_CASE("round trip: dtypes, shapes, order, metadata", "[safetensors]") {
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"z.last.first", Tensor::randn({3, 5}, DType::f64)},
      {"a", Tensor::randn({7})},
      {"scalar", Tensor::scalar(2.5, DType::f64)},
      {"empty", Tensor::zeros({0, 4})},
      {"unicodé", Tensor::ones({2, 1, 2})},
  };
  const std::map<std::string, std::string> meta = {{"epoch", "3"},
                                                   {"note", "a \"quoted\" value\n"}};
  const std::string bytes = nn::safetensors_bytes(tensors, meta);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  const auto f = nn::parse_safetensors(bytes, "x");
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    CHECK(f.tensors[i].first == tensors[i].first);  // the saved order
    CHECK(f.tensors[i].second.dtype() == tensors[i].second.dtype());
    CHECK(f.tensors[i].second.shape() == tensors[i].second.shape());
    CHECK(allclose(f.tensors[i].second, tensors[i].second, 0, 0));
  }
}

TEST_CASE("every malformed file is a FormatError with the file and byte", "[safetensors]") {
  const std::string f32x2(8, '\0');
  expect_error("abc", "too short", 0);
  expect_error(u64le(1000) + "{}", "runs past the end of the file", 0);
  expect_error(u64le(200'000'000) + "{}", "100 MB limit", 0);
  expect_error(file_of("[1, 2]", ""), "not a JSON object", 8);
  expect_error(file_of("{\"a\": {\"dtype\": \"F32\",, }}", ""), "invalid JSON", 8 + 22);
  expect_error(file_of("{\"a\": 5}", ""), "its entry is not an object", 8 + 1);
  expect_error(file_of(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", f32x2),
               "tensor 'a': no dtype", 9);
  expect_error(file_of(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", f32x2),
               "unknown dtype 'Q7'", 9);
  expect_error(file_of(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", f32x2),
               "dtype I64 is not supported", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}})", f32x2),
               "not a list of non-negative integers", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", f32x2),
               "not a list of non-negative integers", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", f32x2),
               "is not a list", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", f32x2),
               "not [begin, end]", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", f32x2),
               "begin > end", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"),
               "run past the data section (4 bytes", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2),
               "needs 12 bytes but data_offsets [0, 8] hold 8", 9);
  expect_error(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", f32x2),
               "unknown field 'x'", 9);
  expect_error(
      file_of(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
          f32x2),
      "names 'a' twice", 8);
  expect_error(file_of(R"({"__metadata__":{"k":1}})", ""), "not a map of strings to strings", 9);
  expect_error(file_of(R"({"__metadata__":[]})", ""), "not a map of strings to strings", 9);
  // The data section must be covered exactly: overlaps, gaps and trailing bytes are errors.
  const std::string h = file_of(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0'));
  expect_error(h, "tensor 'b' [4, 12] overlaps tensor 'a' [0, 8]", h.size() - 12 + 4);
  const std::string g = file_of(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
      std::string(20, '\0'));
  expect_error(g, "gap: bytes [8, 12) belong to no tensor", g.size() - 20 + 8);
  const std::string t =
      file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(11, '\0'));
  expect_error(t, "3 bytes after the last tensor", t.size() - 3);
}

TEST_CASE("saving is atomic and leaves no temporary file", "[safetensors]") {
  tgtest::TempDir dir("safetensors");
  const std::string path = dir / "w.safetensors";
  nn::save_safetensors(path, {{"w", Tensor::ones({2, 2})}}, {{"k", "v"}});
  nn::save_safetensors(path, {{"w", Tensor::full({3}, 2.0)}});  // replaces the old file
  const auto f = nn::load_safetensors(path);
  CHECK(f.tensors[0].second.shape() == Shape{3});
  CHECK(f.metadata.empty());
  CHECK(dir.count_files() == 1);
  CHECK_THROWS_AS(nn::save_safetensors(dir / "missing/w.safetensors", {{"w", Tensor::ones({1})}}),
                  Error);
  CHECK_THROWS_AS(nn::save_safetensors(path, {{"__metadata__", Tensor::ones({1})}}), ValueError);
  CHECK(dir.count_files() == 1);
  CHECK_THROWS_WITH(nn::load_safetensors(dir / "nope.safetensors"), Catch::Contains("cannot read"));
}
