// Variable's methods: a handle to a shared VariableImpl (variable.hpp).
#include "tapegrad/autograd/variable.hpp"

#include <fmt/format.h>

#include <utility>

#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/tensor/error.hpp"

namespace tg {

Variable::Variable(Tensor value, bool requires_grad)
    : impl_(std::make_shared<detail::VariableImpl>()) {
  if (!value.defined()) {
    impl_.reset();
    return;
  }
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

const Tensor& Variable::value() const {
  if (!impl_) throw AutogradError("Variable::value: the variable is undefined");
  return impl_->value;
}

Tensor& Variable::mutable_value() {
  if (!impl_) throw AutogradError("Variable::mutable_value: the variable is undefined");
  return impl_->value;
}

Variable& Variable::set_requires_grad(bool r) {
  if (!impl_) throw AutogradError("Variable::set_requires_grad: the variable is undefined");
  if (!is_leaf() && !r)
    throw AutogradError(fmt::format(
        "Variable::set_requires_grad: the result of '{}' is not a leaf; use detach() instead",
        impl_->op));
  impl_->requires_grad = r;
  return *this;
}

Variable Variable::grad() const {
  if (!impl_ || !impl_->grad) return {};
  return Variable(impl_->grad);
}

void Variable::set_grad(const Variable& g) {
  if (!impl_) throw AutogradError("Variable::set_grad: the variable is undefined");
  impl_->grad = g.impl();
}

void Variable::zero_grad() {
  if (impl_) impl_->grad.reset();
}

Variable Variable::detach() const {
  if (!impl_) return {};
  return Variable(impl_->value, false);
}

const std::string& Variable::name() const {
  static const std::string empty;
  return impl_ ? impl_->name : empty;
}

Variable& Variable::set_name(std::string name) {
  if (!impl_) throw AutogradError("Variable::set_name: the variable is undefined");
  impl_->name = std::move(name);
  return *this;
}

Variable& Variable::retain_grad() {
  if (!impl_) throw AutogradError("Variable::retain_grad: the variable is undefined");
  if (is_leaf()) return *this;
  impl_->retains_grad = true;
  tape().watch(*this);
  return *this;
}

Variable& Variable::register_hook(GradHook hook) {
  if (!impl_) throw AutogradError("Variable::register_hook: the variable is undefined");
  if (!requires_grad())
    throw AutogradError(
        "Variable::register_hook: the variable does not require a gradient, so no "
        "backward will reach it");
  impl_->hooks.push_back(std::move(hook));
  tape().watch(*this);
  return *this;
}

}  // namespace tg
