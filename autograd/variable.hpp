// Variable: a Tensor value plus what reverse-mode autodiff needs to know about it: whether it wants
// a gradient, its gradient once backward has run, and (for a result of a recorded op) which tape
// node produced it. Copies share one underlying variable, like PyTorch tensors.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/tensor/tensor.hpp"

namespace tg {

class Variable;
// Called with the gradient of a variable once a backward pass has computed it (all of it); a
// defined return value replaces the gradient that flows on, an undefined one leaves it as it is.
using GradHook = std::function<Variable(const Variable& grad)>;

namespace detail {
struct VariableImpl {
  Tensor value;
  std::shared_ptr<VariableImpl>
      grad;  // the accumulated gradient (itself a variable, for create_graph)
  bool requires_grad = false;
  std::int64_t node = -1;        // index of the tape node that produced it; -1 for a leaf
  std::uint64_t generation = 0;  // which recording of the tape `node` belongs to
  const char* op = nullptr;      // the producing op's name (kept for error messages)
  std::string name;              // optional, e.g. "encoder.fc1.weight" (shown by the tape printout)
  std::vector<GradHook> hooks;   // register_hook
  bool retains_grad = false;     // retain_grad: a non-leaf keeps its gradient in .grad
};
}  // namespace detail

class Variable {
 public:
  Variable() = default;  // undefined
  // A leaf. A constant by default; pass requires_grad = true for a parameter.
  Variable(Tensor value,
           bool requires_grad = false);  // NOLINT: implicit, so tensors mix with variables

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  // Mutable access for in-place updates that must not be recorded (optimizer steps, loading
  // weights).
  Tensor& mutable_value();

  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Variable& set_requires_grad(bool r);
  // A leaf is a variable no recorded op produced: parameters, inputs, constants.
  bool is_leaf() const { return !impl_ || impl_->node < 0; }

  // The gradient accumulated by backward(); undefined until then, and after zero_grad().
  Variable grad() const;
  void set_grad(const Variable& g);
  void zero_grad();  // sets the gradient to undefined, like PyTorch's zero_grad(set_to_none=True)

  // A non-leaf's gradient is normally passed on and freed; after retain_grad(), backward() also
  // adds it into this variable's .grad, like a leaf's (PyTorch's retain_grad). No effect on a leaf.
  Variable& retain_grad();
  bool retains_grad() const { return impl_ && impl_->retains_grad; }
  // Calls hook with this variable's gradient during every later backward() or grad() through it,
  // once the gradient is complete; the hook may return a replacement (see GradHook). For a
  // non-leaf, register it after the op that made it and before the backward.
  Variable& register_hook(GradHook hook);

  // The same value, cut from the graph: no gradient flows through the result.
  Variable detach() const;

  const std::string& name() const;
  Variable& set_name(std::string name);
  const char* op() const { return impl_ ? impl_->op : nullptr; }

  // Shorthands for value().
  const Shape& shape() const { return value().shape(); }
  std::int64_t dim() const { return value().dim(); }
  std::int64_t size(std::int64_t axis) const { return value().size(axis); }
  std::int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  double item() const { return value().item(); }

  // Identity: do two handles refer to the same variable?
  bool same(const Variable& other) const { return impl_ == other.impl_; }

  // For the engine (tape.cpp); not for general use.
  const std::shared_ptr<detail::VariableImpl>& impl() const { return impl_; }
  explicit Variable(std::shared_ptr<detail::VariableImpl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<detail::VariableImpl> impl_;
};

}  // namespace tg
