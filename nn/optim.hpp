// Optimizers with PyTorch 1.13's exact update formulas (torch/optim/{sgd,adam,adamw}.py,
// _single_tensor_*): SGD (momentum, dampening, Nesterov, weight decay), Adam (weight decay,
// AMSGrad) and AdamW (decoupled weight decay); gradient clipping by norm and by value. docs/nn.md
// writes the formulas out. Updates are in place on the parameters' values, never on a gradient
// (gradient tensors may be shared), and are not recorded on the tape.
//
//   tg::optim::Adam opt(model.parameters(), 1e-3);
//   for (...) { opt.zero_grad(); auto loss = ...; tg::backward(loss); opt.step(); }
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace tg::optim {

// What an optimizer saves to resume exactly: per-parameter buffers ("<param key>.<buffer>", e.g.
// "fc1.weight.exp_avg") and scalars as text ("lr", "<param key>.step", the hyperparameters,
// "type"). A parameter's key is its Variable name ("fc1.weight", set by Module) when every
// parameter has a distinct non-empty name, and its index in the list ("0", "1", ...) otherwise.
struct OptimizerState {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> scalars;
};

class LRScheduler;

class Optimizer {
 public:
  // `params`: leaf Variables (usually module.parameters()); none may appear twice.
  Optimizer(std::vector<Variable> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter whose gradient is defined (the others are skipped).
  virtual void step() = 0;
  // Sets every parameter's gradient to undefined.
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Variable>& params() const { return params_; }
  const std::string& param_key(std::size_t i) const { return keys_.at(i); }
  virtual std::string type_name() const = 0;

  // Buffers are cloned: the state is a snapshot. load_state_dict checks the type, keys, shapes and
  // dtypes and restores lr, the hyperparameters, the step counts and the buffers.
  OptimizerState state_dict() const;
  // The same, with the tensors sharing the optimizer's own buffers (valid until the next step):
  // what a checkpoint writer needs, without a copy of the whole state.
  OptimizerState state_view() const;
  void load_state_dict(const OptimizerState& state);

 protected:
  struct ParamState {
    std::int64_t step = 0;
    std::vector<std::pair<std::string, Tensor>> buffers;  // in creation order
  };
  // The buffer `name` of parameter i, or an undefined tensor.
  Tensor find_buffer(std::size_t i, const std::string& name) const;
  // The buffer `name` of parameter i, created as zeros like the parameter when absent.
  Tensor& buffer(std::size_t i, const std::string& name);
  std::vector<ParamState>& state() { return state_; }

  // The hyperparameters saved and restored with the state (besides lr).
  struct Hyper {
    std::vector<std::pair<std::string, double*>> numbers;
    std::vector<std::pair<std::string, bool*>> flags;
  };
  virtual Hyper hyperparameters() = 0;

 private:
  friend class LRScheduler;
  std::vector<Variable> params_;
  std::vector<std::string> keys_;
  std::vector<ParamState> state_;
  double lr_;
  // The lr the first schedule attached to this optimizer started from (PyTorch's 'initial_lr'):
  // every later schedule uses it as its base lr, so schedules can be chained.
  std::optional<double> initial_lr_;
};

// Stochastic gradient descent, torch.optim.SGD:
//   g = grad + weight_decay * p
//   b = g (first step), else momentum * b + (1 - dampening) * g
//   g = g + momentum * b (nesterov), else b          (only when momentum != 0)
//   p = p - lr * g
class SGD : public Optimizer {
 public:
  SGD(std::vector<Variable> params, double lr, double momentum = 0, double dampening = 0,
      double weight_decay = 0, bool nesterov = false);
  void step() override;
  std::string type_name() const override { return "SGD"; }

 protected:
  Hyper hyperparameters() override;

 private:
  double momentum_, dampening_, weight_decay_;
  bool nesterov_;
};

// Adam, torch.optim.Adam (weight decay added to the gradient, i.e. L2 regularisation):
//   t = t + 1;  g = grad + weight_decay * p
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;  (amsgrad: vmax = max(vmax, v))
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
class Adam : public Optimizer {
 public:
  Adam(std::vector<Variable> params, double lr = 1e-3,
       std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8, double weight_decay = 0,
       bool amsgrad = false);
  void step() override;
  std::string type_name() const override { return "Adam"; }

 protected:
  Hyper hyperparameters() override;
  bool decoupled_ = false;  // AdamW: p = p (1 - lr weight_decay) instead of adding to the gradient

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool amsgrad_;
};

// AdamW, torch.optim.AdamW: Adam with decoupled weight decay, p = p (1 - lr * weight_decay) first.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Variable> params, double lr = 1e-3,
        std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8,
        double weight_decay = 1e-2, bool amsgrad = false);
  std::string type_name() const override { return "AdamW"; }
};

// Scales all gradients together so that their joint norm is at most max_norm (torch.nn.utils.
// clip_grad_norm_): total = ||(||g_1||, ..., ||g_n||)||_p, coef = max_norm / (total + 1e-6),
// applied when coef < 1. Gradients are replaced by new tensors, never scaled in place. Returns the
// total norm (before clipping). norm_type may be infinity (the largest |g|). Undefined gradients
// are skipped.
double clip_grad_norm(const std::vector<Variable>& params, double max_norm, double norm_type = 2);
// Clamps every gradient element to [-clip, clip] (torch.nn.utils.clip_grad_value_).
void clip_grad_value(const std::vector<Variable>& params, double clip);

}  // namespace tg::optim
