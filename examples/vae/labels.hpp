// Names of the ten classes of a data set, for legends and captions: the digits "0".."9" for MNIST,
// Fashion-MNIST's ten clothing names when the data folder's name says "fashion", or the names given
// with --class-names (ten, comma-separated).
#pragma once
#include <string>
#include <vector>

namespace vae {

// Fashion-MNIST's classes in label order (Zalando's README).
const std::vector<std::string>& fashion_mnist_class_names();

// `flag` (comma-separated, exactly ten non-empty names) when given; otherwise from the folder's
// name. A bad flag is a tg::ValueError saying what is wrong.
std::vector<std::string> class_names(const std::string& data_dir, const std::string& flag = "");

// A short form for captions under a 56-pixel tile: at most `max_chars` characters.
std::string short_name(const std::string& name, std::size_t max_chars = 8);

}  // namespace vae
