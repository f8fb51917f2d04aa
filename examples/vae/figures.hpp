// The VAE example's figures, each from a trained model: reconstructions, samples from the prior,
// latent interpolations, the latent space coloured by class, loss curves and the 2-D manifold (the
// autoencoder-versus-VAE figures are in compare.hpp). Grids carry their labels: the class asked of
// a cvae, the step along an interpolation, originals above reconstructions.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/train.hpp"

namespace vae {

// Originals (first row) above their reconstructions (second row), n images of the split.
void write_reconstructions(const std::string& path, Model& model, const Split& split, int n = 16);
// n decodings of z ~ N(0, I); for the cvae, of digit `digit` (when digit < 0, one column per class,
// each labelled with its name). `names`: the ten class names (empty: the digits).
void write_samples(const std::string& path, Model& model, int n, int digit, std::uint64_t seed,
                   const std::vector<std::string>& names = {});
// Decodes the given codes (n, latent), 10 to a row, each tile captioned with its index; labels (n
// one-hot rows) only for the cvae.
void write_decoded(const std::string& path, Model& model, const tg::Tensor& codes,
                   const tg::Tensor& labels);
// One row per pair: the image `from`, the decodings along the straight line between the two codes,
// the image `to`.
void write_interpolation(const std::string& path, Model& model, const Split& split,
                         const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs, int steps,
                         const std::vector<std::string>& names = {});
// Default pairs: the first test image of one digit to the first of another, for a few digit pairs;
// when no such pair exists (a tiny test set), the first image to the last. Empty only for an empty
// split.
std::vector<std::pair<std::int64_t, std::int64_t>> default_pairs(const Split& split);
// The codes of the split in 2-D (PCA when the latent has more than 2 dimensions), coloured by
// digit.
void write_latent(const std::string& path, Model& model, const Split& split,
                  const std::string& title, const std::vector<std::string>& names = {});
// sparse-ae: the codes h in (0, 1) of the first n test images as a picture, one row per image and
// one column per code unit, white = 1 (active), black = 0: a sparse code is mostly black.
void write_code_map(const std::string& path, Model& model, const Split& split, int n = 40);
// Train and test loss per epoch: "negative ELBO" for the VAEs, "reconstruction" for the
// autoencoders.
void write_loss(const std::string& path, const std::vector<EpochMetrics>& history,
                bool variational = true);
// Latent 2 only: decodings over an n x n grid of inverse-normal-CDF quantiles (Kingma and Welling).
void write_manifold(const std::string& path, Model& model, int n = 20);

// compare --models: one panel per model (its interpolations, samples and latent codes, the last
// epoch's test terms), side by side in one SVG.
struct ComparePanel {
  std::string name;  // "VAE", "conv VAE"
  std::string interpolation_png, samples_png, latent_svg;
  // Shown apart: an AE's loss is its reconstruction alone, so a single "loss" would compare a
  // reconstruction with a bound on -log p(x).
  double test_recon, test_kl;
};
void write_compare_figure(const std::string& path, const std::vector<ComparePanel>& panels);

// Standard base64 (RFC 4648, with padding), for images embedded as data URIs.
std::string base64(const std::string& bytes);
// An SVG <image> at (x, y), w x h, with the file inlined as a data: URI of the given MIME type.
std::string embed(const std::string& file, const std::string& mime, int x, int y, int w, int h);

}  // namespace vae
