// The updates follow PyTorch 1.13's _single_tensor_* functions operation by operation (scalars
// computed in double as Python does, then cast to the tensor's dtype as ATen does), so f64 runs
// agree with PyTorch to rounding. The element loops are fused kernels (tensor/fused.hpp): one
// vectorised, threaded pass over the parameter, its gradient and the optimizer's buffers.
#include "tapegrad/nn/optim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "tapegrad/autograd/profile.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/fused.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace tg::optim {
namespace {

std::string number_text(double v) { return fmt::format("{}", v); }  // shortest round-trip form

double parse_number(const std::string& key, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw ValueError(
        fmt::format("Optimizer::load_state_dict: '{}' is not a number: '{}'", key, text));
  return v;
}

std::int64_t parse_count(const std::string& key, const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || v < 0)
    throw ValueError(
        fmt::format("Optimizer::load_state_dict: '{}' is not a step count: '{}'", key, text));
  return v;
}

// The gradient of p, checked against p; undefined when p has none.
Tensor grad_of(const Variable& p, const char* who) {
  const Variable g = p.grad();
  if (!g.defined()) return {};
  const Tensor& t = g.value();
  if (t.shape() != p.shape() || t.dtype() != p.dtype())
    throw ShapeError(fmt::format("{}: the gradient of '{}' is {} {} but the parameter is {} {}",
                                 who, p.name(), shape_str(t.shape()), dtype_name(t.dtype()),
                                 shape_str(p.shape()), dtype_name(p.dtype())));
  return t;
}

}  // namespace

// --- Optimizer -----------------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<Variable> params, double lr)
    : params_(std::move(params)), lr_(lr) {
  if (params_.empty()) throw ValueError("Optimizer: got an empty parameter list");
  if (!(lr >= 0)) throw ValueError(fmt::format("Optimizer: invalid learning rate {}", lr));
  std::set<std::string> names;
  bool named = true;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i];
    if (!p.defined()) throw ValueError(fmt::format("Optimizer: parameter {} is undefined", i));
    if (!p.is_leaf())
      throw ValueError(
          fmt::format("Optimizer: parameter {} ('{}') is not a leaf: it was produced by "
                      "'{}'; optimize leaves (module parameters)",
                      i, p.name(), p.op() ? p.op() : "?"));
    for (std::size_t j = 0; j < i; ++j)
      if (params_[j].same(p))
        throw ValueError(fmt::format("Optimizer: parameter {} ('{}') appears twice (also at {})", i,
                                     p.name(), j));
    named = named && !p.name().empty() && names.insert(p.name()).second;
  }
  for (std::size_t i = 0; i < params_.size(); ++i)
    keys_.push_back(named ? params_[i].name() : std::to_string(i));
  state_.resize(params_.size());
}

void Optimizer::zero_grad() {
  profile::Region region("zero_grad");
  for (auto& p : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0)) throw ValueError(fmt::format("Optimizer::set_lr: invalid learning rate {}", lr));
  lr_ = lr;
}

Tensor Optimizer::find_buffer(std::size_t i, const std::string& name) const {
  for (const auto& [n, t] : state_.at(i).buffers)
    if (n == name) return t;
  return {};
}

Tensor& Optimizer::buffer(std::size_t i, const std::string& name) {
  auto& buffers = state_.at(i).buffers;
  for (auto& [n, t] : buffers)
    if (n == name) return t;
  buffers.emplace_back(name, Tensor::zeros_like(params_[i].value()));
  return buffers.back().second;
}

OptimizerState Optimizer::state_dict() const {
  OptimizerState s = state_view();
  for (auto& [_, t] : s.tensors) t = t.clone();
  return s;
}

OptimizerState Optimizer::state_view() const {
  OptimizerState s;
  s.scalars["type"] = type_name();
  s.scalars["lr"] = number_text(lr_);
  auto hyper = const_cast<Optimizer*>(this)->hyperparameters();
  for (const auto& [name, v] : hyper.numbers) s.scalars[name] = number_text(*v);
  for (const auto& [name, v] : hyper.flags) s.scalars[name] = *v ? "true" : "false";
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const ParamState& ps = state_[i];
    if (ps.step == 0 && ps.buffers.empty()) continue;
    s.scalars[keys_[i] + ".step"] = std::to_string(ps.step);
    for (const auto& [name, t] : ps.buffers) s.tensors.emplace_back(keys_[i] + "." + name, t);
  }
  return s;
}

void Optimizer::load_state_dict(const OptimizerState& s) {
  const auto scalar = [&](const std::string& key) -> const std::string& {
    auto it = s.scalars.find(key);
    if (it == s.scalars.end())
      throw ValueError(fmt::format("{}::load_state_dict: the state has no '{}'", type_name(), key));
    return it->second;
  };
  if (scalar("type") != type_name())
    throw ValueError(fmt::format("{}::load_state_dict: the state is of a {} optimizer", type_name(),
                                 scalar("type")));

  // Validate everything before changing anything.
  const auto param_of = [&](const std::string& key, std::string& rest) -> std::size_t {
    for (std::size_t i = 0; i < keys_.size(); ++i)
      if (key.size() > keys_[i].size() + 1 && key.compare(0, keys_[i].size(), keys_[i]) == 0 &&
          key[keys_[i].size()] == '.' && key.find('.', keys_[i].size() + 1) == std::string::npos) {
        rest = key.substr(keys_[i].size() + 1);
        return i;
      }
    return keys_.size();
  };
  std::vector<ParamState> fresh(params_.size());
  std::vector<std::string> problems;
  for (const auto& [key, t] : s.tensors) {
    std::string buf;
    const std::size_t i = param_of(key, buf);
    if (i == keys_.size()) {
      problems.push_back(fmt::format("unexpected '{}'", key));
    } else if (t.shape() != params_[i].shape()) {
      problems.push_back(fmt::format("'{}' has shape {} in the state but the parameter is {}", key,
                                     shape_str(t.shape()), shape_str(params_[i].shape())));
    } else if (t.dtype() != params_[i].dtype()) {
      problems.push_back(fmt::format("'{}' has dtype {} in the state but the parameter is {}", key,
                                     dtype_name(t.dtype()), dtype_name(params_[i].dtype())));
    } else {
      fresh[i].buffers.emplace_back(buf, t.clone());
    }
  }
  for (const auto& [key, text] : s.scalars) {
    std::string rest;
    const std::size_t i = param_of(key, rest);
    if (i < keys_.size() && rest == "step") fresh[i].step = parse_count(key, text);
  }
  if (!problems.empty())
    throw ValueError(fmt::format("{}::load_state_dict: {} problem{}: {}", type_name(),
                                 problems.size(), problems.size() == 1 ? "" : "s",
                                 fmt::join(problems, "; ")));
  const double lr = parse_number("lr", scalar("lr"));
  auto hyper = hyperparameters();
  std::vector<double> numbers;
  std::vector<bool> flags;
  for (const auto& [name, _] : hyper.numbers) numbers.push_back(parse_number(name, scalar(name)));
  for (const auto& [name, _] : hyper.flags) {
    const std::string& text = scalar(name);
    if (text != "true" && text != "false")
      throw ValueError(fmt::format("{}::load_state_dict: '{}' is not true/false: '{}'", type_name(),
                                   name, text));
    flags.push_back(text == "true");
  }
  set_lr(lr);
  for (std::size_t k = 0; k < numbers.size(); ++k) *hyper.numbers[k].second = numbers[k];
  for (std::size_t k = 0; k < flags.size(); ++k) *hyper.flags[k].second = flags[k];
  state_ = std::move(fresh);
}

// --- SGD -----------------------------------------------------------------------------------------

SGD::SGD(std::vector<Variable> params, double lr, double momentum, double dampening,
         double weight_decay, bool nesterov)
    : Optimizer(std::move(params), lr),
      momentum_(momentum),
      dampening_(dampening),
      weight_decay_(weight_decay),
      nesterov_(nesterov) {
  if (momentum < 0) throw ValueError(fmt::format("SGD: invalid momentum {}", momentum));
  if (weight_decay < 0) throw ValueError(fmt::format("SGD: invalid weight_decay {}", weight_decay));
  if (nesterov && (momentum <= 0 || dampening != 0))
    throw ValueError("SGD: Nesterov momentum requires a momentum and zero dampening");
}

Optimizer::Hyper SGD::hyperparameters() {
  return {{{"momentum", &momentum_}, {"dampening", &dampening_}, {"weight_decay", &weight_decay_}},
          {{"nesterov", &nesterov_}}};
}

void SGD::step() {
  profile::Region region("optimizer step");
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params().size(); ++i) {
    Variable p = params()[i];
    const Tensor g = grad_of(p, "SGD::step");
    if (!g.defined()) continue;
    ++state()[i].step;
    const bool first = momentum_ != 0 && !find_buffer(i, "momentum_buffer").defined();
    Tensor buf = momentum_ != 0 ? buffer(i, "momentum_buffer") : Tensor();
    Tensor& value = p.mutable_value();
    visit_dtype(value.dtype(), [&]<class T>() {
      kernels::SgdStep<T> st{static_cast<T>(weight_decay_), static_cast<T>(momentum_),
                             static_cast<T>(1 - dampening_), static_cast<T>(-lr())};
      st.has_weight_decay = weight_decay_ != 0;
      st.has_momentum = momentum_ != 0;
      st.nesterov = nesterov_;
      st.first = first;
      kernels::sgd_step(st, value.data<T>(), g.data<T>(), buf.defined() ? buf.data<T>() : nullptr,
                        value.numel());
    });
  }
}

// --- Adam, AdamW ---------------------------------------------------------------------------------

Adam::Adam(std::vector<Variable> params, double lr, std::pair<double, double> betas, double eps,
           double weight_decay, bool amsgrad)
    : Optimizer(std::move(params), lr),
      beta1_(betas.first),
      beta2_(betas.second),
      eps_(eps),
      weight_decay_(weight_decay),
      amsgrad_(amsgrad) {
  if (!(eps >= 0)) throw ValueError(fmt::format("Adam: invalid epsilon {}", eps));
  if (!(beta1_ >= 0 && beta1_ < 1)) throw ValueError(fmt::format("Adam: invalid beta1 {}", beta1_));
  if (!(beta2_ >= 0 && beta2_ < 1)) throw ValueError(fmt::format("Adam: invalid beta2 {}", beta2_));
  if (!(weight_decay >= 0))
    throw ValueError(fmt::format("Adam: invalid weight_decay {}", weight_decay));
}

AdamW::AdamW(std::vector<Variable> params, double lr, std::pair<double, double> betas, double eps,
             double weight_decay, bool amsgrad)
    : Adam(std::move(params), lr, betas, eps, weight_decay, amsgrad) {
  decoupled_ = true;
}

Optimizer::Hyper Adam::hyperparameters() {
  return {
      {{"beta1", &beta1_}, {"beta2", &beta2_}, {"eps", &eps_}, {"weight_decay", &weight_decay_}},
      {{"amsgrad", &amsgrad_}}};
}

void Adam::step() {
  profile::Region region("optimizer step");
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params().size(); ++i) {
    Variable p = params()[i];
    const Tensor g = grad_of(p, decoupled_ ? "AdamW::step" : "Adam::step");
    if (!g.defined()) continue;
    const std::int64_t step = ++state()[i].step;
    Tensor m = buffer(i, "exp_avg");
    Tensor v = buffer(i, "exp_avg_sq");
    Tensor vmax = amsgrad_ ? buffer(i, "max_exp_avg_sq") : Tensor();
    // Python floats, as in _single_tensor_adam.
    const double bias_correction1 = 1 - std::pow(beta1_, static_cast<double>(step));
    const double bias_correction2 = 1 - std::pow(beta2_, static_cast<double>(step));
    const double step_size = lr() / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    Tensor& value = p.mutable_value();
    visit_dtype(value.dtype(), [&]<class T>() {
      kernels::AdamStep<T> st{static_cast<T>(beta1_),
                              static_cast<T>(1 - beta1_),
                              static_cast<T>(beta2_),
                              static_cast<T>(1 - beta2_),
                              static_cast<T>(bias_correction2_sqrt),
                              static_cast<T>(eps_),
                              static_cast<T>(-step_size),
                              static_cast<T>(weight_decay_),
                              static_cast<T>(1 - lr() * weight_decay_)};
      st.decoupled = decoupled_;
      st.amsgrad = amsgrad_;
      st.has_weight_decay = weight_decay_ != 0;
      kernels::adam_step(st, value.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(),
                         vmax.defined() ? vmax.data<T>() : nullptr, value.numel());
    });
  }
}

// --- clipping ------------------------------------------------------------------------------------

double clip_grad_norm(const std::vector<Variable>& params, double max_norm, double norm_type) {
  NoGradGuard no_grad;
  std::vector<std::pair<Variable, Tensor>> grads;
  for (const auto& p : params) {
    Tensor g = grad_of(p, "clip_grad_norm");
    if (g.defined()) grads.emplace_back(p, g);
  }
  if (grads.empty()) return 0;
  if (!(norm_type > 0))
    throw ValueError(fmt::format("clip_grad_norm: invalid norm_type {}", norm_type));
  const bool inf = std::isinf(norm_type);
  // total = || (||g_1||_p, ..., ||g_n||_p) ||_p, accumulated in double.
  std::vector<double> norms;
  for (const auto& entry : grads) {
    const Tensor& g =
        entry.second;  // not a structured binding: clang 14 cannot capture one in a lambda
    double acc = 0;
    visit_dtype(g.dtype(), [&]<class T>() {
      const T* d = g.data<T>();
      for (std::int64_t j = 0; j < g.numel(); ++j) {
        const double a = std::abs(static_cast<double>(d[j]));
        if (inf)
          acc = std::max(acc, a);
        else if (norm_type == 2)
          acc += a * a;
        else
          acc += std::pow(a, norm_type);
      }
    });
    norms.push_back(inf ? acc : norm_type == 2 ? std::sqrt(acc) : std::pow(acc, 1 / norm_type));
  }
  double total = 0;
  for (double n : norms) {
    if (inf)
      total = std::max(total, n);
    else
      total += norm_type == 2 ? n * n : std::pow(n, norm_type);
  }
  if (!inf) total = norm_type == 2 ? std::sqrt(total) : std::pow(total, 1 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for (auto& [p, g] : grads) {
      Variable pv = p;
      pv.set_grad(Variable(g * coef));
    }
  }
  return total;
}

void clip_grad_value(const std::vector<Variable>& params, double clip) {
  NoGradGuard no_grad;
  if (!(clip >= 0)) throw ValueError(fmt::format("clip_grad_value: invalid clip value {}", clip));
  for (const auto& p : params) {
    Tensor g = grad_of(p, "clip_grad_value");
    if (!g.defined()) continue;
    Variable pv = p;
    pv.set_grad(Variable(tg::clamp(g, -clip, clip)));
  }
}

}  // namespace tg::optim
