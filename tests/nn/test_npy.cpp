#include <catch2/catch.hpp>
#include <filesystem>

#include "support.hpp"
#include "tapegrad/nn/npy.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/ops.hpp"

using namespace tg;
namespace fs = std::filesystem;

namespace {

std::string fixture_path(const std::string& name) {
  return std::string(TG_SOURCE_DIR) + "/tests/nn/fixtures/npy/" + name + ".npy";
}

void expect_error(const std::string& bytes, const std::string& what, std::uint64_t offset) {
  try {
    nn::parse_npy(bytes, "a.npy");
    FAIL("expected a FormatError: " << what);
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.rfind("a.npy: byte " + std::to_string(offset) + ": ", 0) == 0);
  }
}

// A version 1.0 file around a header text (padded like NumPy) and data.
std::string npy_of(std::string header, const std::string& data) {
  const std::size_t pad = 64 - (10 + header.size() + 1) % 64;
  header.append(pad, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

}  // namespace

TEST_CASE("files written by NumPy load, and saving them again gives NumPy's bytes", "[npy]") {
  struct Case {
    const char* name;
    DType dtype;
    Shape shape;
    std::vector<double> first;
  };
  const std::vector<Case> cases = {
      {"f32_2x3", DType::f32, {2, 3}, {-0.5, -0.25, 0, 0.25, 0.5, 0.75}},
      {"f64_scalar", DType::f64, {}, {3.25}},
      {"f32_vector5", DType::f32, {5}, {1.5, -2.0, 0.0, static_cast<float>(1e-3), 7.0}},
      {"f64_2x3x4", DType::f64, {2, 3, 4}, {0, 0.125, 0.25}},
      {"f32_empty0x3", DType::f32, {0, 3}, {}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const Tensor t = nn::load_npy(fixture_path(c.name));
    CHECK(t.dtype() == c.dtype);
    CHECK(t.shape() == c.shape);
    const auto v = t.to_vector();
    for (std::size_t i = 0; i < c.first.size(); ++i) CHECK(v[i] == c.first[i]);
    CHECK(nn::npy_bytes(t) == read_file(fixture_path(c.name)));
  }
}

TEST_CASE("what NumPy can write but tapegrad does not read is refused clearly", "[npy]") {
  const auto refuse = [](const char* name, const std::string& what) {
    const std::string path = fixture_path(name);
    try {
      nn::load_npy(path);
      FAIL("expected a FormatError for " << name);
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(path + ": byte 10: ") == 0);
      CHECK(msg.find(what) != std::string::npos);
    }
  };
  refuse("bad_int64", "dtype '<i8' is not supported");
  refuse("bad_fortran", "Fortran order");
  refuse("bad_bigendian", "big-endian");
}

TEST_CASE("malformed .npy files are FormatErrors with the byte", "[npy]") {
  const std::string good = read_file(fixture_path("f32_2x3"));
  expect_error("PK\x03\x04 not numpy", "magic string", 0);
  expect_error(good.substr(0, 7), "ends inside the version", 7);
  std::string v9 = good;
  v9[6] = 9;
  expect_error(v9, "unsupported .npy version 9.0", 6);
  expect_error(good.substr(0, 40), "header length is 118 but only 30 bytes follow", 8);
  expect_error(good.substr(0, good.size() - 4), "needs 24 data bytes but the file has 20",
               good.size() - 4);
  expect_error(good + "xx", "2 bytes after the end", good.size());
  const std::string data(8, '\0');
  expect_error(npy_of("{'descr': '<f4', 'shape': (2,), }", data), "no 'fortran_order'", 10);
  expect_error(npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", data),
               "unexpected key 'extra'", 10 + 56);
  expect_error(npy_of("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", data),
               "expected True or False", 10 + 34);
  expect_error(npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", data),
               "not a tuple", 10 + 53);
  expect_error(npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data),
               "expected a non-negative integer", 10 + 51);
  expect_error(
      npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}", data),
      "twice", 10 + 56);
  expect_error(npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", data),
               "expected ',' or '}'",
               10 + 118);  // the end of the header text
  // Tolerated like NumPy's literal_eval: double quotes, no trailing comma, other key order.
  const Tensor t = nn::parse_npy(
      npy_of("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}", data), "ok");
  CHECK(t.shape() == Shape{1, 2});
}

TEST_CASE("save_npy round trip, atomically", "[npy]") {
  tgtest::TempDir dir("npy");
  for (DType d : {DType::f32, DType::f64}) {
    const Tensor t = Tensor::randn({3, 17, 2}, d);
    const std::string path = dir / "t.npy";
    nn::save_npy(path, t);
    CHECK(fs::file_size(path) % 64 == (t.nbytes() % 64));  // the data starts at a multiple of 64
    CHECK(allclose(nn::load_npy(path), t, 0, 0));
  }
  CHECK_THROWS_AS(nn::save_npy(dir / "no/t.npy", Tensor::ones({1})), Error);
  CHECK_FALSE(fs::exists(dir.path / "no"));
  CHECK(dir.count_files() == 1);
}
