// The four models of the VAE example, all with the layer sizes of PyTorch's examples/vae so results
// compare one to one: encoder 784-400-ReLU, code 20, decoder 20-400-ReLU-784 logits.
//   vae        q(z|x) = N(mu, exp(logvar / 2)), trained on the negative ELBO (docs/elbo.md, eq. 9)
//   ae         a deterministic code, trained on reconstruction alone
//   sparse-ae  the AE with a sigmoid code h in (0, 1) and the KL sparsity penalty of Ng's notes:
//              lambda * sum_j KL(Bernoulli(rho) || Bernoulli(mean_batch h_j)) (--sparsity,
//              --sparsity-target)
//   cvae       the VAE with the one-hot label fed to both encoder and decoder
//   conv-vae   the VAE with convolutional encoder and decoder (conv_vae.hpp); --hidden does not
//   apply
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/nn/layers.hpp"
#include "tapegrad/tensor/random.hpp"

namespace vae {

enum class ModelKind { vae, ae, sparse_ae, cvae, conv_vae };
enum class Likelihood { bernoulli, continuous_bernoulli, gaussian };

ModelKind parse_model(const std::string& s);  // "vae" | "ae" | "sparse-ae" | "cvae" | "conv-vae"
std::string model_name(ModelKind k);
std::string display_name(ModelKind k);  // for figures: "autoencoder", "VAE", "conv VAE", ...
Likelihood parse_likelihood(
    const std::string& s);  // "bernoulli" | "continuous-bernoulli" | "gaussian"
std::string likelihood_name(Likelihood l);
// --sigma: a positive number (a fixed sigma) or "learned" (returned as 0).
double parse_sigma(const std::string& s);
// A sparse-ae code entry below this counts as inactive (the code is a sigmoid, in (0, 1)).
inline constexpr double kInactiveBelow = 0.1;
// Where a learned sigma of the Gaussian likelihood starts.
inline constexpr double kLearnedSigmaStart = 0.1;

struct Config {
  ModelKind kind = ModelKind::vae;
  Likelihood likelihood = Likelihood::bernoulli;
  std::int64_t rows = 28, cols = 28;
  std::int64_t hidden = 400, latent = 20, classes = 10;
  double sparsity = 3.0;  // sparse-ae: weight lambda of the KL sparsity penalty (Ng: beta = 3)
  double sparsity_target = 0.05;  // sparse-ae: the target mean activation rho of each code unit
  double sigma = 0;               // gaussian: the fixed sigma of p(x|z), or 0 for one learned sigma
  std::int64_t input() const;     // rows * cols; a ValueError if that overflows
  bool variational() const {
    return kind == ModelKind::vae || kind == ModelKind::cvae || kind == ModelKind::conv_vae;
  }
  bool conditional() const { return kind == ModelKind::cvae; }

  // Stored in the checkpoint's metadata, so `vae eval` rebuilds the same model. from_metadata
  // checks every field (whole-string numbers, sizes within the limits below) and throws
  // tg::FormatError naming `file` and the field; it allocates nothing.
  std::map<std::string, std::string> to_metadata() const;
  static Config from_metadata(const std::map<std::string, std::string>& meta,
                              const std::string& file);
  static constexpr std::int64_t max_side = 1 << 16;   // rows, cols
  static constexpr std::int64_t max_units = 1 << 24;  // hidden, latent, classes

  // The name and shape of every parameter the model has (what Model's constructor registers), so a
  // checkpoint's tensors can be checked against its metadata before anything is built.
  std::vector<std::pair<std::string, tg::Shape>> parameter_shapes() const;
};

// The loss terms of one batch, each summed over the batch (like PyTorch's example).
struct Terms {
  tg::Variable objective;   // what backward() gets: recon + beta * kl (+ the sparsity penalty)
  tg::Variable recon;       // -sum log p(x|z)                      (eq. 15)
  tg::Variable kl;          // sum KL(q(z|x) || p(z)); 0 for the AEs (eq. 11)
  tg::Variable recon_each;  // -log p(x|z) of each image, (B,): for standard errors
  tg::Variable kl_each;     // KL of each image, (B,); undefined for the AEs
  tg::Variable
      penalty;  // sparse-ae: the sparsity penalty (batch size times eq. 20); undefined otherwise
  tg::Variable code;  // the deterministic code of each image: mu for the VAEs, h for the AEs
};

class Model : public tg::nn::Module {
 public:
  // Parameters in `dtype` (f64 for gradcheck), drawn from `init` (the default generator when null).
  Model(const Config& config, tg::Generator* init, tg::DType dtype = tg::DType::f32);
  const Config& config() const { return config_; }
  std::string type_name() const override { return "Model"; }

  // The encoder. For the VAEs: (mu, logvar); for the AEs: (code, undefined). `y` is the one-hot
  // label (cvae only; ignored otherwise).
  std::pair<tg::Variable, tg::Variable> encode(const tg::Variable& x, const tg::Variable& y);
  // The decoder's pixel logits.
  tg::Variable decode(const tg::Variable& z, const tg::Variable& y);
  // The sigma of the Gaussian likelihood (fixed or learned); NaN for the others.
  double sigma() const;
  // The likelihood's mean pixel values in [0, 1], for pictures.
  tg::Tensor decode_mean(const tg::Variable& z, const tg::Variable& y);
  // log p(x|z) per image (summed over pixels): shape (B,).
  tg::Variable log_likelihood(const tg::Variable& logits, const tg::Variable& x) const;
  // The batch's loss terms; z is drawn with `gen` (reparameterized, so gradients reach the
  // encoder).
  Terms loss(const tg::Variable& x, const tg::Variable& y, double beta, tg::Generator& gen);

 private:
  tg::Variable with_label(const tg::Variable& v, const tg::Variable& y) const;
  Config config_;
  std::shared_ptr<tg::nn::Linear> fc1_, fc21_, fc22_, fc3_, fc4_;
  tg::Variable log_sigma_;  // gaussian with a learned sigma: one scalar, log sigma
  std::shared_ptr<tg::nn::Sequential> conv_encoder_, conv_decoder_;  // conv-vae only
};

}  // namespace vae
