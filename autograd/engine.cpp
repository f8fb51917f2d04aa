// The backward engine (engine.hpp): seed, step, deliver; and backward() and grad() on top of it.
#include "tapegrad/autograd/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "tapegrad/autograd/profile.hpp"

namespace tg {

namespace {

using InBackward = ModeGuard<detail::in_backward, detail::set_in_backward>;
using InEngine = ModeGuard<detail::in_engine, detail::set_in_engine>;

// Runs v's hooks on g; each defined return value replaces g.
Variable run_hooks(const detail::VariableImpl& v, Variable g) {
  for (const GradHook& hook : v.hooks)
    if (Variable r = hook(g); r.defined()) g = std::move(r);
  return g;
}

Variable default_seed(const Variable& root, const char* fn) {
  if (root.numel() != 1)
    throw AutogradError(
        fmt::format("{}: a gradient can be implied only for a one-element output; "
                    "this one has shape {} (pass the gradient explicitly)",
                    fn, shape_str(root.shape())));
  return Variable(Tensor::ones(root.shape(), root.dtype()));
}

}  // namespace

BackwardPass::BackwardPass(const std::vector<Variable>& roots, const std::vector<Variable>& seeds,
                           BackwardOptions options)
    : tape_(tape()), options_(options), to_leaves_(true) {
  seed(roots, seeds);
}

BackwardPass::BackwardPass(const std::vector<Variable>& roots, const std::vector<Variable>& seeds,
                           BackwardOptions options, const std::vector<Variable>& wrt)
    : tape_(tape()), options_(options), to_leaves_(false), captured_(wrt.size()) {
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    if (wrt[k].is_leaf())
      wrt_leaf_[wrt[k].impl().get()].push_back(k);
    else if (wrt[k].impl()->generation == tape_.generation())
      wrt_node_[wrt[k].impl()->node].push_back(k);
  }
  seed(roots, seeds);
}

void BackwardPass::seed(const std::vector<Variable>& roots, const std::vector<Variable>& seeds) {
  std::int64_t top = -1;
  for (const Variable& root : roots) {
    if (!root.requires_grad())
      throw AutogradError(
          "backward: the output does not require a gradient (no input of the ops "
          "that made it has requires_grad = true, or it was computed under NoGradGuard)");
    if (!root.is_leaf()) {
      if (root.impl()->generation != tape_.generation())
        throw AutogradError(fmt::format("backward: the graph through '{}' {}", root.op(),
                                        tape_.why_released(root.impl()->generation)));
      top = std::max(top, root.impl()->node);
    }
  }
  slot_.resize(static_cast<std::size_t>(top + 1));
  for (std::size_t r = 0; r < roots.size(); ++r) {
    if (roots[r].is_leaf())  // d(root)/d(root): nothing to walk
      to_leaf(roots[r].impl(), seeds[r]);
    else
      detail::add_into(slot_[static_cast<std::size_t>(roots[r].impl()->node)], seeds[r]);
  }
  next_ = top + 1;
  advance();
}

void BackwardPass::advance() {
  do --next_;
  while (next_ >= 0 && !slot_[static_cast<std::size_t>(next_)].defined());
}

void BackwardPass::to_leaf(const std::shared_ptr<detail::VariableImpl>& leaf, const Variable& g) {
  if (!to_leaves_ && !wrt_leaf_.contains(leaf.get())) return;  // grad(): not asked for
  auto [it, fresh] = leaf_index_.emplace(leaf.get(), leaves_.size());
  if (fresh) leaves_.emplace_back(leaf, Variable());
  detail::add_into(leaves_[it->second].second, g);
}

const BackwardPass::Step& BackwardPass::step() {
  if (done())
    throw AutogradError("BackwardPass::step: the pass is done (no node holds a gradient)");
  const std::int64_t i = next_;
  const auto started = profile::enabled() ? profile::Clock::now() : profile::Clock::time_point();
  InEngine in_engine(true);
  GradModeGuard mode(options_.create_graph);
  const Node& node = tape_.nodes_[static_cast<std::size_t>(i)];
  // The gradient is complete: every consumer of node i has a larger index and has run.
  Variable g_out = std::move(slot_[static_cast<std::size_t>(i)]);
  slot_[static_cast<std::size_t>(i)] = {};
  if (auto out = node.watched.lock()) {
    g_out = run_hooks(*out, std::move(g_out));
    if (out->retains_grad && to_leaves_) {
      Variable sum = out->grad ? Variable(out->grad) : Variable();
      detail::add_into(sum, g_out.detach());
      out->grad = sum.impl();
    }
  }
  if (auto it = wrt_node_.find(i); it != wrt_node_.end())
    for (std::size_t k : it->second) captured_[k] = g_out;

  last_ = Step{i, node.op, g_out, std::vector<Variable>(node.edges.size())};
  Grad g(node, g_out, last_.input_grads);
  {
    InBackward in_backward(true);
    node.backward(g);
  }
  for (std::size_t k = 0; k < node.edges.size(); ++k) {
    const Variable& gi = last_.input_grads[k];
    if (!gi.defined()) continue;
    if (anomaly_mode_enabled() && !detail::all_finite(gi.value()))
      throw AutogradError(
          fmt::format("anomaly: backward of '{}' (node #{}) produced NaN or Inf in "
                      "the gradient of input {} (shape {})",
                      node.op, i, k, shape_str(gi.shape())));
    const Edge& e = node.edges[k];
    if (e.node >= 0)
      detail::add_into(slot_[static_cast<std::size_t>(e.node)], gi);
    else if (e.leaf)
      to_leaf(e.leaf, gi);
    else if (e.released_op)
      throw AutogradError(
          fmt::format("backward: input {} of '{}' (node #{}) came from '{}', whose "
                      "graph {}; or detach() the input",
                      k, node.op, i, e.released_op, tape_.why_released(e.released_generation)));
  }
  advance();
  if (profile::enabled()) profile::backward_done(node.op, profile::Clock::now() - started);
  return last_;
}

void BackwardPass::finish() {
  if (finished_) throw AutogradError("BackwardPass: deliver() or captured() was already called");
  run();
  finished_ = true;
  InEngine in_engine(true);
  GradModeGuard mode(options_.create_graph);
  for (auto& [leaf, g] : leaves_) {
    Variable total = run_hooks(*leaf, std::move(g));
    if (to_leaves_) {
      Variable sum = leaf->grad ? Variable(leaf->grad) : Variable();
      detail::add_into(sum, total);
      leaf->grad = sum.impl();
    } else {
      for (std::size_t k : wrt_leaf_.at(leaf.get())) captured_[k] = total;
    }
  }
  if (!options_.retain_graph && !options_.create_graph) {
    profile::Region release("tape release");
    tape_.end_generation(Tape::End::backward);
  }
  if (profile::enabled()) profile::mark();
}

void BackwardPass::deliver() {
  if (!to_leaves_)
    throw AutogradError("BackwardPass::deliver: this pass collects for grad(); use captured()");
  finish();
}

std::vector<Variable> BackwardPass::captured() {
  if (to_leaves_)
    throw AutogradError("BackwardPass::captured: this pass writes .grad; use deliver()");
  finish();
  return std::move(captured_);
}

// --- backward() and grad() -----------------------------------------------------------------------

void backward(const Variable& root, const Variable& grad, BackwardOptions options) {
  if (!root.defined()) throw AutogradError("backward: the output is undefined");
  Variable seed = grad.defined() ? grad : default_seed(root, "backward");
  if (seed.shape() != root.shape())
    throw AutogradError(
        fmt::format("backward: the gradient has shape {} but the output has shape {}",
                    shape_str(seed.shape()), shape_str(root.shape())));
  BackwardPass({root}, {seed}, options).deliver();
}

std::vector<Variable> grad(const std::vector<Variable>& outputs,
                           const std::vector<Variable>& inputs,
                           const std::vector<Variable>& grad_outputs, BackwardOptions options) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw AutogradError(
        fmt::format("grad: {} outputs but {} grad_outputs", outputs.size(), grad_outputs.size()));
  std::vector<Variable> seeds;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    Variable s = grad_outputs.empty() || !grad_outputs[k].defined()
                     ? default_seed(outputs[k], "grad")
                     : grad_outputs[k];
    if (s.shape() != outputs[k].shape())
      throw AutogradError(
          fmt::format("grad: grad_outputs[{}] has shape {} but outputs[{}] has shape {}", k,
                      shape_str(s.shape()), k, shape_str(outputs[k].shape())));
    seeds.push_back(s);
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad())
      throw AutogradError(fmt::format("grad: inputs[{}] does not require a gradient", k));
    if (!inputs[k].is_leaf() && inputs[k].impl()->generation != tape().generation())
      throw AutogradError(fmt::format("grad: inputs[{}], the result of '{}', {}", k, inputs[k].op(),
                                      tape().why_released(inputs[k].impl()->generation)));
  }
  return BackwardPass(outputs, seeds, options, inputs).captured();
}

}  // namespace tg
