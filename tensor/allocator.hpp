// The caching allocator behind every tensor's storage. A training step frees and allocates the same
// few sizes over and over (activations, gradients, temporaries); keeping freed blocks on per-size
// free lists hands them back without a trip to malloc, and without the page faults of fresh memory,
// so after the first step a step's tensors cost no system allocation at all (as in PyTorch's CPU
// and CUDA caching allocators).
//
// Blocks are 64-byte aligned. Sizes are rounded up to a size class: multiples of 64 bytes up to 4
// KiB, then 8 classes per power of two (at most 12.5 % larger than asked). A freed block goes on
// its class's list unless the cache already holds cache_limit() bytes, in which case it goes back
// to the system; so the memory held is at most what is in use plus cache_limit() (TG_CACHE_MB,
// default 256 MiB). Thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tg::alloc {

void* allocate(std::size_t nbytes);
void deallocate(void* p, std::size_t nbytes);  // nbytes as given to allocate

// The size class a request of nbytes is served from.
std::size_t size_class(std::size_t nbytes);

struct Stats {
  std::size_t in_use = 0;    // bytes handed out and not yet returned (in size classes)
  std::size_t cached = 0;    // bytes on the free lists
  std::size_t peak = 0;      // largest in_use + cached so far
  std::uint64_t hits = 0;    // allocations served from a free list
  std::uint64_t misses = 0;  // allocations that went to the system
};
Stats stats();

// Returns every cached block to the system.
void empty_cache();
std::size_t cache_limit();
void set_cache_limit(std::size_t bytes);  // shrinks the cache at once if it holds more

}  // namespace tg::alloc
