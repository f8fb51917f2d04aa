// The convolutional VAE of `vae train --model conv-vae` in libtorch's C++ frontend (Debian's
// libtorch-dev), the same layers, loss and schedule as bench/conv_vae_torch.py: for a side-by-side
// comparison without Python (bench/compare_conv_vae.sh). One JSON object per epoch, the keys of
// tapegrad's metrics.jsonl; `seconds` is the epoch's training time, evaluation excluded.
//
//   conv_vae_libtorch --data DIR [--epochs 10] [--batch 128] [--latent 20] [--threads 2] [--seed 1]
#include <torch/torch.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

// An IDX file (gzip or plain: gzread reads both) as a uint8 tensor of its dimensions.
torch::Tensor read_idx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> bytes;
  unsigned char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) bytes.insert(bytes.end(), buf, buf + n);
  gzclose(f);
  if (bytes.size() < 4) throw std::runtime_error(path + ": not an IDX file");
  const int ndim = bytes[3];
  std::vector<int64_t> dims;
  std::size_t at = 4;
  for (int i = 0; i < ndim; ++i, at += 4)
    dims.push_back((int64_t(bytes[at]) << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) |
                   bytes[at + 3]);
  int64_t n = 1;
  for (auto d : dims) n *= d;
  if (bytes.size() != at + std::size_t(n))
    throw std::runtime_error(path + ": size does not match its header");
  return torch::from_blob(bytes.data() + at, {n}, torch::kUInt8).clone().reshape(dims);
}

std::string find(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    const std::string p = dir + "/" + name;
    if (FILE* f = std::fopen(p.c_str(), "rb")) {
      std::fclose(f);
      return p;
    }
  }
  throw std::runtime_error(dir + " has no " + stem + "[.gz]");
}

struct ConvVAEImpl : torch::nn::Module {
  int64_t latent;
  torch::nn::Sequential encoder{nullptr}, decoder{nullptr};
  explicit ConvVAEImpl(int64_t latent_) : latent(latent_) {
    namespace nn = torch::nn;
    encoder = register_module(
        "encoder",
        nn::Sequential(nn::Unflatten(nn::UnflattenOptions(1, {1, 28, 28})),
                       nn::Conv2d(nn::Conv2dOptions(1, 32, 4).stride(2).padding(1)), nn::ReLU(),
                       nn::Conv2d(nn::Conv2dOptions(32, 64, 4).stride(2).padding(1)), nn::ReLU(),
                       nn::Flatten(), nn::Linear(64 * 7 * 7, 2 * latent)));
    decoder = register_module(
        "decoder",
        nn::Sequential(
            nn::Linear(latent, 64 * 7 * 7), nn::ReLU(),
            nn::Unflatten(nn::UnflattenOptions(1, {64, 7, 7})),
            nn::ConvTranspose2d(nn::ConvTranspose2dOptions(64, 32, 4).stride(2).padding(1)),
            nn::ReLU(),
            nn::ConvTranspose2d(nn::ConvTranspose2dOptions(32, 1, 4).stride(2).padding(1)),
            nn::Flatten()));
  }
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(const torch::Tensor& x) {
    const auto h = encoder->forward(x);
    auto mu = h.slice(1, 0, latent), logvar = h.slice(1, latent, 2 * latent);
    auto z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
    return {decoder->forward(z), mu, logvar};
  }
};
TORCH_MODULE(ConvVAE);

std::pair<torch::Tensor, torch::Tensor> loss_terms(const torch::Tensor& logits,
                                                   const torch::Tensor& x, const torch::Tensor& mu,
                                                   const torch::Tensor& logvar) {
  auto bce = torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::Sum);
  auto kld = -0.5 * torch::sum(1 + logvar - mu.pow(2) - logvar.exp());
  return {bce, kld};
}

}  // namespace

int main(int argc, char** argv) {
  std::string data;
  int64_t epochs = 10, batch = 128, latent = 20, threads = 2, seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout
          << "conv_vae_libtorch --data DIR [--epochs 10] [--batch 128] [--latent 20] [--threads 2] "
             "[--seed 1]\n"
             "The conv VAE of `vae train --model conv-vae` in libtorch; one JSON line per epoch.\n";
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "error: " << a << " needs a value (see --help)\n";
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (a == "--data")
        data = v;
      else if (a == "--epochs")
        epochs = std::stoll(v);
      else if (a == "--batch")
        batch = std::stoll(v);
      else if (a == "--latent")
        latent = std::stoll(v);
      else if (a == "--threads")
        threads = std::stoll(v);
      else if (a == "--seed")
        seed = std::stoll(v);
      else {
        std::cerr << "error: unknown argument " << a << " (see --help)\n";
        return 2;
      }
    } catch (const std::logic_error&) {
      std::cerr << "error: " << a << " " << v << " is not a number\n";
      return 2;
    }
  }
  if (data.empty() || epochs < 1 || batch < 1 || latent < 1 || threads < 1) {
    std::cerr << "error: --data is required, and --epochs/--batch/--latent/--threads must be >= 1 "
                 "(see --help)\n";
    return 2;
  }
  try {
    torch::manual_seed(seed);
    torch::set_num_threads(static_cast<int>(threads));
    const auto train_x =
        read_idx(find(data, "train-images-idx3-ubyte")).reshape({-1, 784}).to(torch::kFloat) / 255;
    const auto test_x =
        read_idx(find(data, "t10k-images-idx3-ubyte")).reshape({-1, 784}).to(torch::kFloat) / 255;
    ConvVAE model(latent);
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
    const int64_t n = train_x.size(0), nt = test_x.size(0);
    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
      model->train();
      const auto start = std::chrono::steady_clock::now();
      const auto perm = torch::randperm(n);
      double train_loss = 0;
      for (int64_t i = 0; i < n; i += batch) {
        const auto x = train_x.index_select(0, perm.slice(0, i, std::min(n, i + batch)));
        opt.zero_grad();
        auto [logits, mu, logvar] = model->forward(x);
        auto [bce, kld] = loss_terms(logits, x, mu, logvar);
        auto loss = bce + kld;
        loss.backward();
        opt.step();
        train_loss += loss.item<double>();
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      model->eval();
      double recon = 0, kl = 0;
      {
        torch::NoGradGuard no_grad;
        for (int64_t i = 0; i < nt; i += 500) {
          const auto x = test_x.slice(0, i, std::min(nt, i + 500));
          auto [logits, mu, logvar] = model->forward(x);
          auto [bce, kld] = loss_terms(logits, x, mu, logvar);
          recon += bce.item<double>();
          kl += kld.item<double>();
        }
      }
      std::printf(
          "{\"epoch\": %lld, \"train_loss\": %.6f, \"test_loss\": %.6f, \"test_recon\": %.6f, "
          "\"test_kl\": %.6f, \"seconds\": %.6f}\n",
          static_cast<long long>(epoch), train_loss / n, (recon + kl) / nt, recon / nt, kl / nt,
          seconds);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
