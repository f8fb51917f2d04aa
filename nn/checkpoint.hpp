// Training checkpoints: a model's parameters and its optimizer's state in one safetensors file, so
// a run can stop and resume exactly (the resumed run is bitwise equal to an uninterrupted one).
//
// Layout (see docs/nn.md): each parameter under its dotted name ("encoder.fc1.weight"); each
// optimizer buffer under "optim.state.<param name>.<buffer>" ("optim.state.fc1.weight.exp_avg");
// the optimizer's step counts, lr and hyperparameters in the metadata under "optim.<key>"; the
// caller's metadata (the model's configuration, epoch, step, ...) as given. Written atomically;
// validated on load.
#pragma once
#include <map>
#include <string>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/optim.hpp"
#include "tapegrad/nn/safetensors.hpp"

namespace tg::nn {

using Metadata = std::map<std::string, std::string>;

// Writes the checkpoint. `optimizer` may be null (parameters only). Metadata keys starting with
// "optim." are reserved (a ValueError).
void save_checkpoint(const std::string& path, const Module& model,
                     const optim::Optimizer* optimizer = nullptr, const Metadata& metadata = {});

// Loads parameters into `model` (strictly: a model of another architecture gets one tg::Error
// listing every missing, unexpected and mismatched name with both shapes) and, when `optimizer` is
// not null, the optimizer's state (the file must hold one). Returns the caller's metadata (without
// "optim.*"). A malformed file is a tg::FormatError naming the file and the byte offset.
Metadata load_checkpoint(const std::string& path, Module& model,
                         optim::Optimizer* optimizer = nullptr);
// The same from a file already read (e.g. to build the model from its metadata first); `path` names
// it in errors.
Metadata load_checkpoint(SafetensorsFile file, const std::string& path, Module& model,
                         optim::Optimizer* optimizer = nullptr);

}  // namespace tg::nn
