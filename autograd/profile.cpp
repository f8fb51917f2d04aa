// The profiler's counters: one row per name, kept in a map under a mutex (taken only when the
// profiler is on), and per thread the point where the current forward interval began and the
// innermost open region.
#include "tapegrad/autograd/profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <ostream>

namespace tg::profile {
namespace {

struct State {
  std::mutex m;
  std::map<std::string, Row, std::less<>> rows;
  Clock::time_point start = Clock::now();
  bool started = false;  // the wall clock runs from the first enable()
};

State& state() {
  static State s;
  return s;
}

thread_local Clock::time_point t_mark = Clock::now();
thread_local Region* t_region = nullptr;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Row& row(State& s, const char* name, bool region) {
  auto it = s.rows.find(std::string_view(name));
  if (it == s.rows.end()) {
    it = s.rows.emplace(name, Row{}).first;
    it->second.name = name;
    it->second.region = region;
  }
  return it->second;
}

bool env_on() {
  const char* v = std::getenv("TG_PROFILE");
  return v && *v && std::strcmp(v, "0") != 0;
}

// Prints the table to stderr when the program ends with the profiler on. Constructed after
// state() (it calls it), so it is destroyed before it.
struct AtExit {
  AtExit() {
    state();
    if (env_on()) enable(true);
  }
  ~AtExit() {
    if (enabled()) print(std::cerr);
  }
};

}  // namespace

namespace detail {
bool g_enabled = false;
}

namespace {
const AtExit at_exit;
}

void enable(bool on) {
  State& s = state();
  {
    std::lock_guard lk(s.m);
    if (on && !s.started) {
      s.start = Clock::now();
      s.started = true;
    }
  }
  t_mark = Clock::now();
  detail::g_enabled = on;
}

void reset() {
  State& s = state();
  std::lock_guard lk(s.m);
  s.rows.clear();
  s.start = Clock::now();
  t_mark = s.start;
}

void mark() { t_mark = Clock::now(); }

void forward_done(const char* op) {
  const Clock::time_point now = Clock::now();
  if (!t_region) {  // inside a region, the region owns the time
    State& s = state();
    std::lock_guard lk(s.m);
    Row& r = row(s, op, false);
    ++r.forward_calls;
    r.forward_seconds += seconds(now - t_mark);
  }
  t_mark = now;
}

void backward_done(const char* op, Clock::duration d) {
  if (t_region) return;
  State& s = state();
  std::lock_guard lk(s.m);
  Row& r = row(s, op, false);
  ++r.backward_calls;
  r.backward_seconds += seconds(d);
}

Region::Region(const char* name) {
  if (!enabled()) return;
  name_ = name;
  parent_ = t_region;
  t_region = this;
  start_ = Clock::now();
}

Region::~Region() {
  if (!name_) return;
  const Clock::time_point now = Clock::now();
  const Clock::duration d = now - start_;
  t_region = parent_;
  if (parent_) parent_->children_ += d;
  t_mark = now;
  State& s = state();
  std::lock_guard lk(s.m);
  Row& r = row(s, name_, true);
  ++r.forward_calls;
  r.forward_seconds += seconds(d - children_);
}

std::vector<Row> rows() {
  State& s = state();
  std::lock_guard lk(s.m);
  std::vector<Row> out;
  for (const auto& [_, r] : s.rows) out.push_back(r);
  std::stable_sort(out.begin(), out.end(),
                   [](const Row& a, const Row& b) { return a.total() > b.total(); });
  return out;
}

double wall_seconds() {
  State& s = state();
  std::lock_guard lk(s.m);
  return seconds(Clock::now() - s.start);
}

void print(std::ostream& os) {
  const std::vector<Row> rs = rows();
  const double wall = wall_seconds();
  double counted = 0;
  for (const Row& r : rs) counted += r.total();
  const auto share = [&](double t) { return wall > 0 ? 100 * t / wall : 0.0; };
  os << fmt::format(
      "profile: {:.3f} s of wall time; ops: forward and backward, [regions] as a whole\n", wall);
  os << fmt::format("{:<26} {:>8} {:>11} {:>8} {:>11} {:>11} {:>7}\n", "op or [region]", "fwd",
                    "fwd ms", "bwd", "bwd ms", "total ms", "share");
  for (const Row& r : rs) {
    const std::string name = r.region ? "[" + r.name + "]" : r.name;
    const std::string bwd_calls = r.region ? "" : fmt::format("{}", r.backward_calls);
    const std::string bwd_ms = r.region ? "" : fmt::format("{:.1f}", 1e3 * r.backward_seconds);
    os << fmt::format("{:<26} {:>8} {:>11.1f} {:>8} {:>11} {:>11.1f} {:>6.1f}%\n", name,
                      r.forward_calls, 1e3 * r.forward_seconds, bwd_calls, bwd_ms, 1e3 * r.total(),
                      share(r.total()));
  }
  const double other = std::max(0.0, wall - counted);
  os << fmt::format("{:<26} {:>8} {:>11} {:>8} {:>11} {:>11.1f} {:>6.1f}%\n", "(other)", "", "", "",
                    "", 1e3 * other, share(other));
}

}  // namespace tg::profile
