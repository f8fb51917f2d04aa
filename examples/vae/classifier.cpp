// The classifier that scores `vae compare`'s samples. See classifier.hpp.
#include "examples/vae/classifier.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/optim.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

Variable cross_entropy(const Variable& logits, const std::vector<int>& labels) {
  const std::int64_t b = logits.value().size(0), k = logits.value().size(1);
  if (static_cast<std::int64_t>(labels.size()) != b)
    throw tg::ValueError(
        fmt::format("cross_entropy: {} logit rows but {} labels", b, labels.size()));
  // -(1/B) sum_i log softmax(l_i)[y_i], the label picked out by a one-hot mask.
  Tensor mask = Tensor::zeros({b, k}, logits.value().dtype());
  for (std::int64_t i = 0; i < b; ++i) {
    if (labels[i] < 0 || labels[i] >= k)
      throw tg::ValueError(
          fmt::format("cross_entropy: label {} of row {} is outside 0..{}", labels[i], i, k - 1));
    mask.set({i, labels[i]}, 1.0);
  }
  return -tg::sum(tg::log_softmax(logits, 1) * Variable(mask)) * (1.0 / static_cast<double>(b));
}

Classifier::Classifier(std::int64_t input, std::int64_t hidden, std::int64_t classes,
                       tg::Generator* init) {
  fc1_ = register_module(
      "fc1", std::make_shared<tg::nn::Linear>(input, hidden, true, tg::DType::f32, init));
  fc2_ = register_module(
      "fc2", std::make_shared<tg::nn::Linear>(hidden, classes, true, tg::DType::f32, init));
}

Variable Classifier::forward(const Variable& x) {
  return fc2_->forward(tg::relu(fc1_->forward(x)));
}

Tensor Classifier::probabilities(const Tensor& images) {
  tg::NoGradGuard no_grad;
  eval();
  constexpr std::int64_t kBatch = 500;
  std::vector<Tensor> parts;
  for (std::int64_t b = 0; b < images.size(0); b += kBatch) {
    const Tensor x = tg::slice(images, 0, b, std::min(images.size(0), b + kBatch));
    parts.push_back(tg::softmax(forward(Variable(x)), 1).value());
  }
  return tg::concat(parts, 0);
}

std::unique_ptr<Classifier> train_classifier(const Data& data, int epochs, std::uint64_t seed,
                                             ClassifierReport* report) {
  const auto start = std::chrono::steady_clock::now();
  tg::Generator gen(seed);
  auto c = std::make_unique<Classifier>(data.train.pixels(), 256, 10, &gen);
  tg::optim::Adam opt(c->parameters(), 1e-3);
  const std::int64_t n = data.train.size(), batch = 128;
  for (int e = 0; e < epochs; ++e) {
    c->train();
    const auto perm = permutation(n, gen);
    for (std::int64_t s = 0; s < n; s += batch) {
      const std::vector<std::int64_t> idx(perm.begin() + s, perm.begin() + std::min(n, s + batch));
      std::vector<int> y;
      for (auto i : idx) y.push_back(data.train.labels[i]);
      const Variable loss = cross_entropy(c->forward(Variable(data.train.images(idx))), y);
      opt.zero_grad();
      tg::backward(loss);
      opt.step();
    }
  }
  if (report) {
    report->epochs = epochs;
    const SamplerScore s = score_images(*c, data.test.images());
    std::int64_t right = 0;
    for (std::int64_t i = 0; i < s.n; ++i) right += s.predicted[i] == data.test.labels[i];
    report->test_accuracy = s.n ? static_cast<double>(right) / static_cast<double>(s.n) : 0;
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return c;
}

SamplerScore score_images(Classifier& c, const Tensor& images, double threshold) {
  const Tensor p = c.probabilities(images);
  const std::int64_t n = p.size(0), k = p.size(1);
  const std::vector<double> v = p.to_vector();
  SamplerScore s;
  s.n = n;
  s.histogram.assign(static_cast<std::size_t>(k), 0);
  std::int64_t sure = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    int best = 0;
    for (int j = 1; j < k; ++j)
      if (v[i * k + j] > v[i * k + best]) best = j;
    s.predicted.push_back(best);
    s.confidence.push_back(static_cast<float>(v[i * k + best]));
    ++s.histogram[best];
    sure += v[i * k + best] >= threshold;
  }
  if (n == 0) return s;
  s.confident = static_cast<double>(sure) / static_cast<double>(n);
  s.confident_se = std::sqrt(s.confident * (1 - s.confident) / static_cast<double>(n));
  for (auto count : s.histogram)
    if (count > 0) {
      const double q = static_cast<double>(count) / static_cast<double>(n);
      s.entropy_bits -= q * std::log2(q);
    }
  return s;
}

}  // namespace vae
