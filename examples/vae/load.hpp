// Loading a `vae train` checkpoint: the metadata says which model to build, and it is checked in
// full (every field, and every parameter's shape against the tensors the file really holds) before
// the model is built, so a damaged or hostile file is a tg::FormatError and never a large
// allocation.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "examples/vae/models.hpp"
#include "tapegrad/nn/safetensors.hpp"

namespace vae {

struct LoadedModel {
  std::unique_ptr<Model> model;             // in eval mode, with the checkpoint's weights
  std::map<std::string, std::string> meta;  // the checkpoint's metadata (seed, binarize, data, ...)
};

// Validates the metadata (Config::from_metadata, plus the optional "seed" and "binarize" the
// commands read), then the file's parameters against Config::parameter_shapes(), then builds the
// model and loads the weights. `path` names the file in errors.
LoadedModel load_model(tg::nn::SafetensorsFile file, const std::string& path);
// The same from the file's bytes (parse_safetensors first): the whole load path in one call.
LoadedModel load_model_bytes(const std::string& bytes, const std::string& path);

}  // namespace vae
