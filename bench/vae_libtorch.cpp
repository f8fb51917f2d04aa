// PyTorch's examples/vae in libtorch's C++ frontend: the same model, loss, optimizer and batches as
// bench/vae_torch.py, without Python in the loop, so `bench/compare_vae.sh` can set tapegrad beside
// the fastest way to run PyTorch's own kernels on this machine.
//
// 784-400-ReLU-(20, 20), 20-400-ReLU-784; BCE with logits (sum) + KL; Adam lr 1e-3; batch 128; grey
// values. Prints one JSON object per epoch with the keys of tapegrad's metrics.jsonl; `seconds` is
// the epoch's training time, evaluation excluded.
//
//   vae_libtorch --data DIR [--epochs N] [--batch B] [--threads T] [--seed S]
#include <torch/torch.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// The bytes of an IDX file, gzipped or not (gzread reads both).
std::vector<unsigned char> read_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

std::string find(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem})
    if (std::filesystem::exists(dir + "/" + name)) return dir + "/" + name;
  throw std::runtime_error(dir + " has no " + stem + "[.gz]");
}

// (n, rows * cols) floats in [0, 1].
torch::Tensor read_images(const std::string& path) {
  const std::vector<unsigned char> d = read_file(path);
  if (d.size() < 16) throw std::runtime_error(path + ": too short for an IDX image file");
  auto be32 = [&](std::size_t at) {
    return (std::int64_t(d[at]) << 24) | (std::int64_t(d[at + 1]) << 16) |
           (std::int64_t(d[at + 2]) << 8) | std::int64_t(d[at + 3]);
  };
  const std::int64_t n = be32(4), rows = be32(8), cols = be32(12);
  if (d.size() != static_cast<std::size_t>(16 + n * rows * cols))
    throw std::runtime_error(path + ": size does not match its header");
  auto bytes =
      torch::from_blob(const_cast<unsigned char*>(d.data()) + 16, {n, rows * cols}, torch::kUInt8);
  return bytes.to(torch::kFloat32) / 255.0;
}

struct VAEImpl : torch::nn::Module {
  VAEImpl(int hidden, int latent)
      : fc1(register_module("fc1", torch::nn::Linear(784, hidden))),
        fc21(register_module("fc21", torch::nn::Linear(hidden, latent))),
        fc22(register_module("fc22", torch::nn::Linear(hidden, latent))),
        fc3(register_module("fc3", torch::nn::Linear(latent, hidden))),
        fc4(register_module("fc4", torch::nn::Linear(hidden, 784))) {}

  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(const torch::Tensor& x) {
    auto h1 = torch::relu(fc1(x));
    auto mu = fc21(h1), logvar = fc22(h1);
    auto z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
    return {fc4(torch::relu(fc3(z))), mu, logvar};
  }

  torch::nn::Linear fc1, fc21, fc22, fc3, fc4;
};
TORCH_MODULE(VAE);

std::pair<torch::Tensor, torch::Tensor> loss_terms(const torch::Tensor& logits,
                                                   const torch::Tensor& x, const torch::Tensor& mu,
                                                   const torch::Tensor& logvar) {
  auto bce = torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::Sum);
  auto kld = -0.5 * torch::sum(1 + logvar - mu.pow(2) - logvar.exp());
  return {bce, kld};
}

}  // namespace

int main(int argc, char** argv) try {
  std::string data;
  int epochs = 10, batch = 128, threads = 2;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data")
      data = value();
    else if (a == "--epochs")
      epochs = std::stoi(value());
    else if (a == "--batch")
      batch = std::stoi(value());
    else if (a == "--threads")
      threads = std::stoi(value());
    else if (a == "--seed")
      seed = std::stoull(value());
    else if (a == "-h" || a == "--help") {
      std::puts("vae_libtorch --data DIR [--epochs N] [--batch B] [--threads T] [--seed S]");
      return 0;
    } else {
      throw std::invalid_argument("unknown argument " + a + " (see --help)");
    }
  }
  if (data.empty()) throw std::invalid_argument("--data DIR is required");

  torch::manual_seed(seed);
  torch::set_num_threads(threads);
  const torch::Tensor train_x = read_images(find(data, "train-images-idx3-ubyte"));
  const torch::Tensor test_x = read_images(find(data, "t10k-images-idx3-ubyte"));
  const std::int64_t n_train = train_x.size(0), n_test = test_x.size(0);

  VAE model(400, 20);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    model->train();
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor perm = torch::randperm(n_train, torch::kLong);
    double train_loss = 0;
    for (std::int64_t i = 0; i < n_train; i += batch) {
      const torch::Tensor x =
          train_x.index_select(0, perm.slice(0, i, std::min(i + batch, n_train)));
      opt.zero_grad();
      auto [logits, mu, logvar] = model->forward(x);
      auto [bce, kld] = loss_terms(logits, x, mu, logvar);
      torch::Tensor loss = bce + kld;
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
      for (std::int64_t i = 0; i < n_test; i += 500) {
        const torch::Tensor x = test_x.slice(0, i, std::min(i + 500, n_test));
        auto [logits, mu, logvar] = model->forward(x);
        auto [bce, kld] = loss_terms(logits, x, mu, logvar);
        recon += bce.item<double>();
        kl += kld.item<double>();
      }
    }
    std::printf(
        "{\"epoch\": %d, \"train_loss\": %.6f, \"test_loss\": %.6f, \"test_recon\": %.6f, "
        "\"test_kl\": %.6f, "
        "\"seconds\": %.6f}\n",
        epoch, train_loss / n_train, (recon + kl) / n_test, recon / n_test, kl / n_test, seconds);
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
