// The convolutional VAE's networks (--model conv-vae), the model people run next on MNIST:
//   encoder  (B, rows*cols) -> (B, 1, rows, cols) -> Conv2d(1, 32, 4, stride 2, padding 1) -> ReLU
//            -> Conv2d(32, 64, 4, 2, 1) -> ReLU -> Flatten -> Linear(64 rows/4 cols/4, 2 latent)
//            (the Gaussian's mu and logvar, side by side)
//   decoder  the mirror: Linear(latent, 64 rows/4 cols/4) -> ReLU -> Unflatten ->
//   ConvTranspose2d(64, 32,
//            4, 2, 1) -> ReLU -> ConvTranspose2d(32, 1, 4, 2, 1) -> Flatten: (B, rows*cols) pixel
//            logits
// Images and logits stay flat (B, rows*cols) outside, so the loss, training loop and pictures are
// the MLP VAE's. bench/conv_vae_torch.py builds the same layers with the same parameter names.
#pragma once
#include <cstdint>
#include <memory>

#include "examples/vae/models.hpp"
#include "tapegrad/nn/layers.hpp"

namespace vae {

// The conv VAE's channels and kernel (PyTorch's usual MNIST conv VAE): 1 -> 32 -> 64, 4x4,
// stride 2.
inline constexpr std::int64_t kConvC1 = 32, kConvC2 = 64, kConvKernel = 4;

// Both need rows and cols divisible by 4 (two stride-2 halvings); a ValueError says so otherwise.
std::shared_ptr<tg::nn::Sequential> conv_encoder(const Config& config, tg::Generator* init,
                                                 tg::DType dtype);
std::shared_ptr<tg::nn::Sequential> conv_decoder(const Config& config, tg::Generator* init,
                                                 tg::DType dtype);

}  // namespace vae
