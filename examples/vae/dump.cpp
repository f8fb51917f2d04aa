// `vae dump` (see dump.hpp).
#include "examples/vae/dump.hpp"

#include <fmt/format.h>

#include <numeric>
#include <utility>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace vae {

void write_dump(const std::string& path, Model& model, const Split& test, std::int64_t n) {
  if (n < 1 || n > test.size())
    throw tg::ValueError(
        fmt::format("dump: --n {} is not in 1..{} (the number of test images)", n, test.size()));
  tg::NoGradGuard no_grad;
  std::vector<std::int64_t> index(static_cast<std::size_t>(n));
  std::iota(index.begin(), index.end(), 0);
  const Config& c = model.config();
  const tg::Tensor x = test.images(0, n);
  const tg::Variable y = c.conditional()
                             ? tg::Variable(one_hot(test, index, static_cast<int>(c.classes)))
                             : tg::Variable();
  const auto [mu, logvar] = model.encode(tg::Variable(x), y);
  const tg::Variable logits = model.decode(mu, y);
  std::vector<std::pair<std::string, tg::Tensor>> tensors{{"x", x}};
  if (y.defined()) tensors.emplace_back("y", y.value());
  tensors.emplace_back("mu", mu.value());
  if (logvar.defined()) tensors.emplace_back("logvar", logvar.value());
  tensors.emplace_back("logits", logits.value());
  tg::nn::save_safetensors(path, tensors, c.to_metadata());
}

}  // namespace vae
