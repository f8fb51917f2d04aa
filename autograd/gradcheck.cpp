// gradcheck: the analytical Jacobian (one backward pass per output element, with a one-hot seed)
// against the numerical one (central differences, one pair of forward passes per input element).
// Both run with grad mode on, even under the caller's NoGradGuard (gradgradcheck's function calls
// grad() inside), and the tape is cleared
// after each numerical evaluation so memory stays bounded: gradcheck clears this thread's tape.
#include "tapegrad/autograd/gradcheck.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/tensor/random.hpp"

namespace tg {
namespace {

std::vector<double> values_of(const Variable& v) { return v.value().to_vector(); }

bool fail(const GradcheckOptions& opt, const std::string& msg) {
  if (opt.raise) throw AutogradError(msg);
  return false;
}

}  // namespace

bool gradcheck(const GradcheckFn& fn, const std::vector<Variable>& inputs,
               const GradcheckOptions& opt) {
  GradModeGuard on(
      true);  // also under the caller's NoGradGuard: fn may call grad() (gradgradcheck)
  std::vector<std::size_t> wrt;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    if (inputs[k].dtype() != DType::f64)
      throw DTypeError(fmt::format("gradcheck: input {} is {}; finite differences need f64 inputs",
                                   k, dtype_name(inputs[k].dtype())));
    wrt.push_back(k);
  }
  if (wrt.empty()) throw AutogradError("gradcheck: no input requires a gradient");

  // Numerical Jacobian: numeric[w][j * n_in + i] = d out_j / d x_i for input wrt[w].
  const std::int64_t m = [&] {
    const std::int64_t n = fn(inputs).numel();
    tape().clear();
    return n;
  }();
  std::vector<std::vector<double>> numeric(wrt.size());
  for (std::size_t w = 0; w < wrt.size(); ++w) {
    Tensor& x = const_cast<Variable&>(inputs[wrt[w]]).mutable_value();
    const std::int64_t n_in = x.numel();
    numeric[w].assign(static_cast<std::size_t>(m * n_in), 0.0);
    double* px = x.data<double>();
    for (std::int64_t i = 0; i < n_in; ++i) {
      const double saved = px[i];
      px[i] = saved + opt.eps;
      const auto plus = values_of(fn(inputs));
      tape().clear();
      px[i] = saved - opt.eps;
      const auto minus = values_of(fn(inputs));
      tape().clear();
      px[i] = saved;
      for (std::int64_t j = 0; j < m; ++j)
        numeric[w][j * n_in + i] = (plus[j] - minus[j]) / (2 * opt.eps);
    }
  }

  // Analytical Jacobian, row by row.
  std::vector<Variable> wrt_vars;
  for (auto k : wrt) wrt_vars.push_back(inputs[k]);
  const Variable out = fn(inputs);
  if (!out.requires_grad()) {
    tape().clear();
    return fail(opt, "gradcheck: the output does not depend on any input that requires a gradient");
  }
  // The worst mismatch: the largest excess of |a - n| over its tolerance.
  std::size_t mismatches = 0;
  double worst_excess = -1;
  std::string worst;
  std::size_t total = 0;
  for (auto k : wrt) total += static_cast<std::size_t>(m * inputs[k].numel());
  for (std::int64_t j = 0; j < m; ++j) {
    Tensor seed = Tensor::zeros(out.shape(), out.dtype());
    seed.data<double>()[j] = 1.0;
    const auto grads = grad({out}, wrt_vars, {Variable(seed)}, {.retain_graph = j + 1 < m});
    for (std::size_t w = 0; w < wrt.size(); ++w) {
      const std::int64_t n_in = inputs[wrt[w]].numel();
      const std::vector<double> row =
          grads[w].defined() ? values_of(grads[w]) : std::vector<double>(n_in, 0.0);
      for (std::int64_t i = 0; i < n_in; ++i) {
        const double a = row[i], n = numeric[w][j * n_in + i];
        const double tolerance = opt.atol + opt.rtol * std::abs(n);
        if (std::abs(a - n) <= tolerance) continue;
        ++mismatches;
        const double excess = std::isnan(a - n) ? INFINITY : std::abs(a - n) - tolerance;
        if (excess > worst_excess) {
          worst_excess = excess;
          worst = fmt::format(
              "input {} (shape {}): d out[{}] / d x[{}] is {:.10g} analytically but "
              "{:.10g} numerically",
              wrt[w], shape_str(inputs[wrt[w]].shape()), j, i, a, n);
        }
      }
    }
  }
  tape().clear();
  if (mismatches == 0) return true;
  return fail(opt,
              fmt::format("gradcheck: Jacobian mismatch at {} of {} entries; the worst, for {}",
                          mismatches, total, worst));
}

bool gradgradcheck(const GradcheckFn& fn, const std::vector<Variable>& inputs,
                   const GradcheckOptions& opt) {
  GradModeGuard on(
      true);  // as gradcheck: its header promises grad mode is on, whatever the caller's
  const std::size_t n = inputs.size();
  const Shape out_shape = fn(inputs).shape();
  tape().clear();
  // A fixed random direction v for the first-order gradient: g(x, v) = J(x)^T v.
  Generator gen(1234);
  Variable v(Tensor::randn(out_shape, DType::f64, &gen), /*requires_grad=*/true);

  auto first_order = [&fn, n](const std::vector<Variable>& all) {
    std::vector<Variable> xs(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<Variable> wrt;
    for (const auto& x : xs)
      if (x.requires_grad()) wrt.push_back(x);
    const Variable out = fn(xs);
    const auto grads = grad({out}, wrt, {all[n]}, {.create_graph = true});
    std::vector<Variable> flat;
    for (std::size_t k = 0; k < wrt.size(); ++k)
      flat.push_back(grads[k].defined() ? reshape(grads[k], {-1})
                                        : Variable(Tensor::zeros({wrt[k].numel()}, DType::f64)));
    return concat(flat, 0);
  };
  std::vector<Variable> all = inputs;
  all.push_back(v);
  return gradcheck(first_order, all, opt);
}

}  // namespace tg
