// gradcheck / gradgradcheck: compare an op's analytical gradients with central differences in f64.
// Public API: the tests of every op use it, and so can anyone who adds one.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/autograd/variable.hpp"

namespace tg {

struct GradcheckOptions {
  double eps = 1e-6;  // step of the central difference
  double atol = 1e-5;
  double rtol = 1e-3;
  bool raise = true;  // throw AutogradError with the worst mismatch instead of returning false
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

// Builds the full Jacobian of fn at `inputs` twice: analytically (one backward per output element)
// and numerically ((f(x + eps e_j) - f(x - eps e_j)) / 2 eps), and compares them for every input
// that requires a gradient. Inputs must be f64. Runs with grad mode on, whatever the caller's mode.
bool gradcheck(const GradcheckFn& fn, const std::vector<Variable>& inputs,
               const GradcheckOptions& options = {});

// gradcheck of the gradient itself: checks d/d(inputs, v) of grad(fn(inputs), inputs, v) with
// create_graph, i.e. that the backward functions are themselves correctly differentiable.
bool gradgradcheck(const GradcheckFn& fn, const std::vector<Variable>& inputs,
                   const GradcheckOptions& options = {});

}  // namespace tg
