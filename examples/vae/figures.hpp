// The VAE example's figures, each from a trained model: reconstructions, samples from the prior,
// latent interpolations, the latent space coloured by digit, loss curves, the 2-D manifold, and the
// autoencoder-versus-VAE comparison that shows what docs/elbo.md argues.
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
// n decodings of z ~ N(0, I); for the cvae, of digit `digit` (every digit in turn when digit < 0).
void write_samples(const std::string& path, Model& model, int n, int digit, std::uint64_t seed);
// One row per pair: the image `from`, the decodings along the straight line between the two codes,
// the image `to`.
void write_interpolation(const std::string& path, Model& model, const Split& split,
                         const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs, int steps);
// Default pairs: the first test image of one digit to the first of another, for a few digit pairs;
// when no such pair exists (a tiny test set), the first image to the last. Empty only for an empty split.
std::vector<std::pair<std::int64_t, std::int64_t>> default_pairs(const Split& split);
// The codes of the split in 2-D (PCA when the latent has more than 2 dimensions), coloured by digit.
void write_latent(const std::string& path, Model& model, const Split& split, const std::string& title);
void write_loss(const std::string& path, const std::vector<EpochMetrics>& history);
// Latent 2 only: decodings over an n x n grid of inverse-normal-CDF quantiles (Kingma and Welling).
void write_manifold(const std::string& path, Model& model, int n = 20);

// One self-contained SVG: for each model, interpolations, prior samples and the latent space, side
// by side. `pictures` names the PNG/SVG files already written for each model, embedded as data URIs.
struct ComparePanel {
  std::string name;  // "autoencoder", "VAE"
  std::string interpolation_png, samples_png, latent_svg;
  // The last epoch's test terms, shown apart: the AE's loss is its reconstruction alone, so a single
  // "loss" number would compare a reconstruction with a bound on -log p(x).
  double test_recon, test_kl;
};
void write_compare_figure(const std::string& path, const std::vector<ComparePanel>& panels);

}  // namespace vae
