// Random numbers from Philox4x32-10 (Random123), a counter-based generator: the numbers a fill
// produces depend only on the seed and the generator's counter, never on the thread count.
// Each fill advances the counter past what it used, so consecutive fills give fresh numbers.
#pragma once
#include <cstdint>

namespace tg {

// Not thread-safe: one thread fills from a Generator at a time (the fill itself uses the thread
// pool). Bad arguments (n < 0, low > high, std < 0, p outside [0, 1]) raise ValueError and change
// nothing. docs/random.md gives the exact layout: which Philox words make element i of each fill.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }
  // The counter: how many Philox blocks have been used. Saving (seed, offset) saves the state.
  std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t offset) { offset_ = offset; }

  // U[low, high): never exactly `high`.
  template <class T>
  void fill_uniform(T* out, std::int64_t n, T low = T(0), T high = T(1));
  // N(mean, std^2), Box-Muller.
  template <class T>
  void fill_normal(T* out, std::int64_t n, T mean = T(0), T std = T(1));
  // out[i] = 1 with probability p[i], else 0 (p_step = 0: one p for all).
  template <class T>
  void fill_bernoulli(T* out, std::int64_t n, const T* p, int p_step = 1);

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The default generator used when none is given (seed 0 until manual_seed is called).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace tg
