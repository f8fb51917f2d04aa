// KL divergence between two distributions, through a registry of closed forms keyed by the pair of
// dynamic types (typeid(P), typeid(Q)) — exact types: a subclass of Normal is not a Normal here,
// since it may change the density. A pair with no closed form falls back to a Monte Carlo estimate
//   KL(p || q) = E_p[log p(x) - log q(x)]  ~  (1/n) sum_i [log p(x_i) - log q(x_i)],  x_i ~ p,
// drawn with rsample when p has one (so the estimate stays differentiable), else sample. Ask which
// was used with kl_divergence_ex or has_closed_form_kl.
//
// Registering a closed form is one line at namespace scope in the distribution's own .cpp:
//   TG_REGISTER_KL(Laplace, Laplace, kl_laplace_laplace);
// Put it in the .cpp that defines the class's out-of-line members (its constructor): a program that
// makes a Laplace links that object file, so the registration is linked too. A .cpp in the static
// library holding nothing but registrations would be dropped by the linker, silently. The registry
// itself is a function-local static, so registrations may run in any static-initialization order.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <vector>

#include "tapegrad/distributions/distribution.hpp"

namespace tg::dist {

enum class KLMethod { closed_form, monte_carlo };
const char* kl_method_name(KLMethod m);  // "closed form", "Monte Carlo"

struct KLOptions {
  std::int64_t mc_samples = 1000;  // samples of the Monte Carlo fallback
  Generator* generator = nullptr;  // for the fallback's draws; the default generator when null
  bool allow_monte_carlo = true;   // false: a pair with no closed form raises tg::Error instead
};

struct KLResult {
  Variable value;  // batch-shaped: the broadcast of p's and q's batch shapes
  KLMethod method;
  std::int64_t samples;  // 0 for a closed form
};

// Shape: broadcast(p.batch_shape, q.batch_shape); p and q must have the same event shape.
Variable kl_divergence(const Distribution& p, const Distribution& q, const KLOptions& opts = {});
KLResult kl_divergence_ex(const Distribution& p, const Distribution& q, const KLOptions& opts = {});
// Whether kl_divergence(p, q) would use a closed form.
bool has_closed_form_kl(const Distribution& p, const Distribution& q);
// The Monte Carlo estimate, whatever the registry holds (the audit compares the two).
Variable kl_monte_carlo(const Distribution& p, const Distribution& q, std::int64_t samples,
                        Generator* gen = nullptr);

// --- the registry --------------------------------------------------------------------------------

using KLFn = std::function<Variable(const Distribution&, const Distribution&)>;
// Optional: when it returns false for a pair of instances, the closed form does not apply to them
// and kl_divergence falls back to Monte Carlo (e.g. Independent pairs whose bases have none).
using KLApplies = std::function<bool(const Distribution&, const Distribution&)>;

struct KLEntry {
  std::type_index p, q;
  std::string p_name, q_name;
  KLFn fn;
  KLApplies applies;  // empty: always
};

// Adds (or replaces) the closed form for (p, q). Returns true, so it can initialize a static.
bool register_kl(std::type_index p, std::type_index q, std::string p_name, std::string q_name,
                 KLFn fn, KLApplies applies = {});
template <class P, class Q, class F>
bool register_kl(F fn, const char* p_name, const char* q_name, KLApplies applies = {}) {
  return register_kl(
      typeid(P), typeid(Q), p_name, q_name,
      [fn](const Distribution& p, const Distribution& q) {
        return fn(static_cast<const P&>(p), static_cast<const Q&>(q));
      },
      std::move(applies));
}
template <class P, class Q, class F>
bool register_kl(F fn, KLApplies applies = {}) {
  return register_kl<P, Q>(fn, typeid(P).name(), typeid(Q).name(), std::move(applies));
}
// Every registered pair (for the audit test and for documentation).
std::vector<KLEntry> registered_kl_pairs();

#define TG_KL_CONCAT_(a, b) a##b
#define TG_KL_CONCAT(a, b) TG_KL_CONCAT_(a, b)
// TG_REGISTER_KL(P, Q, fn): at namespace scope in P's (or Q's) .cpp; fn(const P&, const Q&) ->
// Variable.
#define TG_REGISTER_KL(P, Q, fn)                                                 \
  [[maybe_unused]] static const bool TG_KL_CONCAT(tg_kl_registered_, __LINE__) = \
      ::tg::dist::register_kl<P, Q>(fn, #P, #Q)

}  // namespace tg::dist
