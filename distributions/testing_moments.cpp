// The conformance kit's statistical checks of mean(), variance() and entropy() against sample
// moments, within options.sigmas standard errors (testing_kit.hpp).
#include <fmt/format.h>

#include "tapegrad/distributions/testing_kit.hpp"

namespace tg::dist::kit {
namespace {

// The sample statistics of options.samples draws, one per element of batch + event.
std::vector<Stats> sample_stats(Kit& k) {
  const std::size_t m = static_cast<std::size_t>(numel(k.be_shape()));
  const std::size_t n = static_cast<std::size_t>(k.o.samples);
  const auto x = values(k.d.sample({k.o.samples}, &k.gen));
  std::vector<Stats> out;
  for (std::size_t j = 0; j < m; ++j) out.push_back(stats(x, j, m, n));
  return out;
}

// Each estimate est[j] +- se[j] against the closed form want[j], within sigmas standard errors
// (plus rounding): "element j: <what> est +- se vs <fn> want, z standard errors (bound k)".
CheckResult agree(Kit& k, const char* what, const char* fn, const std::vector<double>& est,
                  const std::vector<double>& se, const std::vector<double>& want) {
  Worst w;
  for (std::size_t j = 0; j < est.size(); ++j) {
    const double atol = k.rounding() * (1 + std::abs(want[j]));
    const double z = std::abs(est[j] - want[j]) / (se[j] + atol);
    w.add(within(est[j], want[j], k.o.sigmas, se[j], atol), z / k.o.sigmas,
          fmt::format("element {}: {} {:.6g} +- {:.2g} vs {} {:.6g}, {:.2f} standard errors "
                      "(bound {})",
                      j, what, est[j], se[j], fn, want[j], z, k.o.sigmas));
  }
  return w.result(fmt::format(" [{} samples]", k.o.samples));
}

}  // namespace

// The sample mean agrees with mean(): standard error sd / sqrt(n).
CheckResult check_mean(Kit& k) {
  const double n = static_cast<double>(k.o.samples);
  std::vector<double> est, se;
  for (const Stats& s : sample_stats(k)) {
    est.push_back(s.mean);
    se.push_back(std::sqrt(s.var / n));
  }
  return agree(k, "sample mean", "mean()", est, se, values_as(k.d.mean(), k.be_shape()));
}

// The sample variance agrees with variance(), its standard error from the fourth moment:
//   Var(s^2) = mu4 / n - sigma^4 (n - 3) / (n (n - 1))   (exact for i.i.d. draws; the second term
// matters when mu4 = sigma^4, e.g. a Bernoulli(1/2)), floored at its smallest possible value,
// 2 sigma^4 / (n (n - 1)) (as mu4 >= sigma^4), which the plug-in estimate can undershoot.
CheckResult check_variance(Kit& k) {
  const double n = static_cast<double>(k.o.samples);
  std::vector<double> est, se;
  for (const Stats& s : sample_stats(k)) {
    const double v2 = s.var * s.var;
    est.push_back(s.var);
    se.push_back(
        std::sqrt(std::max(s.m4 / n - v2 * (n - 3) / (n * (n - 1)), 2 * v2 / (n * (n - 1)))));
  }
  return agree(k, "sample variance", "variance()", est, se,
               values_as(k.d.variance(), k.be_shape()));
}

// entropy() agrees with -E[log_prob(x)], x ~ d.
CheckResult check_entropy(Kit& k) {
  const Shape b = k.d.batch_shape();
  const std::size_t m = static_cast<std::size_t>(numel(b));
  const std::size_t n = static_cast<std::size_t>(k.o.samples);
  const Variable x = k.d.sample({k.o.samples}, &k.gen);
  Shape lp_shape = {k.o.samples};
  lp_shape.insert(lp_shape.end(), b.begin(), b.end());
  const auto lp = values_as(k.d.log_prob(x), lp_shape);  // (a wrong shape throws: a failure)
  std::vector<double> est, se;
  for (std::size_t j = 0; j < m; ++j) {
    const Stats s = stats(lp, j, m, n);
    est.push_back(-s.mean);
    se.push_back(std::sqrt(s.var / static_cast<double>(n)));
  }
  return agree(k, "-E[log_prob]", "entropy()", est, se, values_as(k.d.entropy(), b));
}

}  // namespace tg::dist::kit
