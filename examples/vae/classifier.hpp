// A small digit classifier, trained with tapegrad itself, that scores generated images for
// `vae compare`: an MLP 784-256-ReLU-10 with softmax cross-entropy, Adam, a few epochs on the
// training images. A decoded sample counts as "a clear digit" when the classifier gives one class a
// probability of at least 0.9; the entropy of the histogram of predicted classes says whether a
// sampler covers all ten classes (log2 10 = 3.32 bits) or keeps drawing the same few.
#pragma once
#include <array>
#include <cstdint>
#include <memory>

#include "examples/vae/data.hpp"
#include "tapegrad/nn/layers.hpp"

namespace vae {

// Mean softmax cross-entropy -log softmax(logits)[label] over the batch, written with log_softmax.
tg::Variable cross_entropy(const tg::Variable& logits, const std::vector<int>& labels);

class Classifier : public tg::nn::Module {
 public:
  Classifier(std::int64_t input, std::int64_t hidden, std::int64_t classes, tg::Generator* init);
  std::string type_name() const override { return "Classifier"; }
  tg::Variable forward(const tg::Variable& x) override;  // logits (B, classes)
  // Class probabilities of images (n, input) in [0, 1], (n, classes) f32, no gradient.
  tg::Tensor probabilities(const tg::Tensor& images);

 private:
  std::shared_ptr<tg::nn::Linear> fc1_, fc2_;
};

struct ClassifierReport {
  int epochs = 0;
  double test_accuracy = 0;  // share of the test images classified correctly
  double seconds = 0;
};

// Trains a classifier on split.train (grey values, as the VAE sees them with --binarize none) and
// reports its accuracy on data.test.
std::unique_ptr<Classifier> train_classifier(const Data& data, int epochs, std::uint64_t seed,
                                             ClassifierReport* report);

// How a classifier sees a set of images.
struct SamplerScore {
  std::int64_t n = 0;
  double confident = 0;     // share with max probability >= 0.9
  double confident_se = 0;  // its standard error, sqrt(p (1 - p) / n)
  double entropy_bits =
      0;  // entropy of the histogram of predicted classes, in bits (max log2 classes)
  std::vector<std::int64_t> histogram;  // predicted class counts
  std::vector<int> predicted;           // each image's predicted class
  std::vector<float> confidence;        // each image's max probability
};
SamplerScore score_images(Classifier& c, const tg::Tensor& images, double threshold = 0.9);

}  // namespace vae
