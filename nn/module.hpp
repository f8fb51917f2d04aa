// Module: the base of every layer and model, like torch.nn.Module. A module owns named parameters
// (leaf Variables that require a gradient) and named submodules, so every parameter has a dotted
// name
// ("encoder.fc1.weight") that the tape printout, state dicts and checkpoints use. A subclass
// registers its pieces in its constructor:
//
//   struct Mlp : tg::nn::Module {
//     Mlp() {
//       fc1 = register_module("fc1", std::make_shared<tg::nn::Linear>(784, 400));
//       fc2 = register_module("fc2", std::make_shared<tg::nn::Linear>(400, 10));
//     }
//     tg::Variable forward(const tg::Variable& x) override { return
//     fc2->forward(tg::relu(fc1->forward(x))); } std::shared_ptr<tg::nn::Linear> fc1, fc2;
//   };
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace tg::nn {

// An ordered name -> Tensor map (insertion order is kept, like PyTorch's OrderedDict).
class StateDict {
 public:
  using Item = std::pair<std::string, Tensor>;
  StateDict() = default;
  StateDict(std::vector<Item> items);  // NOLINT: implicit, so a vector of pairs can be passed
  // Adds a new entry; a name already present is a ValueError.
  void insert(std::string name, Tensor value);
  bool contains(const std::string& name) const;
  const Tensor* find(const std::string& name) const;  // null when absent
  const Tensor& at(const std::string& name) const;    // ValueError naming the key when absent
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) =
      delete;  // parameters are shared handles: a copy would silently alias them
  Module& operator=(const Module&) = delete;

  // The computation. The base class throws: override it, or give the module its own forward
  // signature.
  virtual Variable forward(const Variable& x);
  Variable operator()(const Variable& x) { return forward(x); }

  // The class name shown by to_string() and in errors ("Linear").
  virtual std::string type_name() const { return "Module"; }
  // Like PyTorch's repr: the module tree with each layer's configuration.
  std::string to_string() const;

  // --- parameters and submodules (registration order; a module's own parameters first, then each
  // submodule's, depth first, like PyTorch)
  // --------------------------------------------------------
  std::vector<Variable> parameters() const;
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // Every descendant with its dotted name (not the module itself).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  // The total number of parameter elements.
  std::int64_t num_parameters() const;

  // --- modes -------------------------------------------------------------------------------------
  // Sets training mode here and in every submodule (Dropout reads it).
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }

  // Sets every parameter's gradient to undefined (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  // Converts every parameter's value to `dtype` in place (the Variables stay the same handles, so
  // an optimizer built before keeps working; gradients are dropped). Build the optimizer after
  // this.
  Module& to(DType dtype);

  // --- state -------------------------------------------------------------------------------------
  // Dotted name -> parameter value, in parameters() order. The tensors share storage with the
  // model.
  StateDict state_dict() const;
  // Copies values into the parameters (their storage is kept, so optimizers keep their handles).
  // strict: missing keys, unexpected keys and shape/dtype mismatches are all collected and reported
  // in one tg::Error. Not strict: only the keys present in both are loaded, and a shape or dtype
  // mismatch on one of them is still an error.
  void load_state_dict(const StateDict& dict, bool strict = true);

 protected:
  // Adds a parameter: a leaf Variable with requires_grad, named `name` (no dots).
  Variable register_parameter(const std::string& name, Tensor value);
  // Adds a submodule; its parameters are renamed "<name>.<their name>".
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Extra text inside the parentheses of to_string(), e.g. "in_features=2, out_features=3,
  // bias=True".
  virtual std::string extra_repr() const { return {}; }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& what, const std::string& name) const;
  void set_parameter_names(const std::string& prefix);
  void collect_parameters(const std::string& prefix,
                          std::vector<std::pair<std::string, Variable>>& out) const;
  void collect_modules(const std::string& prefix,
                       std::vector<std::pair<std::string, std::shared_ptr<Module>>>& out) const;
  void repr(std::string& out, int indent) const;

  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace tg::nn
