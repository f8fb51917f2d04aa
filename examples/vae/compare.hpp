// `vae compare`: the argument of docs/elbo.md section 1, shown and measured. For one latent size,
// an autoencoder and a VAE with the same layers and training budget are drawn side by side:
//   (a) their latent spaces, with the region each sampler draws from (the N(0, I) contours, and the
//       Gaussian fitted to the model's own codes);
//   (b) decodings over a grid spanning the codes (the same box for both models at latent 2), so
//   that
//       the regions between the classes' pools show what they decode to;
//   (c) samples from N(0, I) and from the fitted Gaussian;
//   (d) interpolations between test images of different classes whose codes lie far apart;
// and every set of decodings is scored by a classifier (classifier.hpp): the share it calls a clear
// digit (probability >= 0.9) and the entropy of its class histogram.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "examples/vae/classifier.hpp"
#include "examples/vae/data.hpp"
#include "examples/vae/models.hpp"
#include "examples/vae/train.hpp"

namespace vae {

// One scored set of images.
struct CompareRow {
  std::string model;  // "ae", "vae", or "data" for the test images themselves
  std::string
      sampler;  // "N(0, I)", "fitted Gaussian", "latent grid", "interpolations", "test images"
  SamplerScore score;
};

struct CompareModel {
  Model* model = nullptr;
  std::vector<EpochMetrics> history;
};

struct CompareResult {
  std::int64_t latent = 0;
  std::vector<CompareRow> rows;
  std::string figure;  // the path of the SVG that puts the pictures together
};

struct CompareOptions {
  std::string dir;                       // where the pictures go (created by the caller)
  std::vector<std::string> class_names;  // 10
  int samples = 1000;  // samples per sampler that the classifier scores (64 are drawn)
  int grid = 16;       // the latent grid is grid x grid
  std::uint64_t seed = 1;
};

CompareResult compare_models(const CompareModel& ae, const CompareModel& vae, const Data& data,
                             Classifier& clf, const CompareOptions& options);

// The interpolation pairs: for each of a few class pairs, the test images (of the first 100 of each
// class) whose codes are farthest apart, distances measured in units of each model's code spread
// and added over the models, so that both models interpolate between the same two images.
std::vector<std::pair<std::int64_t, std::int64_t>> far_pairs(
    const Split& split, const std::vector<const tg::Tensor*>& codes);

// compare.json: the classifier and every row of every result, one JSON document.
std::string compare_json(const ClassifierReport& clf, const std::vector<CompareResult>& results);

}  // namespace vae
