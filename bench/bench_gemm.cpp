// tg::gemm against OpenBLAS's cblas_sgemm/dgemm on the VAE's products (and 1024^3), side by side in
// one program, with 1 and 2 threads. Each benchmark reports GFLOP/s (2*M*N*K per call).
// Names: gemm/<impl>/<dtype>/<MxNxK>_<op(A)op(B)>/threads:<n>, e.g.
// gemm/tapegrad/f32/128x400x784_NT/threads:1. bench/gemm_ratio.py runs this program and prints the
// tapegrad / OpenBLAS ratio per shape.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tapegrad/tensor/gemm.hpp"
#include "tapegrad/tensor/parallel.hpp"

#ifdef TG_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

struct Shape {
  bool ta, tb;
  std::int64_t M, N, K;
  const char* what;
};

// The VAE (784-400-20) with batch 128. `linear` computes y = x W^T with W stored (out, in), so the
// forward products have op(B) = W^T (trans_b); dW = dY^T X has trans_a; dX = dY W has no transpose.
const Shape kShapes[] = {
    {false, true, 128, 400, 784, "fwd encoder fc: x(128,784) W^T, W (400,784)"},
    {false, true, 128, 20, 400, "fwd mu/logvar: h(128,400) W^T, W (20,400)"},
    {false, true, 128, 400, 20, "fwd decoder fc1: z(128,20) W^T, W (400,20)"},
    {false, true, 128, 784, 400, "fwd decoder out: h(128,400) W^T, W (784,400)"},
    {true, false, 400, 784, 128, "dW encoder fc: dY^T(400,128) X(128,784)"},
    {true, false, 784, 400, 128, "dW decoder out: dY^T(784,128) X(128,400)"},
    {true, false, 20, 400, 128, "dW mu/logvar: dY^T(20,128) X(128,400)"},
    {false, false, 128, 784, 400, "dX encoder fc: dY(128,400) W(400,784)"},
    {false, false, 128, 400, 784, "dX decoder out: dY(128,784) W(784,400)"},
    {false, false, 128, 400, 20, "dX mu/logvar: dY(128,20) W(20,400)"},
    {false, false, 128, 20, 400, "128x400 . 400x20 without transpose"},
    {false, false, 1024, 1024, 1024, "square"},
    {false, true, 1024, 1024, 1024, "square, trans_b"},
    {false, false, 1, 1, 1, "tiny: call overhead"},
};

std::string shape_name(const Shape& s) {
  return std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K) + "_" +
         (s.ta ? "T" : "N") + (s.tb ? "T" : "N");
}

template <class T>
struct Operands {
  std::vector<T> a, b, c;
  std::int64_t lda, ldb, ldc;
  explicit Operands(const Shape& s)
      : a(static_cast<std::size_t>(s.M * s.K)),
        b(static_cast<std::size_t>(s.K * s.N)),
        c(static_cast<std::size_t>(s.M * s.N)),
        lda(s.ta ? s.M : s.K),
        ldb(s.tb ? s.K : s.N),
        ldc(s.N) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (auto& x : a) x = static_cast<T>(u(rng));
    for (auto& x : b) x = static_cast<T>(u(rng));
  }
};

// GFLOP/s: the usual rate over all iterations. best_GFLOP/s: from the fastest single call, which on
// a shared machine (other jobs compiling) is the least disturbed one; both libraries get the same
// treatment, so the ratio stays fair.
void set_flops(benchmark::State& state, const Shape& s, double best_seconds) {
  const double gflop = 2e-9 * double(s.M) * double(s.N) * double(s.K);
  state.counters["GFLOP/s"] =
      benchmark::Counter(gflop, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["best_GFLOP/s"] =
      benchmark::Counter(best_seconds > 0 ? gflop / best_seconds : 0.0);
}

// Times one call for best_GFLOP/s.
template <class F>
double timed(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class T>
void bm_tapegrad(benchmark::State& state, Shape s, int threads) {
  tg::set_num_threads(threads);
  Operands<T> o(s);
  double best = 1e30;
  for (auto _ : state) {
    best = std::min(best, timed([&] {
                      tg::gemm<T>(s.ta, s.tb, s.M, s.N, s.K, T(1), o.a.data(), o.lda, o.b.data(),
                                  o.ldb, T(0), o.c.data(), o.ldc);
                    }));
    benchmark::ClobberMemory();
  }
  set_flops(state, s, best);
}

#ifdef TG_HAVE_OPENBLAS
template <class T>
void bm_openblas(benchmark::State& state, Shape s, int threads) {
  openblas_set_num_threads(threads);
  Operands<T> o(s);
  const auto ta = s.ta ? CblasTrans : CblasNoTrans, tb = s.tb ? CblasTrans : CblasNoTrans;
  const int M = int(s.M), N = int(s.N), K = int(s.K);
  double best = 1e30;
  for (auto _ : state) {
    best = std::min(best, timed([&] {
                      if constexpr (sizeof(T) == 4)
                        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, o.a.data(), int(o.lda),
                                    o.b.data(), int(o.ldb), 0.0f, o.c.data(), int(o.ldc));
                      else
                        cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, 1.0, o.a.data(), int(o.lda),
                                    o.b.data(), int(o.ldb), 0.0, o.c.data(), int(o.ldc));
                    }));
    benchmark::ClobberMemory();
  }
  set_flops(state, s, best);
}
#endif

// Registers one implementation's benchmarks for dtype T. The square shapes run longer: each call is
// ~10 ms.
template <class T>
void register_impl(const char* impl, void (*fn)(benchmark::State&, Shape, int), const char* dtype,
                   bool square_only) {
  for (const Shape& s : kShapes) {
    const bool square = s.M == 1024;
    if (square_only && !square) continue;
    for (int threads : {1, 2}) {
      const std::string name = std::string("gemm/") + impl + "/" + dtype + "/" + shape_name(s) +
                               "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), fn, s, threads)
          ->UseRealTime()
          ->MinTime(square ? 1.0 : 0.3);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // All of tapegrad first, then all of OpenBLAS: OpenBLAS's workers spin for a while after each
  // call (its thread timeout), which would steal a core from a tapegrad run that came right after.
  // f64 is the gradcheck dtype: only the square case matters there.
  register_impl<float>("tapegrad", bm_tapegrad<float>, "f32", false);
  register_impl<double>("tapegrad", bm_tapegrad<double>, "f64", true);
#ifdef TG_HAVE_OPENBLAS
  register_impl<float>("openblas", bm_openblas<float>, "f32", false);
  register_impl<double>("openblas", bm_openblas<double>, "f64", true);
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#ifndef TG_HAVE_OPENBLAS
  benchmark::AddCustomContext("openblas", "not found at build time: tapegrad only");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
