// The process-wide thread pool. TG_NUM_THREADS sets its size (default: the hardware's count).
// parallel_for splits [begin, end) into at most num_threads() contiguous chunks of at least `grain`
// iterations; work smaller than one grain, or a call made from inside a worker, runs inline.
// If fn throws, every chunk still runs, and the exception of the lowest-numbered throwing chunk is
// rethrown on the calling thread.
#pragma once
#include <cstdint>
#include <functional>

namespace tg {

int num_threads();
// Resizes the pool (n >= 1). Not to be called while a parallel_for is running.
void set_num_threads(int n);
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace tg
