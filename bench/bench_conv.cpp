// conv2d / conv_transpose2d at the conv VAE's shapes (batch 128, f32): each layer's forward and its
// two backward products, the tensor-level calls the autograd ops make. bench/conv_torch.py times
// the same calls in PyTorch (F.conv2d / F.conv_transpose2d and aten::convolution_backward);
// bench/compare_conv.sh runs both. Threads: the process-wide pool (TG_NUM_THREADS, default: every
// core).
//
//   conv/enc1/...  conv2d            (128, 1, 28, 28)  * (32, 1, 4, 4), stride 2, padding 1 ->
//   (128, 32, 14, 14) conv/enc2/...  conv2d            (128, 32, 14, 14) * (64, 32, 4, 4) -> (128,
//   64, 7, 7) conv/dec1/...  conv_transpose2d  (128, 64, 7, 7)   * (64, 32, 4, 4) -> (128, 32, 14,
//   14) conv/dec2/...  conv_transpose2d  (128, 32, 14, 14) * (32, 1, 4, 4)                      ->
//   (128, 1, 28, 28)
//   .../fwd  the forward, .../bwd_input  d/dx, .../bwd_weight  d/dw
#include <benchmark/benchmark.h>

#include "tapegrad/tensor/conv.hpp"
#include "tapegrad/tensor/random.hpp"

namespace {

using tg::ConvOptions;
using tg::Shape;
using tg::Tensor;

const ConvOptions kHalve = ConvOptions().set_stride(2).set_padding(1);

struct Layer {
  Shape x, w;
  bool transposed;
};

Tensor randn(const Shape& s) {
  static tg::Generator gen(1);
  return Tensor::randn(s, tg::DType::f32, &gen);
}

void run(benchmark::State& state, const Layer& l, int which) {
  const Tensor x = randn(l.x), w = randn(l.w), b = randn({l.transposed ? l.w[1] : l.w[0]});
  const Tensor y =
      l.transposed ? tg::conv_transpose2d(x, w, b, kHalve) : tg::conv2d(x, w, b, kHalve);
  const Tensor gy = randn(y.shape());
  for (auto _ : state) {
    Tensor r;
    if (which == 0)
      r = l.transposed ? tg::conv_transpose2d(x, w, b, kHalve) : tg::conv2d(x, w, b, kHalve);
    else if (which == 1)  // d/dx: the adjoint of the forward
      r = l.transposed ? tg::conv2d(gy, w, Tensor(), kHalve)
                       : tg::conv2d_backward_input(gy, w, l.x, kHalve);
    else  // d/dw
      r = l.transposed ? tg::conv2d_backward_weight(x, gy, l.w, kHalve)
                       : tg::conv2d_backward_weight(gy, x, l.w, kHalve);
    benchmark::DoNotOptimize(r.raw_data());
  }
}

const Layer kEnc1{{128, 1, 28, 28}, {32, 1, 4, 4}, false},
    kEnc2{{128, 32, 14, 14}, {64, 32, 4, 4}, false}, kDec1{{128, 64, 7, 7}, {64, 32, 4, 4}, true},
    kDec2{{128, 32, 14, 14}, {32, 1, 4, 4}, true};

}  // namespace

#define TG_CONV_BENCH(layer, name)                 \
  BENCHMARK_CAPTURE(run, layer##_fwd, k##layer, 0) \
      ->Name("conv/" name "/fwd")                  \
      ->Unit(benchmark::kMillisecond)              \
      ->UseRealTime();                             \
  BENCHMARK_CAPTURE(run, layer##_bi, k##layer, 1)  \
      ->Name("conv/" name "/bwd_input")            \
      ->Unit(benchmark::kMillisecond)              \
      ->UseRealTime();                             \
  BENCHMARK_CAPTURE(run, layer##_bw, k##layer, 2)  \
      ->Name("conv/" name "/bwd_weight")           \
      ->Unit(benchmark::kMillisecond)              \
      ->UseRealTime();

TG_CONV_BENCH(Enc1, "enc1")
TG_CONV_BENCH(Enc2, "enc2")
TG_CONV_BENCH(Dec1, "dec1")
TG_CONV_BENCH(Dec2, "dec2")

BENCHMARK_MAIN();
