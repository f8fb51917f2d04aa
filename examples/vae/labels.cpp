// Class names for the VAE example's legends and captions. See labels.hpp.
#include "examples/vae/labels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "tapegrad/tensor/error.hpp"

namespace vae {

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                              "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};
  return names;
}

std::vector<std::string> class_names(const std::string& data_dir, const std::string& flag) {
  if (!flag.empty()) {
    std::vector<std::string> names;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = flag.find(',', start);
      names.push_back(
          flag.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (names.size() != 10)
      throw tg::ValueError(
          fmt::format("--class-names: got {} names, expected 10, comma-separated in label order "
                      "(e.g. --class-names zero,one,two,three,four,five,six,seven,eight,nine)",
                      names.size()));
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i].empty())
        throw tg::ValueError(fmt::format("--class-names: name {} (label {}) is empty", i + 1, i));
    return names;
  }
  std::string folder = std::filesystem::path(data_dir).lexically_normal().string();
  std::transform(folder.begin(), folder.end(), folder.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (folder.find("fashion") != std::string::npos) return fashion_mnist_class_names();
  std::vector<std::string> digits;
  for (int k = 0; k < 10; ++k) digits.push_back(std::to_string(k));
  return digits;
}

std::string short_name(const std::string& name, std::size_t max_chars) {
  return name.size() <= max_chars ? name : name.substr(0, max_chars);
}

}  // namespace vae
