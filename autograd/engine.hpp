// The backward engine, as a pass a reader (or a learner's program) can run one node at a time.
// backward() and grad() (tape.hpp) are three lines over it:
//
//   BackwardPass pass({loss}, {ones});   // seed: the root's slot holds d loss / d loss
//   while (!pass.done()) pass.step();    // step: the next node with a gradient runs its backward
//   pass.deliver();                      // deliver: leaves' .grad += their gradients; release the
//   tape
//
// Each step takes the gradient waiting in the highest non-empty slot (every consumer of that node
// has run by then, so the gradient is complete), runs the node's hooks, calls its backward, checks
// what it returns and adds each input's gradient into the slot of the node that made the input
// (always a smaller index) or into the leaf's pending gradient. One pass, a plain loop, no
// recursion.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "tapegrad/autograd/tape.hpp"

namespace tg {

class BackwardPass {
 public:
  // What one step did: the node, the gradient it received, and the gradient it sent to each input
  // (undefined for an input that needs none).
  struct Step {
    std::int64_t node = -1;
    const char* op = "";
    Variable grad_out;
    std::vector<Variable> input_grads;
  };

  // Seeds the roots' slots (a leaf root's seed goes straight to its pending gradient). Gradients
  // end up in the leaves' .grad at deliver().
  BackwardPass(const std::vector<Variable>& roots, const std::vector<Variable>& seeds,
               BackwardOptions options = {});
  // The same, but collecting only d/d(wrt[k]) (leaves or intermediates), for grad(): no .grad is
  // touched; take them with captured().
  BackwardPass(const std::vector<Variable>& roots, const std::vector<Variable>& seeds,
               BackwardOptions options, const std::vector<Variable>& wrt);

  // No node left that holds a gradient.
  bool done() const { return next_ < 0; }
  // The node the next step will run (-1 when done).
  std::int64_t next() const { return next_; }
  // Runs the next node's backward and passes its input gradients on.
  const Step& step();
  void run() {
    while (!done()) step();
  }

  // The end of backward(): runs the leaves' hooks, adds their gradients into .grad, and releases
  // the tape unless retain_graph or create_graph. Steps first if the pass is not done.
  void deliver();
  // The end of grad(): the gradients of wrt, in order (undefined where nothing flowed), and the
  // tape released as by deliver().
  std::vector<Variable> captured();

 private:
  void seed(const std::vector<Variable>& roots, const std::vector<Variable>& seeds);
  void advance();  // next_ to the next non-empty slot below it
  void to_leaf(const std::shared_ptr<detail::VariableImpl>& leaf, const Variable& g);
  void finish();

  Tape& tape_;
  BackwardOptions options_;
  bool to_leaves_;
  std::vector<Variable> slot_;  // slot_[i]: dL/d(output of node i), summed as consumers run
  std::int64_t next_ = -1;
  Step last_;
  // Leaves' gradients of this pass, in the order they were first reached.
  std::vector<std::pair<std::shared_ptr<detail::VariableImpl>, Variable>> leaves_;
  std::unordered_map<const detail::VariableImpl*, std::size_t> leaf_index_;
  // grad(): which wrt entries a leaf or a node stands for, and what was collected.
  std::unordered_map<const detail::VariableImpl*, std::vector<std::size_t>> wrt_leaf_;
  std::unordered_map<std::int64_t, std::vector<std::size_t>> wrt_node_;
  std::vector<Variable> captured_;
  bool finished_ = false;
};

}  // namespace tg
