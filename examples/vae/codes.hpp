// The compression use of the VAE example: `vae encode` writes the code of every image (the
// encoder's mean mu, or the AE's h) as an (n, latent) f32 .npy file, with the labels as an (n,) f32
// .npy beside it (codes.npy -> codes.labels.npy); `vae decode` turns such a file back into
// pictures, with any checkpoint of the same latent width. Both files open with NumPy's np.load.
#pragma once
#include <string>

#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"

namespace vae {

// codes.npy -> codes.labels.npy (the same folder; any extension is replaced).
std::string labels_path_for(const std::string& codes_path);

// Encodes every image of the split and writes the codes to `path` and the labels beside it. Both
// files are complete or absent: the labels are written first and removed again if the codes cannot
// be.
void write_codes(const std::string& path, Model& model, const Split& split);

// Reads a codes file for `model`: an (n, latent) array with n >= 1 and finite values; a file of the
// wrong shape is a tg::Error saying what differs (columns against the checkpoint's latent size).
tg::Tensor read_codes(const std::string& path, const Config& config, const std::string& checkpoint);

// Reads n labels (an (n,) array of integers 0..classes-1) as one-hot rows (n, classes).
tg::Tensor read_labels(const std::string& path, std::int64_t n, std::int64_t classes);

}  // namespace vae
