// A program of a project that uses tapegrad: fits y = tanh(2x) + noise with a small network that
// predicts a Normal distribution's mean and log-scale, trained on the negative log-likelihood with
// Adam. Exits 0 when the fit is good, 1 otherwise. (Built by tests/package/check-consumer.)
#include <cstdio>
#include <memory>
#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/distributions/normal.hpp>
#include <tapegrad/nn/layers.hpp>
#include <tapegrad/nn/optim.hpp>
#include <tapegrad/tensor/ops.hpp>
#include <tapegrad/tensor/random.hpp>

int main() {
  tg::Generator gen(7);
  const std::int64_t n = 256;
  const tg::Tensor x = tg::reshape(tg::Tensor::linspace(-3, 3, n), {n, 1});
  const tg::Tensor noise = tg::Tensor::randn({n, 1}, tg::DType::f32, &gen) * 0.1;
  const tg::Variable xs(x), ys(tg::tanh(x * 2.0) + noise);

  tg::nn::Sequential net;
  net.push_back(std::make_shared<tg::nn::Linear>(1, 32, true, tg::DType::f32, &gen));
  net.push_back(std::make_shared<tg::nn::Tanh>());
  net.push_back(std::make_shared<tg::nn::Linear>(32, 2, true, tg::DType::f32, &gen));
  tg::optim::Adam opt(net.parameters(), 1e-2);

  double first = 0, last = 0;
  for (int step = 0; step < 400; ++step) {
    opt.zero_grad();
    const tg::Variable out = net.forward(xs);
    const tg::Variable mean = tg::slice(out, 1, 0, 1), log_scale = tg::slice(out, 1, 1, 2);
    const tg::dist::Normal p(mean, tg::exp(log_scale));
    const tg::Variable loss = -tg::mean(p.log_prob(ys));
    tg::backward(loss);
    opt.step();
    last = loss.value().item();
    if (step == 0) first = last;
    if (step % 100 == 0) std::printf("step %3d  nll %8.4f\n", step, last);
  }
  // A noise of 0.1 bounds the mean NLL below by log(0.1 sqrt(2 pi e)) = -0.88; the start is ~1.
  std::printf("nll %.4f -> %.4f\n", first, last);
  return last < -0.3 ? 0 : 1;
}
