// The tape: a per-thread Wengert list of the ops recorded while grad mode is on, and the engine
// that walks it backwards. How an op records itself:
//
//   // exp: y = e^x,  dy/dx = y
//   Variable exp(const Variable& x) {
//     return record("exp", {x}, tg::exp(x.value()), save_result(), [](Grad& g) {
//       g.accumulate(0, g.out() * g.result());
//     });
//   }
//
// record() adds a node only when grad mode is on and some input requires a gradient; otherwise it
// just wraps the value. A node keeps the op's name, where to send each input's gradient, the input
// shapes, the variables its backward needs (and only those), and the backward function.
// backward() walks the nodes from the root's down to the first, once, in a plain loop (engine.hpp).
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/autograd/variable.hpp"

namespace tg {

// --- grad mode -----------------------------------------------------------------------------------

bool grad_mode_enabled();
void set_grad_mode(bool enabled);
// Anomaly mode: every recorded output and every gradient is checked for NaN/Inf, and the first one
// found raises AutogradError naming the op and its node. Slow; for debugging.
bool anomaly_mode_enabled();
void set_anomaly_mode(bool enabled);

// Sets a per-thread mode for a scope and restores the previous value when the scope ends.
template <bool (*get)(), void (*set)(bool)>
class ModeGuard {
 public:
  explicit ModeGuard(bool enabled) : prev_(get()) { set(enabled); }
  ~ModeGuard() { set(prev_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  bool prev_;
};

// Sets grad mode to a given value in a scope.
using GradModeGuard = ModeGuard<grad_mode_enabled, set_grad_mode>;
// Turns recording off in a scope, like torch.no_grad().
struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};
struct AnomalyModeGuard : ModeGuard<anomaly_mode_enabled, set_anomaly_mode> {
  explicit AnomalyModeGuard(bool enabled = true) : ModeGuard(enabled) {}
};

namespace detail {
// True while a backward function runs (the engine sets it; record()'s anomaly check is off then).
bool in_backward();
void set_in_backward(bool b);
// True while the engine (engine.cpp) runs a step or delivers: for the profiler (profile.hpp).
bool in_engine();
void set_in_engine(bool b);
// sum += g, out of place: a gradient may be shared (add passes g on unchanged to both inputs), so
// it is never modified. With create_graph the add is recorded like any other op.
void add_into(Variable& sum, const Variable& g);
bool all_finite(const Tensor& t);
}  // namespace detail

// --- what a backward function sees
// ----------------------------------------------------------------

struct Node;

class Grad {
 public:
  Grad(const Node& node, Variable out, std::vector<Variable>& input_grads);
  // dL/d(output): the gradient flowing in.
  const Variable& out() const { return out_; }
  // The op's output (requires save_result() at record time).
  const Variable& result() const;
  // The k-th saved variable, in the order given to save(...).
  const Variable& saved(std::size_t k) const;
  // Does input i want a gradient? Backward skips the work for inputs that do not.
  bool needs(std::size_t i) const;
  const Shape& input_shape(std::size_t i) const;
  // Adds g into input i's gradient. Checks g's shape and dtype against the input's.
  void accumulate(std::size_t i, const Variable& g);

 private:
  const Node& node_;
  Variable out_;
  std::vector<Variable>& input_grads_;
};

using BackwardFn = std::function<void(Grad&)>;

// What a node keeps for its backward.
struct Saved {
  std::vector<Variable> vars;
  bool result = false;
};
inline Saved save_result() { return Saved{{}, true}; }
template <class... V>
Saved save(const V&... vars) {
  return Saved{{Variable(vars)...}, false};
}
template <class... V>
Saved save_with_result(const V&... vars) {
  return Saved{{Variable(vars)...}, true};
}

// Records an op (when grad mode is on and an input requires a gradient) and returns its output.
Variable record(const char* op, std::initializer_list<Variable> inputs, Tensor value, Saved saved,
                BackwardFn backward);
Variable record(const char* op, const std::vector<Variable>& inputs, Tensor value, Saved saved,
                BackwardFn backward);

// --- the tape ----------------------------------------------------------------------------------

// Where an input's gradient goes: to another node's output slot, or to a leaf's .grad.
struct Edge {
  std::int64_t node = -1;                      // producing node, or -1
  std::shared_ptr<detail::VariableImpl> leaf;  // a leaf that requires grad, else null
  const char* released_op = nullptr;           // produced by `op` on a tape since released
  std::uint64_t released_generation = 0;       // ... recorded in that generation
  std::optional<double> constant;              // a one-element constant's value (for to_dot)
  bool needs_grad() const { return node >= 0 || leaf != nullptr || released_op != nullptr; }
};

struct Node {
  const char* op = "";
  std::vector<Edge> edges;  // one per input
  std::vector<Shape> input_shapes;
  std::vector<DType> input_dtypes;
  Shape out_shape;
  std::vector<Variable> saved;
  Variable result;  // set only when the backward needs it
  BackwardFn backward;
  std::weak_ptr<detail::VariableImpl> watched;  // the output, once it has hooks or retains its grad
  std::size_t saved_bytes() const;
};

class Tape {
 public:
  std::size_t size() const { return nodes_.size(); }
  const Node& node(std::size_t i) const { return nodes_.at(i); }
  std::uint64_t generation() const { return generation_; }
  // Drops every node (frees what they saved). Variables recorded before cannot be backpropagated.
  void clear();
  // How a past generation ended, for error messages: "was released by an earlier backward" or "was
  // dropped by tape().clear()".
  std::string why_released(std::uint64_t generation) const;
  // Makes the engine look at v's hooks and retain_grad when its node's gradient is complete
  // (Variable::register_hook and retain_grad call it).
  void watch(const Variable& v);
  // One line a node: index, op, input and output shapes, bytes saved.
  void print(std::ostream& os) const;
  std::string to_string() const;
  // Graphviz DOT: ops as ellipses, leaves as boxes (one-element constants show their value), edges
  // in the direction of the forward pass, labelled with the input slot they feed when an op has
  // several.
  std::string to_dot() const;

 private:
  friend Variable record(const char*, const std::vector<Variable>&, Tensor, Saved, BackwardFn);
  friend class BackwardPass;
  std::deque<Node>
      nodes_;  // a deque: recording during backward (create_graph) keeps references valid
  std::uint64_t generation_ = 1;
  enum class End : std::uint8_t { backward, clear };
  void end_generation(End how);  // drops every node and starts a new generation
  // Run-length log of how generations ended: generations from .first on (until the next entry)
  // ended by .second. A training loop (one backward a step) keeps one entry.
  std::vector<std::pair<std::uint64_t, End>> ends_;
};

// This thread's tape.
Tape& tape();

// --- backward ----------------------------------------------------------------------------------

struct BackwardOptions {
  bool retain_graph = false;  // keep the tape so backward can run through it again
  bool create_graph =
      false;  // record the backward ops too (gradients of gradients); implies retain
};

// Accumulates d(root)/d(leaf) into every leaf's .grad that requires a gradient. `grad` defaults to
// ones for a one-element root.
void backward(const Variable& root, const Variable& grad = {}, BackwardOptions options = {});
inline void backward(const Variable& root, BackwardOptions options) { backward(root, {}, options); }

// Functional form: returns d(sum_k outputs[k] * grad_outputs[k])/d(inputs[i]) for every input,
// without touching any .grad. An input the outputs do not depend on gets an undefined Variable
// (allow_unused).
std::vector<Variable> grad(const std::vector<Variable>& outputs,
                           const std::vector<Variable>& inputs,
                           const std::vector<Variable>& grad_outputs = {},
                           BackwardOptions options = {});

}  // namespace tg
