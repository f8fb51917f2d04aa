// What the tape costs: recording plus backward for a tiny op, where the per-op overhead is
// everything, and for a 128x400 element-wise op (the VAE's hidden layer size), where the kernels
// start to matter; each beside the same forward under NoGradGuard, so the difference is the
// autograd bookkeeping. f32, the process-wide thread pool (TG_NUM_THREADS, default: every core).
// bench/autograd_torch.py times the same four cases in PyTorch; bench/compare_autograd.sh runs
// both.
//
//   autograd/tiny/fwd_bwd     y = x * w + b on scalars, backward(y)            (2 ops recorded)
//   autograd/tiny/fwd_nograd  the same forward under NoGradGuard
//   autograd/128x400/fwd_bwd  y = sum(relu(x * w)), x and w (128, 400), backward(y)  (3 ops)
//   autograd/128x400/fwd_nograd
#include <benchmark/benchmark.h>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/tensor/random.hpp"

namespace {

using tg::DType;
using tg::Tensor;
using tg::Variable;

void tiny_fwd_bwd(benchmark::State& state) {
  const Variable x(Tensor::scalar(1.5, DType::f32));
  Variable w(Tensor::scalar(0.5, DType::f32), true), b(Tensor::scalar(-0.25, DType::f32), true);
  for (auto _ : state) {
    const Variable y = x * w + b;
    tg::backward(y);
    benchmark::DoNotOptimize(w.grad());
    w.zero_grad();  // PyTorch's w.grad = None
    b.zero_grad();
  }
}

void tiny_fwd_nograd(benchmark::State& state) {
  const Variable x(Tensor::scalar(1.5, DType::f32));
  const Variable w(Tensor::scalar(0.5, DType::f32), true),
      b(Tensor::scalar(-0.25, DType::f32), true);
  tg::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(x * w + b);
}

struct Mid {
  tg::Generator gen{0};
  Variable x{Tensor::randn({128, 400}, DType::f32, &gen)};
  Variable w{Tensor::randn({128, 400}, DType::f32, &gen), true};
};

void mid_fwd_bwd(benchmark::State& state) {
  Mid m;
  for (auto _ : state) {
    const Variable y = tg::sum(tg::relu(m.x * m.w));
    tg::backward(y);
    benchmark::DoNotOptimize(m.w.grad());
    m.w.zero_grad();
  }
}

void mid_fwd_nograd(benchmark::State& state) {
  Mid m;
  tg::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(tg::sum(tg::relu(m.x * m.w)));
}

BENCHMARK(tiny_fwd_bwd)
    ->Name("autograd/tiny/fwd_bwd")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(tiny_fwd_nograd)
    ->Name("autograd/tiny/fwd_nograd")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(mid_fwd_bwd)
    ->Name("autograd/128x400/fwd_bwd")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(mid_fwd_nograd)
    ->Name("autograd/128x400/fwd_nograd")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
