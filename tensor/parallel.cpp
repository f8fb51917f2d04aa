// A small fork-join pool: parallel_for publishes one job, the workers and the caller take chunk
// indices from the job's atomic counter, and the caller waits until every worker that joined the job
// has left it. An exception thrown by a chunk is caught where it happens and rethrown by the caller.
#include "tensor/parallel.hpp"

#include <algorithm>
#include <atomic>
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
  Job(const std::function<void(std::int64_t)>& body, std::int64_t chunks) : body(body), chunks(chunks) {}

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
      ++generation_;
    }
    cv_.notify_all();
    {
      InWorker in_worker;
      job.work();
    }
    // Every chunk has been taken; the ones taken by workers are done once those workers have left.
    // Unpublishing first means no late worker can join; waiting means none still touches `job`.
    {
      std::unique_lock lk(m_);
      job_ = nullptr;
      done_cv_.wait(lk, [&] { return active_ == 0; });
    }
    job.rethrow_if_failed();
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
  void loop() {
    t_in_worker = true;
    std::uint64_t seen = 0;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return quit_ || (generation_ != seen && job_ != nullptr); });
        if (quit_) return;
        seen = generation_;
        job = job_;
        ++active_;
      }
      job->work();
      std::lock_guard lk(m_);
      if (--active_ == 0) done_cv_.notify_all();
    }
  }

  int n_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one job at a time
  std::mutex m_;          // guards job_, active_, generation_, quit_
  std::condition_variable cv_, done_cv_;
  Job* job_ = nullptr;
  int active_ = 0;  // workers inside job_->work()
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
  // n / grain (rounded down) keeps every chunk at least `grain` long, as the header promises.
  const std::int64_t chunks = std::min<std::int64_t>(num_threads(), n / grain);
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
