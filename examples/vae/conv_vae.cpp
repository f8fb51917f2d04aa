#include "examples/vae/conv_vae.hpp"

#include <fmt/format.h>

#include "tapegrad/nn/conv.hpp"

namespace vae {
namespace {

constexpr std::int64_t kC1 = kConvC1, kC2 = kConvC2, kKernel = kConvKernel;

tg::ConvOptions halving() { return tg::ConvOptions().set_stride(2).set_padding(1); }  // H -> H / 2

void check_size(const Config& c) {
  if (c.rows % 4 != 0 || c.cols % 4 != 0 || c.rows < 4 || c.cols < 4)
    throw tg::ValueError(
        fmt::format("conv-vae: images of {}x{} do not halve twice (rows and cols must be "
                    "multiples of 4, like MNIST's 28x28); use --model vae for this data",
                    c.rows, c.cols));
}

}  // namespace

std::shared_ptr<tg::nn::Sequential> conv_encoder(const Config& c, tg::Generator* init,
                                                 tg::DType dtype) {
  using namespace tg::nn;
  check_size(c);
  auto s = std::make_shared<Sequential>();
  s->push_back(std::make_shared<Unflatten>(1, tg::Shape{1, c.rows, c.cols}));
  s->push_back(std::make_shared<Conv2d>(1, kC1, kKernel, halving(), true, dtype, init));
  s->push_back(std::make_shared<ReLU>());
  s->push_back(std::make_shared<Conv2d>(kC1, kC2, kKernel, halving(), true, dtype, init));
  s->push_back(std::make_shared<ReLU>());
  s->push_back(std::make_shared<Flatten>());
  s->push_back(
      std::make_shared<Linear>(kC2 * (c.rows / 4) * (c.cols / 4), 2 * c.latent, true, dtype, init));
  return s;
}

std::shared_ptr<tg::nn::Sequential> conv_decoder(const Config& c, tg::Generator* init,
                                                 tg::DType dtype) {
  using namespace tg::nn;
  check_size(c);
  auto s = std::make_shared<Sequential>();
  s->push_back(
      std::make_shared<Linear>(c.latent, kC2 * (c.rows / 4) * (c.cols / 4), true, dtype, init));
  s->push_back(std::make_shared<ReLU>());
  s->push_back(std::make_shared<Unflatten>(1, tg::Shape{kC2, c.rows / 4, c.cols / 4}));
  s->push_back(std::make_shared<ConvTranspose2d>(kC2, kC1, kKernel, halving(), true, dtype, init));
  s->push_back(std::make_shared<ReLU>());
  s->push_back(std::make_shared<ConvTranspose2d>(kC1, 1, kKernel, halving(), true, dtype, init));
  s->push_back(std::make_shared<Flatten>());
  return s;
}

}  // namespace vae
