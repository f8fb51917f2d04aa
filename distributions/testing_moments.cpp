// The conformance kit's statistical checks of mean(), variance() and entropy() against sample
// moments, within options.sigmas standard errors (testing_kit.hpp).
#include <fmt/format.h>

#include "distributions/testing_kit.hpp"

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

}  // namespace

// The sample mean agrees with mean(): standard error sd / sqrt(n).
CheckResult check_mean(Kit& k) {
  const auto s = sample_stats(k);
  const auto mu = values_as(k.d.mean(), k.be_shape());
  const double n = static_cast<double>(k.o.samples);
  Worst w;
  for (std::size_t j = 0; j < s.size(); ++j) {
    const double se = std::sqrt(s[j].var / n);
    const double atol = k.rounding() * (1 + std::abs(mu[j]));
    const double z = std::abs(s[j].mean - mu[j]) / (se + atol);
    w.add(within(s[j].mean, mu[j], k.o.sigmas, se, atol), z / k.o.sigmas,
          fmt::format("element {}: sample mean {:.6g} +- {:.2g} vs mean() {:.6g}, {:.2f} standard "
                      "errors (bound {})",
                      j, s[j].mean, se, mu[j], z, k.o.sigmas));
  }
  return w.result(fmt::format(" [{} samples]", k.o.samples));
}

// The sample variance agrees with variance(), its standard error from the fourth moment:
//   Var(s^2) = mu4 / n - sigma^4 (n - 3) / (n (n - 1))   (exact for i.i.d. draws; the second term
// matters when mu4 = sigma^4, e.g. a Bernoulli(1/2)), floored at its smallest possible value,
// 2 sigma^4 / (n (n - 1)) (as mu4 >= sigma^4), which the plug-in estimate can undershoot.
CheckResult check_variance(Kit& k) {
  const auto s = sample_stats(k);
  const auto var = values_as(k.d.variance(), k.be_shape());
  const double n = static_cast<double>(k.o.samples);
  Worst w;
  for (std::size_t j = 0; j < s.size(); ++j) {
    const double v2 = s[j].var * s[j].var;
    const double se =
        std::sqrt(std::max(s[j].m4 / n - v2 * (n - 3) / (n * (n - 1)), 2 * v2 / (n * (n - 1))));
    const double atol = k.rounding() * (1 + std::abs(var[j]));
    const double z = std::abs(s[j].var - var[j]) / (se + atol);
    w.add(within(s[j].var, var[j], k.o.sigmas, se, atol), z / k.o.sigmas,
          fmt::format("element {}: sample variance {:.6g} +- {:.2g} vs variance() {:.6g}, {:.2f} "
                      "standard errors (bound {})",
                      j, s[j].var, se, var[j], z, k.o.sigmas));
  }
  return w.result(fmt::format(" [{} samples]", k.o.samples));
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
  const auto h = values_as(k.d.entropy(), b);
  Worst w;
  for (std::size_t j = 0; j < m; ++j) {
    const Stats s = stats(lp, j, m, n);
    const double se = std::sqrt(s.var / static_cast<double>(n));
    const double atol = k.rounding() * (1 + std::abs(h[j]));
    const double z = std::abs(-s.mean - h[j]) / (se + atol);
    w.add(within(-s.mean, h[j], k.o.sigmas, se, atol), z / k.o.sigmas,
          fmt::format("element {}: -E[log_prob] {:.6g} +- {:.2g} vs entropy() {:.6g}, {:.2f} "
                      "standard errors (bound {})",
                      j, -s.mean, se, h[j], z, k.o.sigmas));
  }
  return w.result(fmt::format(" [{} samples]", n));
}

}  // namespace tg::dist::kit
