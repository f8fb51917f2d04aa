// Helpers shared by the test files (tests/<folder>/test_*.cpp): temporary folders, reading
// big-endian fields, comparing floats in ulps, a small deterministic generator, special values, and
// restoring the thread count. One copy here instead of one per test file; a helper used by a single
// file stays there. To read a whole file, tests use the library's own tg::read_file
// (tensor/atomic_file.hpp).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tapegrad/tensor/parallel.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace tgtest {

// A fresh folder under the system's temporary folder, tg-test-<name>-<pid>-<n>-<random>, removed
// with everything in it when the TempDir goes out of scope.
struct TempDir {
  std::filesystem::path path;

  explicit TempDir(const std::string& name) {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    do {  // create_directory is false when the folder already exists: never share one
      path = std::filesystem::temp_directory_path() /
             ("tg-test-" + name + "-" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++) + "-" + std::to_string(rd()));
    } while (!std::filesystem::create_directory(path));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The path of `name` inside the folder.
  std::string operator/(const std::string& name) const { return (path / name).string(); }

  // How many entries the folder holds (not counting those of its subfolders).
  int count_files() const {
    return static_cast<int>(std::distance(std::filesystem::directory_iterator(path),
                                          std::filesystem::directory_iterator()));
  }
};

// Writes `bytes` to `path` as they are (not atomically: for making test inputs, good or broken).
inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw std::runtime_error("cannot write test file " + path);
}
inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  write_bytes(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The big-endian 32-bit number at byte `at` of `s` (PNG and IDX headers).
inline std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s[at])) << 24) |
         (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

template <class T>
inline constexpr T inf = std::numeric_limits<T>::infinity();
template <class T>
inline constexpr T nan = std::numeric_limits<T>::quiet_NaN();

// "f32" or "f64", for messages of tests templated on the element type.
template <class T>
std::string dtype_name() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

// Distance in units in the last place: the number of representable values between a and b.
// +0 and -0 are the same value; NaN matches only NaN; an infinity matches only itself.
template <class T>
std::uint64_t ulp_distance(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : UINT64_MAX;
  if (a == b) return 0;
  if (std::isinf(a) || std::isinf(b)) return UINT64_MAX;
  using I = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  auto ordered = [](T x) {
    I i;
    std::memcpy(&i, &x, sizeof i);
    // Negative floats count down from 0 so that the integers are ordered like the values.
    return i < 0 ? std::int64_t(std::numeric_limits<I>::min()) - std::int64_t(i) : std::int64_t(i);
  };
  const std::int64_t d = ordered(a) - ordered(b);
  return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

// A small deterministic generator (a 64-bit LCG: the same numbers on every standard library).
// Rng{seed}: the seed is the state.
struct Rng {
  std::uint64_t s;
  double uniform() {  // [0, 1)
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return double(s >> 11) * 0x1.0p-53;
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
};

// The elements of a contiguous tensor of element type T.
template <class T>
std::vector<T> values_of(const tg::Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

// Same shape, same dtype, same bytes.
inline bool bitwise_equal(const tg::Tensor& a, const tg::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Restores the thread pool's size when a test that changes it ends.
struct ThreadsGuard {
  int saved = tg::num_threads();
  ~ThreadsGuard() { tg::set_num_threads(saved); }
};

}  // namespace tgtest
