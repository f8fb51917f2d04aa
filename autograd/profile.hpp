// A per-op profiler a learner can read: for every op name, how many times its forward and its
// backward ran and how long they took, beside named regions (the optimizer step, data loading,
// evaluation), as one table with each row's share of the wall time.
//
// Turn it on with TG_PROFILE=1 in the environment (the table is printed to stderr when the program
// exits) or with tg::profile::enable(). Off, it costs one predictable branch per recorded op.
//
// How the time is split: record() closes a forward interval at each op (the time since the previous
// op, region or backward step ended is that op's forward, which is where its tensor work ran), the
// engine times each node's backward, and a Region times a block of code as a whole (ops run inside
// a region belong to the region). Time that falls in none of these shows as "(other)".
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace tg::profile {

namespace detail {
extern bool g_enabled;
}

// Is the profiler counting? (Set from TG_PROFILE at start-up.)
inline bool enabled() { return detail::g_enabled; }
// Turns it on or off. Turning it on the first time starts the wall clock; see reset().
void enable(bool on = true);
// Forgets every count and restarts the wall clock.
void reset();

using Clock = std::chrono::steady_clock;

// Hooks for the tape and the engine (autograd/tape.cpp); call only when enabled().
void forward_done(const char* op);  // the forward of `op` just finished
void backward_done(const char* op, Clock::duration d);
// Restarts the forward interval: the time up to now is not any op's forward.
void mark();

// Times its scope under `name` (a string literal), exclusive of regions nested in it.
class Region {
 public:
  explicit Region(const char* name);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

 private:
  const char* name_ = nullptr;  // null when the profiler was off at construction
  Clock::time_point start_;
  Clock::duration children_{};
  Region* parent_ = nullptr;
};

struct Row {
  std::string name;
  bool region = false;
  std::int64_t forward_calls = 0, backward_calls = 0;
  double forward_seconds = 0, backward_seconds = 0;
  double total() const { return forward_seconds + backward_seconds; }
};

// The rows so far, largest total first, and the wall time since enable() or reset().
std::vector<Row> rows();
double wall_seconds();
// The table: one row per op or region, with its share of the wall time, and "(other)" for the rest.
void print(std::ostream& os);

}  // namespace tg::profile
