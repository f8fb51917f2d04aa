// A small fork-join pool: parallel_for publishes one job, the workers and the caller take chunk
// indices from the job's atomic counter, and the caller waits until every worker that joined the
// job has left it. Idle workers spin briefly before they sleep (see spin_time()). An exception
// thrown by a chunk is caught where it happens and rethrown by the caller.
#include "tapegrad/tensor/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace tg {
namespace {

thread_local bool t_in_worker = false;

// Marks the current thread as running pool work, so a parallel_for inside a chunk runs inline.
struct InWorker {
  bool saved = t_in_worker;
  InWorker() { t_in_worker = true; }
  ~InWorker() { t_in_worker = saved; }
};

// One parallel_for's chunks. It lives on the caller's stack; workers reach it through Pool::job_.
struct Job {
  Job(const std::function<void(std::int64_t)>& body, std::int64_t chunks)
      : body(body), chunks(chunks) {}

  // Takes chunks until none are left. Every chunk runs even if another one threw.
  void work() {
    for (std::int64_t c; (c = next.fetch_add(1)) < chunks;) {
      try {
        body(c);
      } catch (...) {
        // Keep the lowest chunk's exception, so which one is rethrown does not depend on timing.
        std::lock_guard lk(error_mutex);
        if (c < error_chunk) {
          error = std::current_exception();
          error_chunk = c;
        }
      }
    }
  }
  void rethrow_if_failed() {
    if (error) std::rethrow_exception(error);
  }

  const std::function<void(std::int64_t)>& body;
  const std::int64_t chunks;
  std::atomic<std::int64_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  std::int64_t error_chunk = std::numeric_limits<std::int64_t>::max();
};

// How long an idle worker (and a caller waiting for its workers) spins before it sleeps on a
// condition variable. A training step runs hundreds of parallel loops a few microseconds apart, and
// a sleeping thread takes 15-100 us to wake on a VM; spinning through those gaps keeps the workers
// on hand, as OpenBLAS's and OpenMP's pools do. TG_SPIN_US overrides it (0: sleep at once).
std::chrono::microseconds spin_time() {
  if (const char* env = std::getenv("TG_SPIN_US")) {
    const long us = std::strtol(env, nullptr, 10);
    if (us >= 0) return std::chrono::microseconds(us);
  }
  return std::chrono::microseconds(200);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or the spin time is over; true if done() became true.
template <class Done>
bool spin_until(Done done, std::chrono::microseconds spin) {
  if (spin.count() == 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + spin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return done();
  }
}

class Pool {
 public:
  explicit Pool(int n) : spin_(spin_time()) { start(n); }
  ~Pool() { stop(); }

  int size() const { return n_; }

  void resize(int n) {
    std::lock_guard busy(run_mutex_);
    stop();
    start(n);
  }

  void run(std::int64_t chunks, const std::function<void(std::int64_t)>& body) {
    Job job(body, chunks);
    std::unique_lock busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || n_ == 1) {  // another thread is using the pool: run inline
      job.work();
      job.rethrow_if_failed();
      return;
    }
    {
      std::lock_guard lk(m_);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleeping_.load(std::memory_order_acquire) > 0) cv_.notify_all();
    {
      InWorker in_worker;
      job.work();
    }
    // Every chunk has been taken; the ones taken by workers are done once those workers have left.
    // Unpublishing first means no late worker can join; waiting means none still touches `job`.
    {
      std::lock_guard lk(m_);
      job_ = nullptr;
    }
    if (!spin_until([&] { return active_.load(std::memory_order_acquire) == 0; }, spin_)) {
      std::unique_lock lk(m_);
      done_cv_.wait(lk, [&] { return active_.load(std::memory_order_acquire) == 0; });
    }
    job.rethrow_if_failed();
  }

 private:
  void start(int n) {
    n_ = std::max(1, n);
    quit_ = false;
    // The generation as of now, read here rather than by each new thread: a job published before a
    // worker gets to run must still count as new to it.
    const std::uint64_t now = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, now] { loop(now); });
  }
  void stop() {
    {
      std::lock_guard lk(m_);
      quit_ = true;
      generation_.fetch_add(1, std::memory_order_release);  // ends the spinning too
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }
  void loop(std::uint64_t seen) {
    t_in_worker = true;
    for (;;) {
      // A new job usually follows within microseconds: watch for it before going to sleep.
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_);
      Job* job = nullptr;
      {
        std::unique_lock lk(m_);
        const auto ready = [&] {
          return quit_ || (generation_.load(std::memory_order_relaxed) != seen && job_);
        };
        if (!quit_ && !job_ && generation_.load(std::memory_order_relaxed) != seen) {
          // Woke too late for that job (the caller finished it alone): watch for the next one.
          seen = generation_.load(std::memory_order_relaxed);
          continue;
        }
        if (!ready()) {
          sleeping_.fetch_add(1, std::memory_order_acq_rel);
          cv_.wait(lk, ready);
          sleeping_.fetch_sub(1, std::memory_order_acq_rel);
        }
        if (quit_) return;
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
        active_.fetch_add(1, std::memory_order_acq_rel);
      }
      job->work();
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lk(m_);  // a caller that gave up spinning waits on done_cv_ under m_
        done_cv_.notify_all();
      }
    }
  }

  int n_ = 1;
  const std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex m_;          // guards job_ and quit_; cv_ and done_cv_ wait on it
  std::condition_variable cv_, done_cv_;
  Job* job_ = nullptr;
  std::atomic<int> active_{0};    // workers inside job_->work()
  std::atomic<int> sleeping_{0};  // workers waiting on cv_
  std::atomic<std::uint64_t> generation_{0};
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
  // n / grain (rounded down) keeps every chunk at least `grain` long, as the header promises.
  const std::int64_t chunks = std::min<std::int64_t>(num_threads(), n / grain);
  if (chunks <= 1 || t_in_worker) {
    fn(begin, end);
    return;
  }
  // Contiguous chunks of nearly equal size; which thread runs a chunk never changes what it
  // computes.
  const std::int64_t base = n / chunks, extra = n % chunks;
  pool().run(chunks, [&](std::int64_t c) {
    const std::int64_t lo = begin + c * base + std::min(c, extra);
    const std::int64_t hi = lo + base + (c < extra ? 1 : 0);
    fn(lo, hi);
  });
}

}  // namespace tg
