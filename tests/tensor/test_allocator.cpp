// The caching allocator (tensor/allocator.hpp): size classes, reuse, alignment, the cache limit,
// and that a training-like loop stops asking the system for memory after its first step.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/tensor/allocator.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace alloc = tg::alloc;

TEST_CASE("allocator: size classes are 64-byte multiples, at most 12.5% above the request") {
  CHECK(alloc::size_class(0) == 64);
  CHECK(alloc::size_class(1) == 64);
  CHECK(alloc::size_class(64) == 64);
  CHECK(alloc::size_class(65) == 128);
  CHECK(alloc::size_class(4096) == 4096);
  for (std::size_t n : {4097ul, 10000ul, 128ul * 784 * 4, 400ul * 784 * 4, 123456789ul}) {
    const std::size_t c = alloc::size_class(n);
    CAPTURE(n, c);
    CHECK(c >= n);
    CHECK(c % 64 == 0);
    CHECK(double(c) <= double(n) * 1.125 + 64);
    CHECK(alloc::size_class(c) == c);  // a class is its own class
  }
}

TEST_CASE("allocator: a freed block is handed out again, 64-byte aligned") {
  void* p = alloc::allocate(100000);
  REQUIRE(p != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
  alloc::deallocate(p, 100000);
  const auto before = alloc::stats();
  void* q = alloc::allocate(99000);  // the same class
  CHECK(q == p);
  CHECK(alloc::stats().hits == before.hits + 1);
  CHECK(alloc::stats().misses == before.misses);
  alloc::deallocate(q, 99000);
}

TEST_CASE("allocator: the cache never holds more than its limit, and empty_cache frees it") {
  const std::size_t old_limit = alloc::cache_limit();
  alloc::empty_cache();
  alloc::set_cache_limit(1 << 20);
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(alloc::allocate(300000));
  for (void* p : blocks) alloc::deallocate(p, 300000);
  CHECK(alloc::stats().cached <= std::size_t(1) << 20);
  CHECK(alloc::stats().cached > 0);
  alloc::empty_cache();
  CHECK(alloc::stats().cached == 0);
  alloc::set_cache_limit(old_limit);
}

TEST_CASE("allocator: after the first step, a training step's tensors cost no system allocation") {
  using namespace tg;
  Variable w(Tensor::full({400, 784}, 0.01), true), b(Tensor::zeros({400}), true);
  Variable x(Tensor::full({128, 784}, 0.5));
  auto step = [&] {
    w.zero_grad();
    b.zero_grad();
    Variable loss = sum(relu(linear(x, w, b)) * 0.5);
    backward(loss);
  };
  step();
  step();
  const std::uint64_t misses = alloc::stats().misses;
  for (int i = 0; i < 5; ++i) step();
  CHECK(alloc::stats().misses == misses);
  CHECK(alloc::stats().hits > 0);
}
