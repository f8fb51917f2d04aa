#include "tapegrad/nn/module.hpp"

#include <fmt/format.h>

#include "tapegrad/tensor/error.hpp"

namespace tg::nn {

// --- StateDict -----------------------------------------------------------------------------------

StateDict::StateDict(std::vector<Item> items) {
  for (auto& [name, value] : items) insert(std::move(name), std::move(value));
}

void StateDict::insert(std::string name, Tensor value) {
  if (contains(name)) throw ValueError(fmt::format("StateDict::insert: duplicate key '{}'", name));
  items_.emplace_back(std::move(name), std::move(value));
}

const Tensor* StateDict::find(const std::string& name) const {
  for (const auto& item : items_)
    if (item.first == name) return &item.second;
  return nullptr;
}

bool StateDict::contains(const std::string& name) const { return find(name) != nullptr; }

const Tensor& StateDict::at(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) throw ValueError(fmt::format("StateDict::at: no key '{}'", name));
  return *t;
}

// --- Module --------------------------------------------------------------------------------------

Variable Module::forward(const Variable&) {
  throw Error(
      fmt::format("{}::forward: this module has no single-input forward; call its own "
                  "methods instead",
                  type_name()));
}

void Module::check_new_name(const std::string& what, const std::string& name) const {
  if (name.empty()) throw ValueError(fmt::format("{}: empty name", what));
  if (name.find('.') != std::string::npos)
    throw ValueError(fmt::format("{}: name '{}' contains a '.'", what, name));
  for (const auto& [n, _] : params_)
    if (n == name) throw ValueError(fmt::format("{}: '{}' is already a parameter", what, name));
  for (const auto& [n, _] : children_)
    if (n == name) throw ValueError(fmt::format("{}: '{}' is already a submodule", what, name));
}

Variable Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name("register_parameter", name);
  if (!value.defined())
    throw ValueError(fmt::format("register_parameter: '{}' is an undefined tensor", name));
  Variable p(std::move(value), /*requires_grad=*/true);
  p.set_name(name);
  params_.emplace_back(name, p);
  return p;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name("register_module", name);
  if (!module) throw ValueError(fmt::format("register_module: '{}' is null", name));
  if (module.get() == this)
    throw ValueError(fmt::format("register_module: '{}' is the module itself", name));
  // Names are relative to the module that registers: when this module is itself registered later,
  // its parent renames the whole subtree again, so the root's names win.
  module->set_parameter_names(name + ".");
  children_.emplace_back(name, std::move(module));
}

void Module::set_parameter_names(const std::string& prefix) {
  for (auto& [name, p] : named_parameters()) p.set_name(prefix + name);
}

void Module::collect_parameters(const std::string& prefix,
                                std::vector<std::pair<std::string, Variable>>& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect_parameters(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  collect_parameters("", out);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [_, p] : named_parameters()) out.push_back(p);
  return out;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [_, c] : children_) out.push_back(c);
  return out;
}

void Module::collect_modules(
    const std::string& prefix,
    std::vector<std::pair<std::string, std::shared_ptr<Module>>>& out) const {
  for (const auto& [name, child] : children_) {
    out.emplace_back(prefix + name, child);
    child->collect_modules(prefix + name + ".", out);
  }
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  collect_modules("", out);
  return out;
}

Module& Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
  return *this;
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

Module& Module::to(DType dtype) {
  for (auto& p : parameters()) {
    p.zero_grad();
    if (p.dtype() != dtype) p.mutable_value() = p.value().to(dtype);
  }
  return *this;
}

StateDict Module::state_dict() const {
  StateDict dict;
  for (auto& [name, p] : named_parameters()) dict.insert(name, p.value());
  return dict;
}

void Module::load_state_dict(const StateDict& dict, bool strict) {
  const auto params = named_parameters();
  std::vector<std::string> problems;
  for (const auto& [name, p] : params) {
    const Tensor* t = dict.find(name);
    if (!t) {
      if (strict) problems.push_back(fmt::format("missing '{}'", name));
      continue;
    }
    if (t->shape() != p.shape()) {
      problems.push_back(fmt::format("'{}' has shape {} in the file but {} in the model", name,
                                     shape_str(t->shape()), shape_str(p.shape())));
    }
    if (t->dtype() != p.dtype()) {
      problems.push_back(fmt::format("'{}' has dtype {} in the file but {} in the model", name,
                                     dtype_name(t->dtype()), dtype_name(p.dtype())));
    }
  }
  if (strict) {
    for (const auto& [name, _] : dict) {
      bool known = false;
      for (const auto& [pname, p] : params) known = known || pname == name;
      if (!known) problems.push_back(fmt::format("unexpected '{}'", name));
    }
  }
  if (!problems.empty()) {
    throw Error(fmt::format("load_state_dict: {} problem{}: {}", problems.size(),
                            problems.size() == 1 ? "" : "s", fmt::join(problems, "; ")));
  }
  for (auto [name, p] : params) {
    if (const Tensor* t = dict.find(name)) {
      if (!p.value().shares_storage(*t)) p.mutable_value().copy_(*t);
    }
  }
}

// --- printing ------------------------------------------------------------------------------------

void Module::repr(std::string& out, int indent) const {
  out += type_name() + "(" + extra_repr();
  if (!children_.empty()) {
    out += "\n";
    const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
    for (const auto& [name, child] : children_) {
      out += pad + "(" + name + "): ";
      child->repr(out, indent + 2);
      out += "\n";
    }
    out += std::string(static_cast<std::size_t>(indent), ' ');
  }
  out += ")";
}

std::string Module::to_string() const {
  std::string out;
  repr(out, 0);
  return out;
}

}  // namespace tg::nn
