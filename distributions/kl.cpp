// The KL registry and its Monte Carlo fallback.
#include "tapegrad/distributions/kl.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace tg::dist {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::pair<std::type_index, std::type_index>, KLEntry> entries;
};

// A function-local static: constructed on first use, so a registration running during static
// initialization (in whatever order the linker chose) always finds it ready.
Registry& registry() {
  static Registry r;
  return r;
}

// The entry that applies to this pair of instances, if any.
std::optional<KLEntry> find(const Distribution& p, const Distribution& q) {
  std::optional<KLEntry> entry;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.entries.find({std::type_index(typeid(p)), std::type_index(typeid(q))});
    if (it == r.entries.end()) return std::nullopt;
    entry = it->second;
  }
  // Outside the lock: a predicate may consult the registry itself (Independent asks about its
  // bases).
  if (entry->applies && !entry->applies(p, q)) return std::nullopt;
  return entry;
}

// Checks that KL(p || q) is defined and returns its shape: the broadcast of the batch shapes.
Shape check_pair(const Distribution& p, const Distribution& q, const char* fn) {
  if (p.event_shape() != q.event_shape()) {
    throw ShapeError(fmt::format("{}: event shapes differ: {} {} vs {} {}", fn, p.name(),
                                 shape_str(p.event_shape()), q.name(), shape_str(q.event_shape())));
  }
  Shape batch = broadcast_shapes(p.batch_shape(), q.batch_shape(), fn);
  if (p.dtype() != q.dtype()) {
    throw DTypeError(fmt::format("{}: dtypes differ: {} is {}, {} is {}", fn, p.name(),
                                 dtype_name(p.dtype()), q.name(), dtype_name(q.dtype())));
  }
  return batch;
}

}  // namespace

const char* kl_method_name(KLMethod m) {
  return m == KLMethod::closed_form ? "closed form" : "Monte Carlo";
}

bool register_kl(std::type_index p, std::type_index q, std::string p_name, std::string q_name,
                 KLFn fn, KLApplies applies) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.entries.insert_or_assign({p, q}, KLEntry{p, q, std::move(p_name), std::move(q_name),
                                             std::move(fn), std::move(applies)});
  return true;
}

std::vector<KLEntry> registered_kl_pairs() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<KLEntry> out;
  for (const auto& [key, entry] : r.entries) out.push_back(entry);
  return out;
}

bool has_closed_form_kl(const Distribution& p, const Distribution& q) {
  return find(p, q).has_value();
}

// KL(p || q) ~ (1/n) sum_i [log p(x_i) - log q(x_i)],  x_i ~ p (rsample when p has one).
Variable kl_monte_carlo(const Distribution& p, const Distribution& q, std::int64_t samples,
                        Generator* gen) {
  const Shape batch = check_pair(p, q, "kl_monte_carlo");
  if (samples <= 0) {
    throw ValueError(fmt::format("kl_monte_carlo: mc_samples must be positive, got {}", samples));
  }
  const Variable x = p.has_rsample() ? p.rsample({samples}, gen) : p.sample({samples}, gen);
  Variable d = p.log_prob(x) - q.log_prob(x);
  Shape full = {samples};
  full.insert(full.end(), batch.begin(), batch.end());
  if (d.shape() != full) d = broadcast_to(d, full);
  return mean(d, {0});
}

KLResult kl_divergence_ex(const Distribution& p, const Distribution& q, const KLOptions& opts) {
  const Shape batch = check_pair(p, q, "kl_divergence");
  if (auto entry = find(p, q)) {
    Variable v = entry->fn(p, q);
    if (v.shape() != batch) v = broadcast_to(v, batch);
    return {v, KLMethod::closed_form, 0};
  }
  if (!opts.allow_monte_carlo) {
    throw Error(
        fmt::format("kl_divergence: no closed form is registered for ({}, {}) and "
                    "allow_monte_carlo is off (register one with TG_REGISTER_KL({}, {}, fn))",
                    p.name(), q.name(), p.name(), q.name()));
  }
  return {kl_monte_carlo(p, q, opts.mc_samples, opts.generator), KLMethod::monte_carlo,
          opts.mc_samples};
}

Variable kl_divergence(const Distribution& p, const Distribution& q, const KLOptions& opts) {
  return kl_divergence_ex(p, q, opts).value;
}

}  // namespace tg::dist
