// The conformance kit's gradient checks (testing_kit.hpp): gradcheck of the closed forms, an exact
// gradcheck of rsample with the noise held fixed, and d/dtheta E[sum x^2] three ways — pathwise,
// score function and finite differences of the closed form — each estimator on its own.
#include <fmt/format.h>

#include <functional>

#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/distributions/detail.hpp"
#include "tapegrad/distributions/testing_kit.hpp"

namespace tg::dist::kit {
namespace {

// gradcheck's own message (the Jacobian element and both derivatives), or "" when it passes. An
// output that does not require grad (a detached formula) has an analytical gradient of 0: it is
// compared as such, so that the message still names the element and the numerical derivative.
std::string gradcheck_failure(const GradcheckFn& f, const std::vector<Variable>& params) {
  bool detached = false;
  const GradcheckFn g = [&](const std::vector<Variable>& in) {
    Variable out = f(in);
    if (out.requires_grad()) return out;
    detached = true;
    Variable zero = 0.0 * sum(in[0]);  // d/dtheta = 0 exactly
    for (std::size_t i = 1; i < in.size(); ++i) zero = zero + 0.0 * sum(in[i]);
    return out + zero;
  };
  try {
    gradcheck(g, params);
    return "";
  } catch (const Error& e) {
    return detached ? fmt::format("{} (its output does not require grad: detached?)", e.what())
                    : std::string(e.what());
  }
}

std::string tolerances() {
  const GradcheckOptions go;
  return fmt::format("f64, eps {:g}, atol {:g}, rtol {:g}", go.eps, go.atol, go.rtol);
}

std::vector<double> flatten_grads(const std::vector<Variable>& grads,
                                  const std::vector<Variable>& params) {
  std::vector<double> out;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (grads[i].defined()) {
      auto v = values_as(grads[i], params[i].shape());
      out.insert(out.end(), v.begin(), v.end());
    } else {
      out.insert(out.end(), static_cast<std::size_t>(params[i].numel()), 0.0);
    }
  }
  return out;
}

// An estimator that threw: the pairs that use it fail, the others are judged without it.
Estimate threw(const char* who, const std::exception& e) {
  Estimate est;
  est.failed = true;
  est.why = fmt::format("the {} estimate threw: {}", who, e.what());
  return est;
}
Estimate unavailable(std::string why) {
  Estimate est;
  est.why = std::move(why);
  return est;
}

// a against b, element by element, within sigmas combined standard errors.
CheckResult compare(Kit& k, const Estimate& a, const char* an, const Estimate& b, const char* bn) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  for (const Estimate* e : {&a, &b}) {
    if (e->failed) return result(false, e->why);
    if (!e->available) return skip(e->why);
  }
  Worst w;
  for (std::size_t j = 0; j < a.mean.size(); ++j) {
    const double se = std::hypot(a.se[j], b.se[j]);
    const double atol = 1e-6 * (1 + std::abs(b.mean[j]));
    const double z = std::abs(a.mean[j] - b.mean[j]) / (se + atol);
    w.add(within(a.mean[j], b.mean[j], k.o.sigmas, se, atol), z / k.o.sigmas,
          fmt::format("parameter element {}: {} {:.6g} +- {:.2g} vs {} {:.6g}{}, {:.2f} standard "
                      "errors (bound {})",
                      j, an, a.mean[j], a.se[j], bn, b.mean[j],
                      b.se[j] > 0 ? fmt::format(" +- {:.2g}", b.se[j]) : std::string(), z,
                      k.o.sigmas));
  }
  return w.result(fmt::format(" [d/dtheta E[sum x^2], {} x {} samples]", k.o.gradient_batches,
                              k.o.gradient_batch_size));
}

}  // namespace

// log_prob (of three draws), entropy, mean and variance against central differences, in f64.
CheckResult check_gradcheck(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  const auto params = leaves(k.d.parameters(), DType::f64, true);
  const Variable x = k.rebuild(params)->sample({3}, &k.gen);
  std::vector<std::string> failed;
  auto run = [&](const char* what, const std::function<Variable(const Distribution&)>& f) {
    const std::string why = gradcheck_failure(
        [&](const std::vector<Variable>& in) { return f(*k.rebuild(in)); }, params);
    if (!why.empty()) failed.push_back(fmt::format("{}: {}", what, why));
  };
  run("log_prob", [&](const Distribution& d) { return d.log_prob(x); });
  run("entropy", [&](const Distribution& d) { return d.entropy(); });
  run("mean", [&](const Distribution& d) { return d.mean(); });
  run("variance", [&](const Distribution& d) { return d.variance(); });
  if (k.d.has_cdf()) {
    const Variable u(Tensor::full(k.d.extended_shape({3}), 0.3, DType::f64));
    run("cdf", [&](const Distribution& d) { return d.cdf(x); });
    run("icdf", [&](const Distribution& d) { return d.icdf(u); });
  }
  if (!failed.empty())
    return result(false, fmt::format("{} ({})", fmt::join(failed, "; "), tolerances()));
  return result(true, fmt::format("log_prob, entropy, mean, variance{}: analytical gradients "
                                  "match central differences ({})",
                                  k.d.has_cdf() ? ", cdf, icdf" : "", tolerances()));
}

// With a Generator re-seeded before every evaluation, rsample draws the same noise each time and is
// an ordinary function of the parameters, x = g(theta, eps): gradcheck checks dg/dtheta exactly,
// where the statistical comparisons below can only bound it.
CheckResult check_rsample_gradcheck(Kit& k) {
  if (!k.d.has_rsample()) return skip("no rsample");
  if (!k.rebuild_ok) return skip("needs with_parameters");
  const auto params = leaves(k.d.parameters(), DType::f64, true);
  const Shape shape = {k.o.rsample_gradcheck_samples};
  const std::uint64_t seed = k.o.seed + 1;
  const std::string why = gradcheck_failure(
      [&](const std::vector<Variable>& in) {
        Generator g(seed);
        return k.rebuild(in)->rsample(shape, &g);
      },
      params);
  if (!why.empty())
    return result(false, fmt::format("rsample({}) with the noise held fixed: {} ({})",
                                     shape_str(shape), why, tolerances()));
  return result(true, fmt::format("rsample({}) with the noise held fixed: analytical gradients "
                                  "match central differences ({})",
                                  shape_str(shape), tolerances()));
}

// The mean and standard error of the gradients of gradient_batches independent losses.
Estimate Kit::batched(const std::function<Variable(const Distribution&)>& loss) {
  std::vector<Variable> params = leaves(d.parameters(), DType::f64, true);
  std::vector<std::vector<double>> g;
  for (std::int64_t b = 0; b < o.gradient_batches; ++b) {
    GradModeGuard on(true);
    // rebuilt every time: a distribution may record ops on its parameters when constructed (a
    // broadcast, normalized logits), and each backward releases what it walked through
    const auto d64 = rebuild(params);
    const Variable L = loss(*d64);
    g.push_back(flatten_grads(tg::grad({L}, params), params));
  }
  Estimate e;
  const std::size_t p = g[0].size(), K = g.size();
  e.mean.assign(p, 0);
  e.se.assign(p, 0);
  for (std::size_t j = 0; j < p; ++j) {
    std::vector<double> col(K);
    for (std::size_t b = 0; b < K; ++b) col[b] = g[b][j];
    const Stats s = stats(col, 0, 1, K);
    e.mean[j] = s.mean;
    e.se[j] = std::sqrt(s.var / static_cast<double>(K));
  }
  e.available = true;
  return e;
}

// d/dtheta E[f] through rsample: the mean of df(x)/dtheta over the batch.
const Estimate& Kit::pathwise() {
  if (pathwise_) return *pathwise_;
  if (!d.has_rsample()) return *(pathwise_ = unavailable("no rsample"));
  try {
    pathwise_ = batched([&](const Distribution& dd) {
      const Variable x = dd.rsample({o.gradient_batch_size}, &gen);
      return sum(square(x)) / static_cast<double>(o.gradient_batch_size);
    });
  } catch (const std::exception& e) {
    pathwise_ = threw("pathwise", e);
  }
  return *pathwise_;
}

// E[(f(x) - b) d log p(x)/dtheta], x from sample(), b = E[f] (a baseline: it lowers the variance
// and, as E[d log p / dtheta] = 0, adds no bias).
const Estimate& Kit::score() {
  if (score_) return *score_;
  if (d.support().depends_on_parameters)
    return *(score_ = unavailable("the support depends on the parameters: the score-function "
                                  "estimator misses the boundary term"));
  try {
    score_ = batched([&](const Distribution& dd) {
      const Variable x = dd.sample({o.gradient_batch_size}, &gen);
      const Variable fx =
          detail::sum_rightmost(square(x), static_cast<std::int64_t>(dd.event_shape().size()));
      const Variable weight = (fx - expected_f(dd)).detach();
      return sum(weight * dd.log_prob(x)) / static_cast<double>(o.gradient_batch_size);
    });
  } catch (const std::exception& e) {
    score_ = threw("score-function", e);
  }
  return *score_;
}

// Central differences of the closed form E[f] = sum(variance + mean^2), f64 (no error bar).
const Estimate& Kit::finite_differences() {
  if (fd_) return *fd_;
  try {
    std::vector<Variable> params = leaves(d.parameters(), DType::f64, false);
    auto value = [&]() { return sum(expected_f(*rebuild(params))).item(); };
    Estimate e;
    for (auto& p : params) {
      double* data = p.mutable_value().data<double>();
      for (std::int64_t j = 0; j < p.numel(); ++j) {
        const double x0 = data[j];
        const double h = 1e-6 * std::max(1.0, std::abs(x0));
        data[j] = x0 + h;
        const double fp = value();
        data[j] = x0 - h;
        const double fm = value();
        data[j] = x0;
        e.mean.push_back((fp - fm) / (2 * h));
        e.se.push_back(0);
      }
    }
    e.available = true;
    fd_ = std::move(e);
  } catch (const std::exception& e) {
    fd_ = threw("finite-difference", e);
  }
  return *fd_;
}

CheckResult check_grad_pathwise_vs_fd(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  return compare(k, k.pathwise(), "pathwise", k.finite_differences(), "finite differences of E[f]");
}
CheckResult check_grad_score_vs_fd(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  return compare(k, k.score(), "score function", k.finite_differences(),
                 "finite differences of E[f]");
}
CheckResult check_grad_pathwise_vs_score(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  return compare(k, k.pathwise(), "pathwise", k.score(), "score function");
}

}  // namespace tg::dist::kit
