#include "tapegrad/nn/checkpoint.hpp"

#include <fmt/format.h>

#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/error.hpp"

namespace tg::nn {
namespace {

constexpr std::string_view optim_prefix = "optim.";
constexpr std::string_view state_prefix = "optim.state.";

}  // namespace

void save_checkpoint(const std::string& path, const Module& model,
                     const optim::Optimizer* optimizer, const Metadata& metadata) {
  Metadata meta;
  for (const auto& [k, v] : metadata) {
    if (k.starts_with(optim_prefix))
      throw ValueError(fmt::format(
          "save_checkpoint: metadata key '{}' starts with the reserved '{}'", k, optim_prefix));
    meta[k] = v;
  }
  std::vector<std::pair<std::string, Tensor>> tensors = model.state_dict().items();
  for (const auto& [name, _] : tensors)
    if (name.starts_with(state_prefix))
      throw ValueError(
          fmt::format("save_checkpoint: parameter name '{}' clashes with the optimizer "
                      "state's names ('{}...')",
                      name, state_prefix));
  if (optimizer) {
    optim::OptimizerState state = optimizer->state_view();  // written out now: no snapshot needed
    for (auto& [name, t] : state.tensors)
      tensors.emplace_back(std::string(state_prefix) + name, std::move(t));
    for (const auto& [k, v] : state.scalars) meta[std::string(optim_prefix) + k] = v;
  }
  save_safetensors(path, tensors, meta);
}

Metadata load_checkpoint(const std::string& path, Module& model, optim::Optimizer* optimizer) {
  return load_checkpoint(load_safetensors(path), path, model, optimizer);
}

Metadata load_checkpoint(SafetensorsFile file, const std::string& path, Module& model,
                         optim::Optimizer* optimizer) {
  StateDict params;
  optim::OptimizerState state;
  Metadata user;
  for (auto& [name, t] : file.tensors) {
    if (name.starts_with(state_prefix))
      state.tensors.emplace_back(name.substr(state_prefix.size()), std::move(t));
    else
      params.insert(name, std::move(t));
  }
  for (const auto& [k, v] : file.metadata) {
    if (k.starts_with(optim_prefix))
      state.scalars[k.substr(optim_prefix.size())] = v;
    else
      user[k] = v;
  }
  if (optimizer && !state.scalars.contains("type"))
    throw Error(fmt::format(
        "load_checkpoint: {} holds no optimizer state (saved without an optimizer)", path));
  // Both loads check everything before changing anything. The model goes first (its error lists
  // every mismatched name and shape); if the optimizer's load then fails, the model is put back, so
  // a failed load changes nothing.
  try {
    std::vector<std::pair<std::string, Tensor>> previous;
    if (optimizer)
      for (const auto& [name, t] : model.state_dict()) previous.emplace_back(name, t.clone());
    model.load_state_dict(params, /*strict=*/true);
    if (optimizer) {
      try {
        optimizer->load_state_dict(state);
      } catch (...) {
        model.load_state_dict(StateDict(std::move(previous)));
        throw;
      }
    }
  } catch (const Error& e) {
    throw Error(fmt::format("load_checkpoint: {}: {}", path, e.what()));
  }
  return user;
}

}  // namespace tg::nn
