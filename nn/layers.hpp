// The standard layers, with PyTorch's semantics and default initialisations: Linear, Sequential,
// Identity, Flatten, Dropout and the activation modules (ReLU, LeakyReLU, Tanh, Sigmoid, Softplus,
// GELU). Activations are composed from the differentiable ops in autograd/ops.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/tensor/random.hpp"

namespace tg::nn {

// y = x W^T + b for x (B, in_features): W is (out_features, in_features), b is (out_features).
// Initialised like torch.nn.Linear: W ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)),
// b ~ U(-1/sqrt(in), 1/sqrt(in)). Draws from `gen` (the default generator when null).
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true,
         DType dtype = DType::f32, Generator* gen = nullptr);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Linear"; }
  // Re-draws the parameters with the default initialisation.
  void reset_parameters(Generator* gen = nullptr);

  std::int64_t in_features() const { return in_features_; }
  std::int64_t out_features() const { return out_features_; }
  Variable weight;  // (out_features, in_features)
  Variable bias;    // (out_features), undefined when built with bias = false

 protected:
  std::string extra_repr() const override;

 private:
  std::int64_t in_features_, out_features_;
};

// Runs its modules in order, each one's output feeding the next. Submodules are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    register_module(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Sequential"; }
  std::size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](std::size_t i) const { return modules_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

class Identity : public Module {
 public:
  Variable forward(const Variable& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

// Flattens dims start_dim..end_dim into one; the default keeps dim 0 (the batch): (B, ...) -> (B,
// -1).
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1)
      : start_dim_(start_dim), end_dim_(end_dim) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Flatten"; }

 protected:
  std::string extra_repr() const override;

 private:
  std::int64_t start_dim_, end_dim_;
};

// In training mode zeroes each element with probability p and scales the rest by 1 / (1 - p)
// (inverted dropout, so eval mode is the identity). The mask is drawn from `gen` (the default
// generator when null); the generator must outlive the module.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p() const { return p_; }

 protected:
  std::string extra_repr() const override;

 private:
  double p_;
  Generator* gen_;
};

// --- activations ---------------------------------------------------------------------------------

class ReLU : public Module {
 public:
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "ReLU"; }
};

// x for x > 0, negative_slope * x otherwise.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "LeakyReLU"; }

 protected:
  std::string extra_repr() const override;

 private:
  double negative_slope_;
};

class Tanh : public Module {
 public:
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Tanh"; }
};

class Sigmoid : public Module {
 public:
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};

// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's semantics).
class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1, double threshold = 20) : beta_(beta), threshold_(threshold) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Softplus"; }

 protected:
  std::string extra_repr() const override;

 private:
  double beta_, threshold_;
};

// The exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
class GELU : public Module {
 public:
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "GELU"; }
};

// The functional forms the modules use.
Variable leaky_relu(const Variable& x, double negative_slope = 0.01);
Variable softplus(const Variable& x, double beta, double threshold = 20);
Variable gelu(const Variable& x);
Variable dropout(const Variable& x, double p, bool training, Generator* gen = nullptr);

}  // namespace tg::nn
