// The tape: the modes, record(), what a backward function sees (Grad), and printing the tape as
// text and as Graphviz DOT. The engine that walks it backwards is engine.cpp.
#include "tapegrad/autograd/tape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/profile.hpp"

namespace tg {

// --- modes -------------------------------------------------------------------------------------

namespace {
thread_local bool t_grad_mode = true;
thread_local bool t_anomaly_mode = false;
// True while a backward function runs. record()'s anomaly check is off then: the engine checks the
// gradient that backward returns and names its node, rather than an op used inside the backward.
thread_local bool t_in_backward = false;
}  // namespace

bool detail::in_backward() { return t_in_backward; }
void detail::set_in_backward(bool b) { t_in_backward = b; }
// True while the engine runs: the profiler counts what the ops recorded then do (gradient sums
// included) as the backward of the node being processed, not as forwards.
namespace {
thread_local bool t_in_engine = false;
}
bool detail::in_engine() { return t_in_engine; }
void detail::set_in_engine(bool b) { t_in_engine = b; }
bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool enabled) { t_grad_mode = enabled; }
bool anomaly_mode_enabled() { return t_anomaly_mode; }
void set_anomaly_mode(bool enabled) { t_anomaly_mode = enabled; }

Tape& tape() {
  thread_local Tape t;
  return t;
}

// --- recording ---------------------------------------------------------------------------------

bool detail::all_finite(const Tensor& t) {
  return visit_dtype(t.dtype(), [&]<class T>() {
    const T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  });
}

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
  // The op's tensor work ran just before this call: close its forward interval.
  if (profile::enabled() && !detail::in_engine()) profile::forward_done(op);
  if (anomaly_mode_enabled() && !t_in_backward && !detail::all_finite(value))
    throw AutogradError(
        fmt::format("anomaly: '{}' (would be node #{}) produced NaN or Inf in its "
                    "output of shape {}",
                    op, t.size(), shape_str(value.shape())));
  auto impl = std::make_shared<detail::VariableImpl>();
  impl->value = std::move(value);
  const bool need =
      grad_mode_enabled() && std::any_of(inputs.begin(), inputs.end(),
                                         [](const Variable& v) { return v.requires_grad(); });
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
    } else if (in.numel() == 1) {
      e.constant = in.item();
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

void detail::add_into(Variable& sum, const Variable& g) { sum = sum.defined() ? add(sum, g) : g; }

Grad::Grad(const Node& node, Variable out, std::vector<Variable>& input_grads)
    : node_(node), out_(std::move(out)), input_grads_(input_grads) {}

const Variable& Grad::result() const {
  if (!node_.result.defined())
    throw AutogradError(
        fmt::format("backward of '{}': result() used but the op did not save it "
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

bool Grad::needs(std::size_t i) const {
  return i < node_.edges.size() && node_.edges[i].needs_grad();
}

const Shape& Grad::input_shape(std::size_t i) const { return node_.input_shapes.at(i); }

void Grad::accumulate(std::size_t i, const Variable& g) {
  if (i >= node_.edges.size())
    throw AutogradError(
        fmt::format("backward of '{}': gradient for input {} but the op has {} inputs", node_.op, i,
                    node_.edges.size()));
  if (!needs(i) || !g.defined()) return;
  if (g.shape() != node_.input_shapes[i])
    throw AutogradError(
        fmt::format("backward of '{}': the gradient for input {} has shape {} but the "
                    "input has shape {}",
                    node_.op, i, shape_str(g.shape()), shape_str(node_.input_shapes[i])));
  if (g.dtype() != node_.input_dtypes[i])
    throw AutogradError(
        fmt::format("backward of '{}': the gradient for input {} is {} but the input is {}",
                    node_.op, i, dtype_name(g.dtype()), dtype_name(node_.input_dtypes[i])));
  detail::add_into(input_grads_[i], g);
}

// --- inspection --------------------------------------------------------------------------------

void Tape::clear() { end_generation(End::clear); }

void Tape::watch(const Variable& v) {
  if (v.is_leaf() || v.impl()->generation != generation_) return;
  nodes_.at(static_cast<std::size_t>(v.impl()->node)).watched = v.impl();
}

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
    return "was dropped by tape().clear() (gradcheck clears the tape too); compute it again after "
           "the "
           "clear";
  return "was already released by an earlier backward; pass retain_graph = true to that backward "
         "to "
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
  if (e.leaf)
    return fmt::format("{}{}", e.leaf->name.empty() ? "leaf" : e.leaf->name, shape_str(s));
  return fmt::format("const{}", shape_str(s));
}

}  // namespace

void Tape::print(std::ostream& os) const { os << to_string(); }

std::string Tape::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    std::vector<std::string> ins;
    for (std::size_t k = 0; k < n.edges.size(); ++k)
      ins.push_back(input_label(n.edges[k], n.input_shapes[k]));
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
          out += fmt::format(
              "  {} [shape=box, style=filled, fillcolor=lightblue, label=\"{}\\n{}\"];\n", src,
              e.leaf->name.empty() ? "leaf" : e.leaf->name, shape_str(n.input_shapes[k]));
      } else {
        src = fmt::format("c{}_{}", i, k);
        const std::string what = e.constant ? fmt::format("{:g}", *e.constant) : "const";
        out += fmt::format("  {} [shape=box, style=dashed, label=\"{}\\n{}\"];\n", src, what,
                           shape_str(n.input_shapes[k]));
      }
      if (n.edges.size() > 1)
        out += fmt::format("  {} -> n{} [label=\"{}\"];\n", src, i, k);
      else
        out += fmt::format("  {} -> n{};\n", src, i);
    }
  }
  out += "}\n";
  return out;
}

}  // namespace tg
