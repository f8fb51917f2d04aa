// The conformance kit's checks of the interface: with_parameters, shapes, sample versus rsample,
// and the f32 and f64 versions agreeing (testing_kit.hpp).
#include <fmt/format.h>

#include <typeinfo>

#include "tapegrad/distributions/kl.hpp"
#include "tapegrad/distributions/testing_kit.hpp"

namespace tg::dist::kit {

// d.with_parameters(d.parameters()) is the same type with the same shapes and values.
CheckResult check_with_parameters(Kit& k) {
  k.rebuild_ok = false;
  const Distribution& a = k.d;
  const auto rebuilt = k.rebuild(a.parameters());
  const Distribution& b = *rebuilt;
  std::vector<std::string> problems;
  if (typeid(a) != typeid(b)) {
    problems.push_back(fmt::format("returns a {} ({}), not a {} ({}): override with_parameters",
                                   b.name(), typeid(b).name(), a.name(), typeid(a).name()));
  }
  if (a.batch_shape() != b.batch_shape() || a.event_shape() != b.event_shape()) {
    problems.push_back(fmt::format("shapes differ: batch {} event {} vs batch {} event {}",
                                   shape_str(a.batch_shape()), shape_str(a.event_shape()),
                                   shape_str(b.batch_shape()), shape_str(b.event_shape())));
  }
  auto same = [&](const char* what, const Variable& x, const Variable& y) {
    if (x.shape() != y.shape()) {
      problems.push_back(fmt::format("{}() has shape {} before rebuilding and {} after", what,
                                     shape_str(x.shape()), shape_str(y.shape())));
      return;
    }
    const auto u = values(x), v = values(y);
    for (std::size_t j = 0; j < u.size(); ++j) {
      if (!(u[j] == v[j] || std::abs(u[j] - v[j]) <= k.rounding() * (1 + std::abs(v[j])))) {
        problems.push_back(fmt::format(
            "{}() differs after rebuilding: element {}: {:.10g} vs {:.10g}", what, j, u[j], v[j]));
        return;
      }
    }
  };
  if (problems.empty()) {
    same("mean", a.mean(), b.mean());
    same("variance", a.variance(), b.variance());
    same("entropy", a.entropy(), b.entropy());
  }
  if (!problems.empty()) return result(false, fmt::format("{}", fmt::join(problems, "; ")));
  k.rebuild_ok = true;
  return result(
      true, fmt::format("{} parameter(s), same type, shapes and values", a.parameters().size()));
}

// sample, rsample, log_prob, entropy, mean and variance have the shapes of testing.hpp; rsample
// raises a named error when there is none.
CheckResult check_shapes(Kit& k) {
  const Distribution& d = k.d;
  std::vector<std::string> problems;
  const Shape ss = {2, 3};
  const Shape ext = d.extended_shape(ss);
  Shape lp_shape = ss;
  lp_shape.insert(lp_shape.end(), d.batch_shape().begin(), d.batch_shape().end());
  auto expect = [&](const char* what, const Shape& got, const Shape& want) {
    if (got != want)
      problems.push_back(
          fmt::format("{} has shape {}, expected {}", what, shape_str(got), shape_str(want)));
  };
  const Variable x = d.sample(ss, &k.gen);
  expect("sample({2, 3})", x.shape(), ext);
  if (x.dtype() != d.dtype())
    problems.push_back(fmt::format("sample is {}, the distribution {}", dtype_name(x.dtype()),
                                   dtype_name(d.dtype())));
  expect("log_prob(sample)", d.log_prob(x).shape(), lp_shape);
  expect("entropy()", d.entropy().shape(), d.batch_shape());
  const Shape be = k.be_shape();
  auto broadcastable = [&](const char* what, const Shape& got) {
    if (broadcast_shapes(got, be, what) != be)
      problems.push_back(fmt::format("{} has shape {}, not broadcastable to {}", what,
                                     shape_str(got), shape_str(be)));
  };
  broadcastable("mean()", d.mean().shape());
  broadcastable("variance()", d.variance().shape());
  if (d.has_rsample()) {
    expect("rsample({2, 3})", d.rsample(ss, &k.gen).shape(), ext);
  } else {
    try {
      d.rsample(ss, &k.gen);
      problems.push_back("has_rsample() is false but rsample() did not throw");
    } catch (const Error& e) {
      if (std::string(e.what()).find(d.name()) == std::string::npos)
        problems.push_back(fmt::format("rsample's error does not name {}: {}", d.name(), e.what()));
    }
  }
  if (!problems.empty()) return result(false, fmt::format("{}", fmt::join(problems, "; ")));
  return result(true,
                fmt::format("batch {}, event {}, sample({{2, 3}}) {}", shape_str(d.batch_shape()),
                            shape_str(d.event_shape()), shape_str(ext)));
}

// sample() never requires grad; rsample() does when the parameters do.
CheckResult check_sample_no_grad(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  const auto d = k.rebuild(leaves(k.d.parameters(), k.d.dtype(), true));
  const Variable x = d->sample({4}, &k.gen);
  if (x.requires_grad()) return result(false, "sample() returned a variable that requires grad");
  if (d->has_rsample()) {
    const Variable y = d->rsample({4}, &k.gen);
    if (!y.requires_grad())
      return result(false,
                    "rsample() of parameters that require grad does not require grad (detached?)");
    return result(true, "sample() is detached, rsample() carries the gradient");
  }
  return result(true, "sample() is detached");
}

// The f32 and f64 versions (the same parameters, rounded to f32) agree on log_prob, the moments,
// entropy and KL.
CheckResult check_dtype_agreement(Kit& k) {
  if (!k.rebuild_ok) return skip("needs with_parameters");
  const ConformanceOptions& o = k.o;
  auto p64 = leaves(k.d.parameters(), DType::f64, false, true);
  auto p32 = leaves(k.d.parameters(), DType::f32, false);
  auto d64 = k.rebuild(p64);
  auto d32 = k.rebuild(p32);
  if (d64->dtype() != DType::f64 || d32->dtype() != DType::f32)
    return result(false, "with_parameters does not follow the parameters' dtype");
  const Variable x32 = d32->sample({16}, &k.gen);
  const Variable x64(x32.value().to(DType::f64));
  Worst w;
  auto cmp = [&](const char* what, const Variable& a32, const Variable& a64) {
    const auto a = values(a32), b = values(a64);
    if (a.size() != b.size()) {
      w.add(false, kInf,
            fmt::format("{}: {} f32 values vs {} f64 values", what, a.size(), b.size()));
      return;
    }
    for (std::size_t j = 0; j < a.size(); ++j) {
      const double allowed = o.dtype_atol + o.dtype_rtol * std::abs(b[j]);
      const bool ok = (a[j] == b[j]) || std::abs(a[j] - b[j]) <= allowed;
      w.add(ok, std::isinf(b[j]) ? (a[j] == b[j] ? 0 : kInf) : std::abs(a[j] - b[j]) / allowed,
            fmt::format("{} element {}: f32 {:.8g} vs f64 {:.8g}", what, j, a[j], b[j]));
    }
  };
  cmp("log_prob", d32->log_prob(x32), d64->log_prob(x64));
  cmp("mean", d32->mean(), d64->mean());
  cmp("variance", d32->variance(), d64->variance());
  cmp("entropy", d32->entropy(), d64->entropy());
  if (has_closed_form_kl(*d64, *d64)) {
    // q: the first perturbation, rounded to f32, so both versions perturb the same values
    const auto [a, b] = o.kl_perturbations.empty() ? std::pair{1.1, 0.05} : o.kl_perturbations[0];
    std::vector<Variable> q32, q64;
    for (const auto& p : p64) {
      const Tensor t = (p.value() * a + b).to(DType::f32);
      q32.emplace_back(t);
      q64.emplace_back(t.to(DType::f64));
    }
    cmp("KL(d, perturbed d)", kl_divergence(*d32, *k.rebuild(q32)),
        kl_divergence(*d64, *k.rebuild(q64)));
  }
  return w.result(fmt::format(" (worst; rtol {:g}, atol {:g})", o.dtype_rtol, o.dtype_atol));
}

}  // namespace tg::dist::kit
