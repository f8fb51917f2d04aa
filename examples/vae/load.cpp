// The checkpoint load path of the VAE program: metadata -> checked shapes -> model -> weights.
#include "examples/vae/load.hpp"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <vector>

#include "examples/vae/data.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/tensor/error.hpp"

namespace vae {
namespace {

using Field = tg::FormatError::Field;

// The fields the commands read beyond the model's configuration, when present.
void check_run_metadata(const std::map<std::string, std::string>& meta, const std::string& path) {
  if (auto it = meta.find("seed"); it != meta.end()) {
    const std::string& v = it->second;
    std::uint64_t seed = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seed);
    if (ec != std::errc() || end != v.data() + v.size())
      throw tg::FormatError(path, Field{"metadata 'seed'"},
                            fmt::format("'{}' is not an integer in 0..2^64-1", v));
  }
  if (auto it = meta.find("binarize"); it != meta.end()) {
    try {
      parse_binarize(it->second);
    } catch (const tg::ValueError& e) {
      const std::string what = e.what();
      throw tg::FormatError(path, Field{"metadata 'binarize'"}, what.substr(what.find(": ") + 2));
    }
  }
}

// Every parameter the metadata implies must be in the file with that shape, and nothing else
// (besides the optimizer's state): the sizes the model will allocate are then those of tensors the
// file holds.
void check_parameters(const Config& config, const tg::nn::SafetensorsFile& file,
                      const std::string& path) {
  std::map<std::string, const tg::Tensor*> have;
  for (const auto& [name, t] : file.tensors)
    if (!name.starts_with("optim.state."))
      have[name] = &t;  // what load_checkpoint takes for parameters
  std::vector<std::string> problems;
  for (const auto& [name, shape] : config.parameter_shapes()) {
    const auto it = have.find(name);
    if (it == have.end()) {
      problems.push_back(fmt::format("{} {} is missing", name, tg::shape_str(shape)));
      continue;
    }
    if (it->second->shape() != shape)
      problems.push_back(fmt::format("{} should be {} but is {}", name, tg::shape_str(shape),
                                     tg::shape_str(it->second->shape())));
    else if (it->second->dtype() !=
             tg::DType::f32)  // the model is built in f32, as `vae train` saves it
      problems.push_back(
          fmt::format("{} is {}, not f32", name, tg::dtype_name(it->second->dtype())));
    have.erase(it);
  }
  for (const auto& [name, t] : have)
    problems.push_back(
        fmt::format("{} {} is not a parameter of this model", name, tg::shape_str(t->shape())));
  if (!problems.empty())
    throw tg::FormatError(path, Field{"tensors"},
                          fmt::format("they do not match the metadata ({} {}x{}, hidden {}, latent "
                                      "{}): {}; the metadata or the "
                                      "tensors were changed after `vae train` wrote the file",
                                      model_name(config.kind), config.rows, config.cols,
                                      config.hidden, config.latent, fmt::join(problems, "; ")));
}

}  // namespace

LoadedModel load_model(tg::nn::SafetensorsFile file, const std::string& path) {
  const Config config = Config::from_metadata(file.metadata, path);
  check_run_metadata(file.metadata, path);
  check_parameters(config, file, path);
  LoadedModel l;
  l.meta = file.metadata;
  l.model = std::make_unique<Model>(config, nullptr);
  tg::nn::load_checkpoint(std::move(file), path, *l.model);
  l.model->eval();
  return l;
}

LoadedModel load_model_bytes(const std::string& bytes, const std::string& path) {
  return load_model(tg::nn::parse_safetensors(bytes, path), path);
}

}  // namespace vae
