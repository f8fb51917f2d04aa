// A small fork-join pool: parallel_for publishes one job, the workers and the caller take chunk
// indices from an atomic counter, and the caller waits until every chunk is done.
#include "tensor/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace tg {
namespace {

thread_local bool t_in_worker = false;

class Pool {
 public:
  explicit Pool(int n) { start(n); }
  ~Pool() { stop(); }

  int size() const { return n_; }

  void resize(int n) {
    std::lock_guard busy(run_mutex_);
    stop();
    start(n);
  }

  void run(std::int64_t chunks, const std::function<void(std::int64_t)>& body) {
    std::unique_lock busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || n_ == 1) {  // another thread is using the pool: run inline
      for (std::int64_t c = 0; c < chunks; ++c) body(c);
      return;
    }
    {
      std::lock_guard lk(m_);
      body_ = &body;
      chunks_ = chunks;
      next_.store(0);
      remaining_ = chunks;
      ++generation_;
    }
    cv_.notify_all();
    t_in_worker = true;  // a parallel_for inside the body runs inline
    work();
    t_in_worker = false;
    std::unique_lock lk(m_);
    done_cv_.wait(lk, [&] { return remaining_ == 0; });
    body_ = nullptr;
  }

 private:
  void start(int n) {
    n_ = std::max(1, n);
    quit_ = false;
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this] { loop(); });
  }
  void stop() {
    {
      std::lock_guard lk(m_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }
  // Takes chunks until none are left; returns after finishing its last one.
  void work() {
    std::int64_t done = 0;
    for (std::int64_t c; (c = next_.fetch_add(1)) < chunks_;) {
      (*body_)(c);
      ++done;
    }
    if (done > 0) {
      std::lock_guard lk(m_);
      remaining_ -= done;
      if (remaining_ == 0) done_cv_.notify_all();
    }
  }
  void loop() {
    t_in_worker = true;
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return quit_ || (generation_ != seen && body_ != nullptr); });
        if (quit_) return;
        seen = generation_;
      }
      work();
    }
  }

  int n_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(std::int64_t)>* body_ = nullptr;
  std::int64_t chunks_ = 0;
  std::atomic<std::int64_t> next_{0};
  std::int64_t remaining_ = 0;
  std::uint64_t generation_ = 0;
  bool quit_ = false;
};

int default_threads() {
  if (const char* env = std::getenv("TG_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
  static Pool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n); }

void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  const std::int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t chunks = std::min<std::int64_t>(num_threads(), (n + grain - 1) / grain);
  if (chunks <= 1 || t_in_worker) {
    fn(begin, end);
    return;
  }
  // Contiguous chunks of nearly equal size; which thread runs a chunk never changes what it computes.
  const std::int64_t base = n / chunks, extra = n % chunks;
  pool().run(chunks, [&](std::int64_t c) {
    const std::int64_t lo = begin + c * base + std::min(c, extra);
    const std::int64_t hi = lo + base + (c < extra ? 1 : 0);
    fn(lo, hi);
  });
}

}  // namespace tg
