// `vae dump`: a checkpoint's encoder and decoder outputs on test images, written as a safetensors
// file, so that another framework given the same checkpoint can check it computes the same numbers
// (tools/torch_roundtrip.py does this with PyTorch).
#pragma once
#include <cstdint>
#include <string>

#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"

namespace vae {

// Writes, for the first n test images (in eval mode, no sampling):
//   x       (n, pixels)   the images fed to the encoder, f32 in [0, 1]
//   y       (n, classes)  their one-hot labels (cvae only)
//   mu      (n, latent)   the encoder's mean (the AEs' code)
//   logvar  (n, latent)   the encoder's log-variance (VAEs only)
//   logits  (n, pixels)   the decoder's pixel logits at z = mu
// with the model's configuration as metadata. Throws tg::ValueError when n is not in 1..split size.
void write_dump(const std::string& path, Model& model, const Split& test, std::int64_t n);

}  // namespace vae
