// Philox4x32-10 fills. Element i of a fill is made from Philox block (offset + i / K), where K is
// how many values one block (four 32-bit words) yields; the key is the 64-bit seed. A value
// therefore depends only on (seed, offset at the start of the fill, i): the thread count only
// decides who computes it.
#include "tapegrad/tensor/random.hpp"

#include <Random123/philox.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <type_traits>

#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace tg {
namespace {

using Philox = r123::Philox4x32;  // 10 rounds
using Words = Philox::ctr_type;   // four std::uint32_t in .v

// Blocks per parallel chunk: a block costs about 10 ns (uniform, bernoulli) to 60 ns (normal), so a
// chunk is at least ~40 us, well above the cost of waking a worker.
constexpr std::int64_t k_grain_blocks = 4096;

Philox::key_type key_of(std::uint64_t seed) {
  return {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
}

// The block at absolute counter `block`: the 64-bit counter fills words 0 and 1. Forced inline: as
// a call, its 16-byte result goes through the stack and the reload stalls, doubling the cost of a
// fill.
[[gnu::always_inline]] inline Words philox_block(const Philox::key_type& key, std::uint64_t block) {
  const Words ctr = {
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0}};
  return Philox()(ctr, key);
}

// u = k / 2^24 in [0, 1) from the top 24 bits of a word: every float in the grid is exact.
float unit_f32(std::uint32_t w) { return static_cast<float>(w >> 8) * 0x1p-24f; }

// u = k / 2^53 in [0, 1) from 32 + 21 bits of two words.
double unit_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t k = (static_cast<std::uint64_t>(hi) << 21) | (lo >> 11);
  return static_cast<double>(k) * 0x1p-53;
}

template <class T>
constexpr int uniforms_per_block() {
  return std::is_same_v<T, float> ? 4 : 2;
}

// K uniforms in [0, 1) from one block.
template <class T>
void block_uniforms(const Words& w, T* u) {
  if constexpr (std::is_same_v<T, float>) {
    for (int k = 0; k < 4; ++k) u[k] = unit_f32(w.v[k]);
  } else {
    u[0] = unit_f64(w.v[0], w.v[1]);
    u[1] = unit_f64(w.v[2], w.v[3]);
  }
}

// Box-Muller: for u1 in (0, 1] and u2 in [0, 1), r = sqrt(-2 ln u1), t = 2 pi u2, then r cos t and
// r sin t are two independent N(0, 1) values. u1 > 0 keeps ln finite. f32 takes each u from a full
// 32-bit word (two pairs, four normals a block) and computes in double, so the largest |z| it can
// produce is sqrt(2 ln 2^32) = 6.66; f64 takes 53 bits (one pair, two normals a block): 8.57.
template <class T>
void block_normals(const Words& w, T* z) {
  auto pair = [](double u1, double u2, T* out) {
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 2.0 * std::numbers::pi * u2;
    out[0] = static_cast<T>(r * std::cos(t));
    out[1] = static_cast<T>(r * std::sin(t));
  };
  if constexpr (std::is_same_v<T, float>) {
    pair((static_cast<double>(w.v[0]) + 1.0) * 0x1p-32, static_cast<double>(w.v[1]) * 0x1p-32, z);
    pair((static_cast<double>(w.v[2]) + 1.0) * 0x1p-32, static_cast<double>(w.v[3]) * 0x1p-32,
         z + 2);
  } else {
    const double u1 = unit_f64(w.v[0], w.v[1]) + 0x1p-53;  // (0, 1]: k / 2^53 shifted by one step
    pair(u1, unit_f64(w.v[2], w.v[3]), z);
  }
}

// Draws the blocks a fill of n values needs, K values a block, in parallel, and stores value k of
// block b at element b * K + k through store(element, value). Returns the number of blocks used.
template <class T, int K, class Draw, class Store>
std::uint64_t fill_blocks(std::uint64_t seed, std::uint64_t offset, std::int64_t n,
                          const Draw& draw, const Store& store) {
  const std::int64_t blocks = (n + K - 1) / K;
  const Philox::key_type key = key_of(seed);
  parallel_for(0, blocks, k_grain_blocks, [&](std::int64_t b0, std::int64_t b1) {
    T v[K];
    for (std::int64_t b = b0; b < b1; ++b) {
      draw(philox_block(key, offset + static_cast<std::uint64_t>(b)), v);
      const std::int64_t i = b * K;
      if (i + K <= n) {
        for (int k = 0; k < K; ++k) store(i + k, v[k]);
      } else {  // the last block of the fill: only part of it is needed
        for (int k = 0; k < n - i; ++k) store(i + k, v[k]);
      }
    }
  });
  return static_cast<std::uint64_t>(blocks);
}

void check_count(const char* fn, std::int64_t n) {
  if (n < 0) throw ValueError(std::string(fn) + ": negative count " + std::to_string(n));
}

}  // namespace

template <class T>
void Generator::fill_uniform(T* out, std::int64_t n, T low, T high) {
  check_count("fill_uniform", n);
  if (!std::isfinite(low) || !std::isfinite(high) || !(low <= high))
    throw ValueError("fill_uniform: need finite low <= high, got low = " + std::to_string(low) +
                     ", high = " + std::to_string(high));
  // low + (high - low) * u can round up to high; the largest value below high is the cap.
  const T top = high > low ? std::nextafter(high, low) : low;
  const T width = high - low;
  offset_ += fill_blocks<T, uniforms_per_block<T>()>(
      seed_, offset_, n, [](const Words& w, T* u) { block_uniforms(w, u); },
      [=](std::int64_t j, T u) { out[j] = std::min(low + width * u, top); });
}

template <class T>
void Generator::fill_normal(T* out, std::int64_t n, T mean, T std) {
  check_count("fill_normal", n);
  if (!std::isfinite(mean) || !std::isfinite(std) || !(std >= 0))
    throw ValueError("fill_normal: need finite mean and std >= 0, got mean = " +
                     std::to_string(mean) + ", std = " + std::to_string(std));
  constexpr int k = std::is_same_v<T, float> ? 4 : 2;
  offset_ += fill_blocks<T, k>(
      seed_, offset_, n, [](const Words& w, T* z) { block_normals(w, z); },
      [=](std::int64_t j, T z) { out[j] = mean + std * z; });
}

template <class T>
void Generator::fill_bernoulli(T* out, std::int64_t n, const T* p, int p_step) {
  check_count("fill_bernoulli", n);
  if (p_step < 0) throw ValueError("fill_bernoulli: negative p_step " + std::to_string(p_step));
  // Checked up front so a bad p leaves out and the offset untouched.
  const std::int64_t n_p = n == 0 ? 0 : (p_step == 0 ? 1 : n);
  for (std::int64_t j = 0; j < n_p; ++j) {
    const T pj = p[j * p_step];
    if (!(pj >= 0 && pj <= 1))
      throw ValueError("fill_bernoulli: p[" + std::to_string(j) + "] = " + std::to_string(pj) +
                       " is not in [0, 1]");
  }
  // u < p with u in [0, 1): p = 0 never fires, p = 1 always does.
  offset_ += fill_blocks<T, uniforms_per_block<T>()>(
      seed_, offset_, n, [](const Words& w, T* u) { block_uniforms(w, u); },
      [=](std::int64_t j, T u) { out[j] = u < p[j * p_step] ? T(1) : T(0); });
}

template void Generator::fill_uniform<float>(float*, std::int64_t, float, float);
template void Generator::fill_uniform<double>(double*, std::int64_t, double, double);
template void Generator::fill_normal<float>(float*, std::int64_t, float, float);
template void Generator::fill_normal<double>(double*, std::int64_t, double, double);
template void Generator::fill_bernoulli<float>(float*, std::int64_t, const float*, int);
template void Generator::fill_bernoulli<double>(double*, std::int64_t, const double*, int);

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(std::uint64_t seed) { default_generator() = Generator(seed); }

}  // namespace tg
