// The tape and the backward engine.
//
// backward(root): give the root's slot its seed gradient, then for i = root's node down to 0: if slot i
// holds a gradient, call node i's backward, which adds into its inputs' gradients — another node's slot
// (always a smaller index: a node's inputs were recorded before it) or a leaf's .grad. One pass, a
// plain loop, no recursion: a chain of a million ops needs no more stack than a chain of one.
#include "autograd/tape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "autograd/ops.hpp"

namespace tg {

// --- modes -------------------------------------------------------------------------------------

namespace {
thread_local bool t_grad_mode = true;
thread_local bool t_anomaly_mode = false;
// True while a backward function runs. record()'s anomaly check is off then: the engine checks the
// gradient that backward returns and names its node, rather than an op used inside the backward.
thread_local bool t_in_backward = false;
struct InBackward {
  bool outer = std::exchange(t_in_backward, true);
  ~InBackward() { t_in_backward = outer; }
};
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool enabled) { t_grad_mode = enabled; }
bool anomaly_mode_enabled() { return t_anomaly_mode; }
void set_anomaly_mode(bool enabled) { t_anomaly_mode = enabled; }

Tape& tape() {
  thread_local Tape t;
  return t;
}

// --- Variable ----------------------------------------------------------------------------------

Variable::Variable(Tensor value, bool requires_grad) : impl_(std::make_shared<detail::VariableImpl>()) {
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
        "Variable::set_requires_grad: the result of '{}' is not a leaf; use detach() instead", impl_->op));
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

// --- recording ---------------------------------------------------------------------------------

namespace {

bool all_finite(const Tensor& t) {
  return visit_dtype(t.dtype(), [&]<class T>() {
    const T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  });
}

}  // namespace

std::size_t Node::saved_bytes() const {
  std::size_t n = result.defined() ? result.value().nbytes() : 0;
  for (const auto& v : saved) n += v.defined() ? v.value().nbytes() : 0;
  return n;
}

Variable record(const char* op, std::initializer_list<Variable> inputs, Tensor value, Saved saved,
                BackwardFn backward) {
  return record(op, std::vector<Variable>(inputs), std::move(value), std::move(saved),
                std::move(backward));
}

Variable record(const char* op, const std::vector<Variable>& inputs, Tensor value, Saved saved,
                BackwardFn backward) {
  Tape& t = tape();
  if (anomaly_mode_enabled() && !t_in_backward && !all_finite(value))
    throw AutogradError(fmt::format("anomaly: '{}' (would be node #{}) produced NaN or Inf in its "
                                    "output of shape {}",
                                    op, t.size(), shape_str(value.shape())));
  auto impl = std::make_shared<detail::VariableImpl>();
  impl->value = std::move(value);
  const bool need = grad_mode_enabled() && std::any_of(inputs.begin(), inputs.end(), [](const Variable& v) {
                      return v.requires_grad();
                    });
  if (!need) return Variable(impl);

  Node n;
  n.op = op;
  n.out_shape = impl->value.shape();
  for (const Variable& in : inputs) {
    Edge e;
    if (in.requires_grad()) {
      if (in.is_leaf())
        e.leaf = in.impl();
      else if (in.impl()->generation == t.generation())
        e.node = in.impl()->node;
      else {
        e.released_op = in.impl()->op;
        e.released_generation = in.impl()->generation;
      }
    }
    n.edges.push_back(std::move(e));
    n.input_shapes.push_back(in.shape());
    n.input_dtypes.push_back(in.dtype());
  }
  n.saved = std::move(saved.vars);
  n.backward = std::move(backward);

  impl->requires_grad = true;
  impl->node = static_cast<std::int64_t>(t.nodes_.size());
  impl->generation = t.generation();
  impl->op = op;
  Variable out(impl);
  if (saved.result) n.result = out;
  t.nodes_.push_back(std::move(n));
  return out;
}

// --- Grad --------------------------------------------------------------------------------------

namespace {
// sum += g, out of place: a gradient tensor may be shared (add passes g on unchanged to both inputs),
// so it is never modified. With create_graph the add is recorded like any other op.
void add_into(Variable& sum, const Variable& g) { sum = sum.defined() ? add(sum, g) : g; }
}  // namespace

Grad::Grad(const Node& node, Variable out, std::vector<Variable>& input_grads)
    : node_(node), out_(std::move(out)), input_grads_(input_grads) {}

const Variable& Grad::result() const {
  if (!node_.result.defined())
    throw AutogradError(fmt::format("backward of '{}': result() used but the op did not save it "
                                    "(record it with save_result())",
                                    node_.op));
  return node_.result;
}

const Variable& Grad::saved(std::size_t k) const {
  if (k >= node_.saved.size())
    throw AutogradError(fmt::format("backward of '{}': saved({}) but only {} variables were saved",
                                    node_.op, k, node_.saved.size()));
  return node_.saved[k];
}

bool Grad::needs(std::size_t i) const { return i < node_.edges.size() && node_.edges[i].needs_grad(); }

const Shape& Grad::input_shape(std::size_t i) const { return node_.input_shapes.at(i); }

void Grad::accumulate(std::size_t i, const Variable& g) {
  if (i >= node_.edges.size())
    throw AutogradError(fmt::format("backward of '{}': gradient for input {} but the op has {} inputs",
                                    node_.op, i, node_.edges.size()));
  if (!needs(i) || !g.defined()) return;
  if (g.shape() != node_.input_shapes[i])
    throw AutogradError(fmt::format("backward of '{}': the gradient for input {} has shape {} but the "
                                    "input has shape {}",
                                    node_.op, i, shape_str(g.shape()), shape_str(node_.input_shapes[i])));
  if (g.dtype() != node_.input_dtypes[i])
    throw AutogradError(fmt::format("backward of '{}': the gradient for input {} is {} but the input is {}",
                                    node_.op, i, dtype_name(g.dtype()), dtype_name(node_.input_dtypes[i])));
  add_into(input_grads_[i], g);
}

// --- the engine --------------------------------------------------------------------------------

struct Engine {
  // Runs one backward pass. With `capture` empty, gradients reaching leaves go into their .grad;
  // otherwise only gradients of the captured variables are collected and no .grad is touched.
  static std::vector<Variable> run(const std::vector<Variable>& roots,
                                   const std::vector<Variable>& seeds, BackwardOptions opt,
                                   const std::vector<Variable>* capture) {
    Tape& t = tape();
    const bool retain = opt.retain_graph || opt.create_graph;
    std::vector<Variable> captured(capture ? capture->size() : 0);
    std::unordered_map<const detail::VariableImpl*, std::size_t> capture_index;
    if (capture)
      for (std::size_t k = 0; k < capture->size(); ++k) capture_index[(*capture)[k].impl().get()] = k;

    // Seed the roots' slots.
    std::int64_t top = -1;
    for (std::size_t r = 0; r < roots.size(); ++r) {
      const Variable& root = roots[r];
      if (!root.requires_grad())
        throw AutogradError("backward: the output does not require a gradient (no input of the ops "
                            "that made it has requires_grad = true, or it was computed under NoGradGuard)");
      if (!root.is_leaf()) {
        if (root.impl()->generation != t.generation())
          throw AutogradError(fmt::format("backward: the graph through '{}' {}", root.op(),
                                          t.why_released(root.impl()->generation)));
        top = std::max(top, root.impl()->node);
      }
    }
    std::vector<Variable> slot(static_cast<std::size_t>(top + 1));
    for (std::size_t r = 0; r < roots.size(); ++r) {
      const Variable& root = roots[r];
      if (root.is_leaf()) {  // d(root)/d(root): nothing to walk
        deliver_to_leaf(root.impl(), seeds[r], capture, capture_index, captured);
      } else {
        add_into(slot[root.impl()->node], seeds[r]);
      }
    }

    GradModeGuard mode(opt.create_graph);
    for (std::int64_t i = top; i >= 0; --i) {
      if (!slot[i].defined()) continue;
      Variable g_out = std::move(slot[i]);
      slot[i] = {};
      if (capture) {
        for (std::size_t k = 0; k < capture->size(); ++k) {
          const auto& c = (*capture)[k];
          if (!c.is_leaf() && c.impl()->generation == t.generation() && c.impl()->node == i)
            captured[k] = g_out;
        }
      }
      const Node& node = t.nodes_[static_cast<std::size_t>(i)];
      std::vector<Variable> input_grads(node.edges.size());
      Grad g(node, g_out, input_grads);
      {
        InBackward in_backward;
        node.backward(g);
      }
      for (std::size_t k = 0; k < node.edges.size(); ++k) {
        const Variable& gi = input_grads[k];
        if (!gi.defined()) continue;
        if (anomaly_mode_enabled() && !all_finite(gi.value()))
          throw AutogradError(fmt::format("anomaly: backward of '{}' (node #{}) produced NaN or Inf in "
                                          "the gradient of input {} (shape {})",
                                          node.op, i, k, shape_str(gi.shape())));
        const Edge& e = node.edges[k];
        if (e.node >= 0) {
          add_into(slot[static_cast<std::size_t>(e.node)], gi);
        } else if (e.leaf) {
          deliver_to_leaf(e.leaf, gi, capture, capture_index, captured);
        } else if (e.released_op) {
          throw AutogradError(fmt::format("backward: input {} of '{}' (node #{}) came from '{}', whose "
                                          "graph {}; or detach() the input",
                                          k, node.op, i, e.released_op,
                                          t.why_released(e.released_generation)));
        }
      }
    }
    if (!retain) t.end_generation(Tape::End::backward);
    return captured;
  }

  static void deliver_to_leaf(const std::shared_ptr<detail::VariableImpl>& leaf, const Variable& g,
                              const std::vector<Variable>* capture,
                              const std::unordered_map<const detail::VariableImpl*, std::size_t>& index,
                              std::vector<Variable>& captured) {
    if (capture) {
      auto it = index.find(leaf.get());
      if (it != index.end())
        add_into(captured[it->second], g);
      return;
    }
    Variable sum = leaf->grad ? Variable(leaf->grad) : Variable();
    add_into(sum, g);
    leaf->grad = sum.impl();
  }

  static Variable default_seed(const Variable& root, const char* fn) {
    if (root.numel() != 1)
      throw AutogradError(fmt::format("{}: a gradient can be implied only for a one-element output; "
                                      "this one has shape {} (pass the gradient explicitly)",
                                      fn, shape_str(root.shape())));
    return Variable(Tensor::ones(root.shape(), root.dtype()));
  }
};

void backward(const Variable& root, const Variable& grad, BackwardOptions options) {
  if (!root.defined()) throw AutogradError("backward: the output is undefined");
  Variable seed = grad.defined() ? grad : Engine::default_seed(root, "backward");
  if (seed.shape() != root.shape())
    throw AutogradError(fmt::format("backward: the gradient has shape {} but the output has shape {}",
                                    shape_str(seed.shape()), shape_str(root.shape())));
  Engine::run({root}, {seed}, options, nullptr);
}

std::vector<Variable> grad(const std::vector<Variable>& outputs, const std::vector<Variable>& inputs,
                           const std::vector<Variable>& grad_outputs, BackwardOptions options) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw AutogradError(fmt::format("grad: {} outputs but {} grad_outputs", outputs.size(),
                                    grad_outputs.size()));
  std::vector<Variable> seeds;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    Variable s = grad_outputs.empty() || !grad_outputs[k].defined()
                     ? Engine::default_seed(outputs[k], "grad")
                     : grad_outputs[k];
    if (s.shape() != outputs[k].shape())
      throw AutogradError(fmt::format("grad: grad_outputs[{}] has shape {} but outputs[{}] has shape {}",
                                      k, shape_str(s.shape()), k, shape_str(outputs[k].shape())));
    seeds.push_back(s);
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad())
      throw AutogradError(fmt::format("grad: inputs[{}] does not require a gradient", k));
    if (!inputs[k].is_leaf() && inputs[k].impl()->generation != tape().generation())
      throw AutogradError(fmt::format("grad: inputs[{}], the result of '{}', {}", k, inputs[k].op(),
                                      tape().why_released(inputs[k].impl()->generation)));
  }
  return Engine::run(outputs, seeds, options, &inputs);
}

// --- inspection --------------------------------------------------------------------------------

void Tape::clear() { end_generation(End::clear); }

void Tape::end_generation(End how) {
  nodes_.clear();
  if (ends_.empty() || ends_.back().second != how) ends_.emplace_back(generation_, how);
  ++generation_;
}

std::string Tape::why_released(std::uint64_t generation) const {
  auto it = std::upper_bound(ends_.begin(), ends_.end(), generation,
                             [](std::uint64_t g, const auto& e) { return g < e.first; });
  if (generation >= generation_ || it == ends_.begin())
    return "belongs to no past recording of this thread's tape (a variable from another thread?)";
  if (std::prev(it)->second == End::clear)
    return "was dropped by tape().clear() (gradcheck clears the tape too); compute it again after the "
           "clear";
  return "was already released by an earlier backward; pass retain_graph = true to that backward to "
         "go through it twice";
}

namespace {

std::string human_bytes(std::size_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < 1024 * 1024) return fmt::format("{:.1f} KiB", n / 1024.0);
  return fmt::format("{:.1f} MiB", n / (1024.0 * 1024.0));
}

std::string input_label(const Edge& e, const Shape& s) {
  if (e.node >= 0) return fmt::format("#{}{}", e.node, shape_str(s));
  if (e.leaf) return fmt::format("{}{}", e.leaf->name.empty() ? "leaf" : e.leaf->name, shape_str(s));
  return fmt::format("const{}", shape_str(s));
}

}  // namespace

void Tape::print(std::ostream& os) const { os << to_string(); }

std::string Tape::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    std::vector<std::string> ins;
    for (std::size_t k = 0; k < n.edges.size(); ++k) ins.push_back(input_label(n.edges[k], n.input_shapes[k]));
    out += fmt::format("#{:<3} {:<22} {} -> {}  saved {}\n", i, n.op, fmt::join(ins, ", "),
                       shape_str(n.out_shape), human_bytes(n.saved_bytes()));
  }
  return out;
}

std::string Tape::to_dot() const {
  std::string out = "digraph tape {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n";
  std::unordered_map<const detail::VariableImpl*, std::string> leaf_ids;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    out += fmt::format("  n{} [label=\"#{} {}\\n{}\"];\n", i, i, n.op, shape_str(n.out_shape));
    for (std::size_t k = 0; k < n.edges.size(); ++k) {
      const Edge& e = n.edges[k];
      std::string src;
      if (e.node >= 0) {
        src = fmt::format("n{}", e.node);
      } else if (e.leaf) {
        auto [it, fresh] = leaf_ids.emplace(e.leaf.get(), fmt::format("leaf{}", leaf_ids.size()));
        src = it->second;
        if (fresh)
          out += fmt::format("  {} [shape=box, style=filled, fillcolor=lightblue, label=\"{}\\n{}\"];\n",
                             src, e.leaf->name.empty() ? "leaf" : e.leaf->name, shape_str(n.input_shapes[k]));
      } else {
        src = fmt::format("c{}_{}", i, k);
        out += fmt::format("  {} [shape=box, style=dashed, label=\"const\\n{}\"];\n", src,
                           shape_str(n.input_shapes[k]));
      }
      out += fmt::format("  {} -> n{};\n", src, i);
    }
  }
  out += "}\n";
  return out;
}

}  // namespace tg
