// The profiler counts what ran: forwards at record time, backwards per node, regions as a whole
// (and the ops inside a region belong to it). Counts only: no test here depends on how long
// anything took.
#include <catch2/catch.hpp>
#include <sstream>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/profile.hpp"

using namespace tg;

namespace {

const profile::Row* find_row(const std::vector<profile::Row>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

// Turns the profiler on for one test and off again, with fresh counts.
struct Profiling {
  Profiling() {
    profile::enable(true);
    profile::reset();
  }
  ~Profiling() { profile::enable(false); }
};

}  // namespace

TEST_CASE("profile: forward and backward calls are counted per op") {
  Profiling on;
  Variable x(Tensor::from_values({3, 5}, std::vector<double>(15, 0.5), DType::f64), true);
  for (int i = 0; i < 3; ++i) {
    Variable y = sum(exp(x) * x);
    backward(y);
  }
  const auto rows = profile::rows();
  for (const char* op : {"exp", "mul", "sum"}) {
    const profile::Row* r = find_row(rows, op);
    REQUIRE(r != nullptr);
    CHECK(r->forward_calls == 3);
    CHECK(r->backward_calls == 3);
    CHECK(r->forward_seconds >= 0);
    CHECK(r->backward_seconds >= 0);
    CHECK_FALSE(r->region);
  }
  // The gradient sums the engine makes are part of the backward, not forwards of their own.
  CHECK(find_row(rows, "add") == nullptr);
  const profile::Row* release = find_row(rows, "tape release");
  REQUIRE(release != nullptr);
  CHECK(release->region);
  CHECK(release->forward_calls == 3);
}

TEST_CASE("profile: ops inside a region belong to the region; nested regions are exclusive") {
  Profiling on;
  Variable x(Tensor::from_values({4}, {1.0, 2.0, 3.0, 4.0}, DType::f64), true);
  {
    profile::Region outer("outer");
    Variable y = exp(x);
    {
      profile::Region inner("inner");
      Variable z = log(x);
    }
  }
  const auto rows = profile::rows();
  CHECK(find_row(rows, "exp") == nullptr);
  CHECK(find_row(rows, "log") == nullptr);
  const profile::Row* outer = find_row(rows, "outer");
  const profile::Row* inner = find_row(rows, "inner");
  REQUIRE(outer != nullptr);
  REQUIRE(inner != nullptr);
  CHECK(outer->forward_calls == 1);
  CHECK(inner->forward_calls == 1);
  CHECK(outer->total() + inner->total() <= profile::wall_seconds());
}

TEST_CASE("profile: off, nothing is counted") {
  profile::enable(false);
  profile::reset();
  Variable x(Tensor::from_values({2}, {1.0, 2.0}, DType::f64), true);
  backward(sum(exp(x)));
  { profile::Region r("region"); }
  CHECK(profile::rows().empty());
}

TEST_CASE("profile: the table names every row and its share") {
  Profiling on;
  Variable x(Tensor::from_values({2}, {1.0, 2.0}, DType::f64), true);
  backward(sum(tanh(x)));
  { profile::Region r("my region"); }
  std::ostringstream os;
  profile::print(os);
  const std::string table = os.str();
  CHECK(table.find("tanh") != std::string::npos);
  CHECK(table.find("[my region]") != std::string::npos);
  CHECK(table.find("(other)") != std::string::npos);
  CHECK(table.find("share") != std::string::npos);
}
