// The element-wise and reduction kernels (tensor/kernels.hpp) on every SIMD unit this CPU has,
// beside a plain scalar std:: loop compiled in this program (baseline x86-64, as the compiler
// vectorises it). n = 128 * 784 f32 (one MNIST batch); reports bytes/s (reads + writes) and
// items/s. Names: kernels/<op>/<impl>/f32/100352, impl = avx512 | avx2 | sse4.2 | scalar
// (tapegrad's units) or std_loop.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/tensor/kernels.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"

namespace {

namespace kernels = tg::kernels;
namespace detail = tg::kernels::detail;
using kernels::Binary;
using kernels::Unary;

constexpr std::int64_t n = 128 * 784;

struct Data {
  std::vector<float> a, b, y;
  Data() : a(n), b(n), y(n) {
    std::uint64_t s = 1;
    for (std::int64_t i = 0; i < n; ++i) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      a[i] = float(double(s >> 11) * 0x1.0p-53 * 8 - 4);  // [-4, 4): the range of pre-activations
      b[i] = float(i % 17) * 0.25f - 2;
    }
  }
};
Data& data() {
  static Data d;
  return d;
}

// Runs fn in the benchmark loop; `streams` arrays of n floats are read or written per call.
void run(benchmark::State& state, int streams, const std::function<void()>& fn) {
  for (auto _ : state) {
    fn();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * streams * std::int64_t(sizeof(float)));
}

// The std:: loops: what a straightforward implementation compiles to.
void std_add(const float* a, const float* b, float* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void std_mul(const float* a, const float* b, float* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void std_exp(const float* a, float* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = std::exp(a[i]);
}
void std_softplus(const float* a, float* y) {
  for (std::int64_t i = 0; i < n; ++i)
    y[i] = std::max(a[i], 0.0f) + std::log1p(std::exp(-std::abs(a[i])));
}
float std_sum(const float* a) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i];
  return s;
}

void register_all() {
  Data& d = data();
  struct Op {
    const char* name;
    int streams;
    std::function<void()> tapegrad, plain;
  };
  const Op ops[] = {
      {"add", 3,
       [&d] { kernels::binary(Binary::add, d.a.data(), 1, d.b.data(), 1, d.y.data(), n); },
       [&d] { std_add(d.a.data(), d.b.data(), d.y.data()); }},
      {"mul", 3,
       [&d] { kernels::binary(Binary::mul, d.a.data(), 1, d.b.data(), 1, d.y.data(), n); },
       [&d] { std_mul(d.a.data(), d.b.data(), d.y.data()); }},
      {"exp", 2, [&d] { kernels::unary(Unary::exp, d.a.data(), d.y.data(), n); },
       [&d] { std_exp(d.a.data(), d.y.data()); }},
      {"softplus", 2, [&d] { kernels::unary(Unary::softplus, d.a.data(), d.y.data(), n); },
       [&d] { std_softplus(d.a.data(), d.y.data()); }},
      {"sum", 1, [&d] { benchmark::DoNotOptimize(kernels::sum(d.a.data(), n)); },
       [&d] { benchmark::DoNotOptimize(std_sum(d.a.data())); }},
  };
  for (const Op& op : ops) {
    const std::string prefix = std::string("kernels/") + op.name + "/";
    for (const detail::Unit unit : detail::supported_units()) {
      benchmark::RegisterBenchmark(
          (prefix + std::string(detail::unit_name(unit)) + "/f32/" + std::to_string(n)).c_str(),
          [unit, op](benchmark::State& state) {
            detail::select_unit(unit);
            run(state, op.streams, op.tapegrad);
          });
    }
    benchmark::RegisterBenchmark(
        (prefix + "std_loop/f32/" + std::to_string(n)).c_str(),
        [op](benchmark::State& state) { run(state, op.streams, op.plain); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
