// Size-bucketed free lists under one mutex. The lists are LIFO, so the block freed last (still warm
// in the cache) is the one handed out next.
#include "tapegrad/tensor/allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace tg::alloc {
namespace {

constexpr std::size_t kAlign = 64;
constexpr std::size_t kSmall = 4096;  // up to here: every multiple of 64 is a class
constexpr int kClassesPerOctave = 8;  // above: 8 classes per power of two

std::size_t default_limit() {
  if (const char* env = std::getenv("TG_CACHE_MB")) {
    char* end = nullptr;
    const long long mb = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && mb >= 0) return static_cast<std::size_t>(mb) << 20;
  }
  return std::size_t(256) << 20;
}

struct Cache {
  std::mutex m;
  std::unordered_map<std::size_t, std::vector<void*>> free;  // size class -> blocks
  std::size_t limit = default_limit();
  Stats stats;

  void release_until(std::size_t target) {  // caller holds m
    for (auto it = free.begin(); it != free.end() && stats.cached > target; ++it) {
      auto& blocks = it->second;
      while (!blocks.empty() && stats.cached > target) {
        std::free(blocks.back());
        blocks.pop_back();
        stats.cached -= it->first;
      }
    }
  }
};

// Never destroyed: tensors in other static objects may be freed after main returns.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

std::size_t size_class(std::size_t nbytes) {
  const std::size_t n = std::max<std::size_t>(kAlign, (nbytes + kAlign - 1) / kAlign * kAlign);
  if (n <= kSmall) return n;
  // The octave [2^e, 2^(e+1)) that holds n, cut into kClassesPerOctave equal steps.
  const int e = std::bit_width(n) - 1;
  const std::size_t step = (std::size_t(1) << e) / kClassesPerOctave;
  return (n + step - 1) / step * step;
}

void* allocate(std::size_t nbytes) {
  const std::size_t c = size_class(nbytes);
  Cache& k = cache();
  {
    std::lock_guard lk(k.m);
    auto it = k.free.find(c);
    if (it != k.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      k.stats.cached -= c;
      k.stats.in_use += c;
      ++k.stats.hits;
      return p;
    }
    ++k.stats.misses;
  }
  void* p = std::aligned_alloc(kAlign, c);
  if (!p) {  // give the cache back and try once more
    empty_cache();
    p = std::aligned_alloc(kAlign, c);
    if (!p) throw std::bad_alloc();
  }
  std::lock_guard lk(k.m);
  k.stats.in_use += c;
  k.stats.peak = std::max(k.stats.peak, k.stats.in_use + k.stats.cached);
  return p;
}

void deallocate(void* p, std::size_t nbytes) {
  if (!p) return;
  const std::size_t c = size_class(nbytes);
  Cache& k = cache();
  {
    std::lock_guard lk(k.m);
    k.stats.in_use -= c;
    if (k.stats.cached + c <= k.limit) {
      k.free[c].push_back(p);
      k.stats.cached += c;
      return;
    }
  }
  std::free(p);
}

Stats stats() {
  Cache& k = cache();
  std::lock_guard lk(k.m);
  return k.stats;
}

void empty_cache() {
  Cache& k = cache();
  std::lock_guard lk(k.m);
  k.release_until(0);
}

std::size_t cache_limit() {
  Cache& k = cache();
  std::lock_guard lk(k.m);
  return k.limit;
}

void set_cache_limit(std::size_t bytes) {
  Cache& k = cache();
  std::lock_guard lk(k.m);
  k.limit = bytes;
  k.release_until(bytes);
}

}  // namespace tg::alloc
