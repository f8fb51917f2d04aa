// Tests for the thread pool: parallel_for covers every index exactly once, splits work as the
// header promises, runs small and nested work inline, really runs chunks concurrently, and carries
// an exception from any chunk back to the caller. No sleeps and no timing: concurrency is shown by
// a rendezvous that can only complete if two chunks run at the same time.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace {

using Range = std::pair<std::int64_t, std::int64_t>;
using tgtest::ThreadsGuard;

// Runs parallel_for and returns the chunks fn received, sorted.
std::vector<Range> chunks_of(std::int64_t begin, std::int64_t end, std::int64_t grain) {
  std::mutex m;
  std::vector<Range> seen;
  tg::parallel_for(begin, end, grain, [&](std::int64_t lo, std::int64_t hi) {
    std::lock_guard lk(m);
    seen.emplace_back(lo, hi);
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}

// Whether `chunks` chunks of a parallel_for run at the same time: each chunk waits until all have
// arrived, which only completes if they run on different threads. Returns false if the call ran
// inline (one call with the whole range) instead of waiting forever.
bool ran_concurrently(int chunks) {
  std::atomic<int> arrived{0};
  std::atomic<bool> inline_call{false};
  tg::parallel_for(0, chunks, 1, [&](std::int64_t lo, std::int64_t hi) {
    if (lo == 0 && hi == chunks) {
      inline_call = true;
      return;
    }
    ++arrived;
    while (arrived.load() < chunks) std::this_thread::yield();
  });
  return !inline_call;
}

}  // namespace

TEST_CASE("parallel_for covers every index exactly once", "[parallel]") {
  ThreadsGuard guard;
  for (int threads : {1, 2, 3, 4}) {
    tg::set_num_threads(threads);
    for (std::int64_t begin : {0, -5, 1000}) {
      for (std::int64_t n : {0, 1, 2, 3, 7, 8, 100, 1001, 4099}) {
        for (std::int64_t grain : {-1, 0, 1, 2, 3, 7, 64, 1000, 5000}) {
          std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
          std::atomic<int> calls{0};
          std::atomic<bool> bad_range{false};
          tg::parallel_for(begin, begin + n, grain, [&](std::int64_t lo, std::int64_t hi) {
            ++calls;
            if (lo >= hi || lo < begin || hi > begin + n) bad_range = true;
            for (std::int64_t i = lo; i < hi && !bad_range; ++i) ++hits[i - begin];
          });
          INFO("threads " << threads << ", begin " << begin << ", n " << n << ", grain " << grain);
          REQUIRE_FALSE(bad_range);
          REQUIRE(std::all_of(hits.begin(), hits.end(),
                              [](const std::atomic<int>& h) { return h == 1; }));
          if (n == 0) REQUIRE(calls == 0);
          REQUIRE(calls <= threads);
        }
      }
    }
  }
}

TEST_CASE("parallel_for splits into at most num_threads() near-equal chunks of at least grain",
          "[parallel]") {
  ThreadsGuard guard;
  tg::set_num_threads(3);
  CHECK(chunks_of(0, 10, 1) == std::vector<Range>{{0, 4}, {4, 7}, {7, 10}});
  CHECK(chunks_of(5, 15, 4) == std::vector<Range>{{5, 10}, {10, 15}});  // 10 / 4 = 2 chunks
  CHECK(chunks_of(0, 7, 4) == std::vector<Range>{{0, 7}});  // less than two grains: inline
  CHECK(chunks_of(0, 2, 1) == std::vector<Range>{{0, 1}, {1, 2}});
  for (std::int64_t n : {9, 100, 1001})
    for (std::int64_t grain : {1, 2, 5, 50}) {
      const auto chunks = chunks_of(0, n, grain);
      INFO("n " << n << ", grain " << grain);
      CHECK(chunks.size() <= 3);
      for (const auto& [lo, hi] : chunks) CHECK(hi - lo >= std::min(grain, n));
    }
  CHECK(chunks_of(7, 3, 1).empty());  // end < begin: nothing to do
}

TEST_CASE("work smaller than the grain runs inline on the calling thread", "[parallel]") {
  ThreadsGuard guard;
  tg::set_num_threads(2);
  const auto caller = std::this_thread::get_id();
  for (std::int64_t n : {1, 5, 64}) {
    std::vector<std::pair<Range, std::thread::id>> calls;
    tg::parallel_for(10, 10 + n, 64, [&](std::int64_t lo, std::int64_t hi) {
      calls.push_back({{lo, hi}, std::this_thread::get_id()});  // inline: no lock needed
    });
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].first == Range{10, 10 + n});
    CHECK(calls[0].second == caller);
  }
}

TEST_CASE("a pool of one thread runs everything inline", "[parallel]") {
  ThreadsGuard guard;
  tg::set_num_threads(1);
  const auto caller = std::this_thread::get_id();
  std::vector<Range> calls;
  tg::parallel_for(0, 1000, 1, [&](std::int64_t lo, std::int64_t hi) {
    CHECK(std::this_thread::get_id() == caller);
    calls.emplace_back(lo, hi);
  });
  CHECK(calls == std::vector<Range>{{0, 1000}});
}

TEST_CASE("set_num_threads changes num_threads", "[parallel]") {
  ThreadsGuard guard;
  for (int n : {1, 2, 3, 5, 2, 1}) {
    tg::set_num_threads(n);
    CHECK(tg::num_threads() == n);
  }
}

TEST_CASE("chunks run concurrently on different threads", "[parallel]") {
  ThreadsGuard guard;
  for (int threads : {2, 3}) {
    tg::set_num_threads(threads);
    INFO("threads " << threads);
    for (int rep = 0; rep < 20; ++rep) REQUIRE(ran_concurrently(threads));
  }
}

TEST_CASE("nested parallel_for runs inline on the thread of the outer chunk", "[parallel]") {
  ThreadsGuard guard;
  tg::set_num_threads(2);
  std::mutex m;
  std::vector<std::int64_t> hits(4 * 1000, 0);
  int inner_calls = 0;
  bool same_thread = true;
  tg::parallel_for(0, 4, 1, [&](std::int64_t lo, std::int64_t hi) {
    const auto outer = std::this_thread::get_id();
    for (std::int64_t o = lo; o < hi; ++o) {
      tg::parallel_for(0, 1000, 1, [&](std::int64_t ilo, std::int64_t ihi) {
        std::lock_guard lk(m);
        ++inner_calls;
        same_thread &= std::this_thread::get_id() == outer;
        for (std::int64_t i = ilo; i < ihi; ++i) ++hits[o * 1000 + i];
      });
    }
  });
  CHECK(inner_calls == 4);  // one inline call per outer index
  CHECK(same_thread);
  CHECK(std::all_of(hits.begin(), hits.end(), [](std::int64_t h) { return h == 1; }));
  CHECK(ran_concurrently(2));  // the pool is usable afterwards
}

TEST_CASE("parallel_for from two user threads at once", "[parallel]") {
  // One of them gets the pool, the other runs its chunks inline; both must be complete.
  ThreadsGuard guard;
  tg::set_num_threads(2);
  const std::int64_t n = 100000;
  std::vector<std::atomic<int>> a(n), b(n);
  auto cover = [n](std::vector<std::atomic<int>>& hits) {
    for (int rep = 0; rep < 50; ++rep)
      tg::parallel_for(0, n, 100, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; ++i) ++hits[i];
      });
  };
  std::thread other([&] { cover(b); });
  cover(a);
  other.join();
  CHECK(std::all_of(a.begin(), a.end(), [](const std::atomic<int>& h) { return h == 50; }));
  CHECK(std::all_of(b.begin(), b.end(), [](const std::atomic<int>& h) { return h == 50; }));
}

TEST_CASE("an exception in a chunk is rethrown on the calling thread", "[parallel]") {
  ThreadsGuard guard;
  const int threads = GENERATE(1, 2, 3);
  tg::set_num_threads(threads);
  INFO("threads " << threads);

  SECTION("one chunk throws; its exception arrives intact and the other chunks still run") {
    for (std::int64_t thrower : {0, 150, 299}) {  // in the first, a middle and the last chunk
      INFO("index " << thrower << " throws");
      std::vector<std::atomic<int>> hits(300);
      try {
        tg::parallel_for(0, 300, 1, [&](std::int64_t lo, std::int64_t hi) {
          if (lo <= thrower && thrower < hi)
            throw tg::ValueError("bad index " + std::to_string(thrower));
          for (std::int64_t i = lo; i < hi; ++i) ++hits[i];
        });
        FAIL("parallel_for did not throw");
      } catch (const tg::ValueError& e) {
        CHECK(std::string(e.what()) == "bad index " + std::to_string(thrower));
      }
      if (threads > 1) {  // 300 splits evenly: every index outside the throwing chunk was covered
        const std::int64_t size = 300 / threads, first = thrower / size * size;
        for (std::int64_t i = 0; i < 300; ++i)
          REQUIRE(hits[i] == (i >= first && i < first + size ? 0 : 1));
      }
    }
  }
  SECTION("every chunk throws: the first chunk's exception wins") {
    for (int rep = 0; rep < 20; ++rep) {
      CHECK_THROWS_WITH(
          tg::parallel_for(0, 300, 1,
                           [](std::int64_t lo, std::int64_t) {
                             throw std::runtime_error("chunk at " + std::to_string(lo));
                           }),
          "chunk at 0");
    }
  }
  SECTION("the pool works normally afterwards") {
    CHECK_THROWS_AS(tg::parallel_for(0, 100, 1, [](std::int64_t, std::int64_t) { throw 42; }), int);
    CHECK(chunks_of(0, 9, 1).size() == static_cast<std::size_t>(threads));
    if (threads > 1) CHECK(ran_concurrently(threads));
  }
}

TEST_CASE("an exception in a nested parallel_for reaches the outer caller", "[parallel]") {
  ThreadsGuard guard;
  tg::set_num_threads(2);
  CHECK_THROWS_WITH(tg::parallel_for(0, 2, 1,
                                     [](std::int64_t lo, std::int64_t) {
                                       tg::parallel_for(0, 10, 1, [lo](std::int64_t, std::int64_t) {
                                         if (lo == 1) throw std::runtime_error("inner");
                                       });
                                     }),
                    "inner");
  CHECK(ran_concurrently(2));
}
