// Distribution: the base class of every probability distribution in tg::dist. A distribution holds
// its parameters as Variables, so log_prob, entropy, mean, variance, KL and rsample are
// differentiable with respect to them. Shapes follow torch.distributions:
//   batch_shape: independent (not identically distributed) distributions side by side, e.g. one
//                Normal per latent unit of every image of a minibatch: (B, Z);
//   event_shape: the shape of one draw, () for a scalar distribution;
//   sample(sample_shape) has shape sample_shape + batch_shape + event_shape, and log_prob(value)
//   sums over the event dims, giving (the broadcast of value's leading dims with) batch_shape.
// A value outside the support gets log_prob = -inf, never a clamped number. With argument
// validation on (off by default, for speed; set_default_validate_args or the constructor's flag),
// bad parameters and values outside the support raise tg::ValueError instead.
//
// Adding a distribution: one header + one .cpp in this folder, its KL closed forms registered in
// that .cpp with TG_REGISTER_KL (kl.hpp), and a test calling the conformance kit (testing.hpp). See
// docs/distributions.md.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/random.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace tg::dist {

// The process-wide default of validate_args (false unless changed), like PyTorch's
// Distribution.set_default_validate_args (whose default is true: we trade the check for speed).
bool default_validate_args();
void set_default_validate_args(bool validate);

// What the values of a distribution can be, described for the conformance kit and for validation.
// lower/upper broadcast to batch_shape + event_shape; unbounded sides are -inf/+inf. For an integer
// support, the kit tests lower - 1 and upper + 1; non-integer values in between are left to the
// distribution (Bernoulli scores grey values in (0, 1) with the cross-entropy, see bernoulli.hpp):
// a distribution that rejects them is tested with ConformanceOptions::outside_support.
struct Support {
  enum class Kind { real, interval, integer };
  Kind kind = Kind::real;
  Tensor lower, upper;  // inclusive bounds unless *_open
  bool lower_open = false;
  bool upper_open = false;
  // True when the support moves with the parameters (Uniform): the score-function gradient
  // estimator is then biased (it misses the boundary term), so the kit skips that check.
  bool depends_on_parameters = false;
};

class Distribution {
 public:
  virtual ~Distribution() = default;

  // "Normal", "Bernoulli", ...: used in error messages and reports.
  virtual std::string name() const = 0;
  const Shape& batch_shape() const { return batch_shape_; }
  const Shape& event_shape() const { return event_shape_; }
  DType dtype() const { return dtype_; }
  // sample_shape + batch_shape + event_shape.
  Shape extended_shape(const Shape& sample_shape = {}) const;

  // A draw with no gradient: the result never requires grad, whatever the parameters. The default
  // runs rsample under NoGradGuard; distributions without rsample override it. gen: the default
  // generator when null.
  virtual Variable sample(const Shape& sample_shape = {}, Generator* gen = nullptr) const;
  // A reparameterized draw x = g(theta, eps) with eps from a fixed distribution, differentiable
  // with respect to the parameters theta. Raises tg::Error for a distribution that has none.
  virtual Variable rsample(const Shape& sample_shape = {}, Generator* gen = nullptr) const;
  virtual bool has_rsample() const { return false; }

  // log density (or log mass) of value, summed over the event dims; -inf outside the support.
  virtual Variable log_prob(const Variable& value) const = 0;
  virtual Variable entropy() const = 0;
  virtual Variable mean() const = 0;
  virtual Variable variance() const = 0;
  virtual Variable stddev() const;  // sqrt(variance())

  // The cumulative distribution function F(x) = P(X <= x) and its inverse F^-1(u), u in [0, 1), for
  // scalar continuous distributions that have them (has_cdf()); both differentiable in the
  // parameters and in their argument. The defaults raise tg::Error naming the distribution.
  virtual Variable cdf(const Variable& value) const;
  virtual Variable icdf(const Variable& u) const;
  virtual bool has_cdf() const { return false; }

  // The same distribution with its parameters broadcast to `batch_shape` (as torch's
  // Distribution.expand): batch_shape must be what broadcasting the current batch shape to it
  // gives. Each parameter keeps its own trailing dims (a Categorical's categories). The broadcast
  // is recorded on the tape, so gradients reach the original parameters. Built through
  // with_parameters, so it returns the same type.
  std::shared_ptr<Distribution> expand(const Shape& batch_shape) const;

  virtual Support support() const = 0;
  bool is_discrete() const { return support().kind == Support::Kind::integer; }

  // The parameters this distribution computes with (e.g. {loc, scale}; {logits} for Bernoulli), and
  // a copy of the same type built from replacements of the same shapes. The conformance kit uses
  // these to differentiate, perturb and convert a distribution it knows nothing else about.
  virtual std::vector<Variable> parameters() const = 0;
  virtual std::shared_ptr<Distribution> with_parameters(
      const std::vector<Variable>& params) const = 0;

  bool validate_args() const { return validate_args_; }
  // Virtual: a wrapper (Independent) passes it on to what it wraps.
  virtual void set_validate_args(bool validate) { validate_args_ = validate; }

 protected:
  Distribution(Shape batch_shape, Shape event_shape, DType dtype,
               std::optional<bool> validate_args);
  // With validation on: throws ValueError "<name>.log_prob: value ... outside the support ..." when
  // `inside` (a 0/1 mask) has a zero.
  void check_support(const char* fn, const Tensor& value, const Tensor& inside) const;

 private:
  Shape batch_shape_;
  Shape event_shape_;
  DType dtype_;
  bool validate_args_;
};

}  // namespace tg::dist
