// Tests for the fused kernels (tensor/fused.hpp): the optimizers' updates bitwise equal to the
// scalar loop on every SIMD unit and for every thread count; relu's backward exact (a NaN gradient
// where the output is 0 gives 0); the Bernoulli log-likelihood against the op-by-op reference and
// its gradient zero where the incoming gradient is zero. Sizes around the SIMD widths, and one
// large enough to be split over threads.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/fused.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"
#include "tapegrad/tensor/kernels_ref.hpp"
#include "tapegrad/tensor/parallel.hpp"
#include "use_unit.hpp"

namespace {

namespace kernels = tg::kernels;
namespace detail = tg::kernels::detail;
using detail::Unit;
using tgtest::Rng;
using tgtest::UseUnit;

struct UseThreads {
  explicit UseThreads(int n) : previous(tg::num_threads()) { tg::set_num_threads(n); }
  ~UseThreads() { tg::set_num_threads(previous); }
  int previous;
};

const std::vector<std::int64_t> sizes = {1, 7, 15, 16, 17, 33, 1000, 3 * (1 << 14) + 5};

template <class T>
std::vector<T> uniform(std::int64_t n, double lo, double hi, std::uint64_t seed) {
  Rng rng{seed * 104729 + std::uint64_t(n)};
  std::vector<T> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = T(lo + (hi - lo) * rng.uniform());
  return x;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// The state one optimizer step reads and writes.
template <class T>
struct Buffers {
  std::vector<T> w, g, m, v, vmax;
  explicit Buffers(std::int64_t n)
      : w(uniform<T>(n, -1, 1, 1)),
        g(uniform<T>(n, -0.1, 0.1, 2)),
        m(uniform<T>(n, -0.01, 0.01, 3)),
        v(uniform<T>(n, 0, 1e-4, 4)),
        vmax(uniform<T>(n, 0, 1e-4, 5)) {}
};

template <class T>
kernels::AdamStep<T> adam_params(bool decoupled, bool amsgrad, bool wd) {
  kernels::AdamStep<T> s{T(0.9),  T(0.1),     T(0.999), T(1 - 0.999),      T(0.05),
                         T(1e-8), T(-0.0123), T(0.01),  T(1 - 1e-3 * 0.01)};
  s.decoupled = decoupled;
  s.amsgrad = amsgrad;
  s.has_weight_decay = wd;
  return s;
}

template <class T>
Buffers<T> run_adam(const kernels::AdamStep<T>& s, std::int64_t n, int steps = 3) {
  Buffers<T> b(n);
  for (int k = 0; k < steps; ++k)
    kernels::adam_step(s, b.w.data(), b.g.data(), b.m.data(), b.v.data(), b.vmax.data(), n);
  return b;
}

template <class T>
Buffers<T> run_sgd(const kernels::SgdStep<T>& s0, std::int64_t n, int steps = 3) {
  Buffers<T> b(n);
  kernels::SgdStep<T> s = s0;
  for (int k = 0; k < steps; ++k) {
    s.first = s.has_momentum && k == 0;
    kernels::sgd_step(s, b.w.data(), b.g.data(), b.m.data(), n);
  }
  return b;
}

template <class T>
void check_same(const Buffers<T>& a, const Buffers<T>& b) {
  CHECK(same_bits(a.w, b.w));
  CHECK(same_bits(a.m, b.m));
  CHECK(same_bits(a.v, b.v));
  CHECK(same_bits(a.vmax, b.vmax));
}

}  // namespace

TEMPLATE_TEST_CASE("fused adam_step: every unit and thread count, bitwise the scalar loop", "",
                   float, double) {
  using T = TestType;
  for (bool decoupled : {false, true})
    for (bool amsgrad : {false, true})
      for (bool wd : {false, true}) {
        const auto s = adam_params<T>(decoupled, amsgrad, wd);
        for (std::int64_t n : sizes) {
          CAPTURE(decoupled, amsgrad, wd, n);
          Buffers<T> want(n);
          {
            UseUnit scalar(Unit::scalar);
            UseThreads one(1);
            want = run_adam(s, n);
          }
          for (Unit u : detail::supported_units())
            for (int threads : {1, 2, 3}) {
              CAPTURE(detail::unit_name(u), threads);
              UseUnit unit(u);
              UseThreads t(threads);
              check_same(run_adam(s, n), want);
            }
        }
      }
}

TEMPLATE_TEST_CASE("fused sgd_step: every unit and thread count, bitwise the scalar loop", "",
                   float, double) {
  using T = TestType;
  for (bool momentum : {false, true})
    for (bool nesterov : {false, true})
      for (bool wd : {false, true}) {
        if (nesterov && !momentum) continue;
        kernels::SgdStep<T> s{T(0.01), T(0.9), T(0.75), T(-0.05)};
        s.has_weight_decay = wd;
        s.has_momentum = momentum;
        s.nesterov = nesterov;
        for (std::int64_t n : sizes) {
          CAPTURE(momentum, nesterov, wd, n);
          Buffers<T> want(n);
          {
            UseUnit scalar(Unit::scalar);
            want = run_sgd(s, n);
          }
          for (Unit u : detail::supported_units())
            for (int threads : {1, 2}) {
              CAPTURE(detail::unit_name(u), threads);
              UseUnit unit(u);
              UseThreads t(threads);
              check_same(run_sgd(s, n), want);
            }
        }
      }
}

TEMPLATE_TEST_CASE("fused relu_backward: dy where y > 0, an exact 0 elsewhere (NaN dy included)",
                   "", float, double) {
  using T = TestType;
  for (Unit u : detail::supported_units()) {
    UseUnit unit(u);
    for (std::int64_t n : sizes) {
      CAPTURE(detail::unit_name(u), n);
      std::vector<T> y = uniform<T>(n, -1, 1, 7), dy = uniform<T>(n, -5, 5, 8), dx(y.size(), T(42));
      for (std::size_t i = 0; i < y.size(); i += 3) y[i] = 0;
      for (std::size_t i = 0; i < y.size(); i += 5) dy[i] = tgtest::nan<T>;
      kernels::relu_backward(dy.data(), y.data(), dx.data(), n);
      bool ok = true;
      for (std::size_t i = 0; i < y.size(); ++i) {
        const T want = y[i] > 0 ? dy[i] : T(0);
        ok = ok &&
             (std::isnan(want) ? std::isnan(dx[i]) : std::memcmp(&want, &dx[i], sizeof(T)) == 0);
      }
      CHECK(ok);
    }
  }
}

TEMPLATE_TEST_CASE("fused bernoulli_log_prob: x l - softplus(l), and its gradient", "", float,
                   double) {
  using T = TestType;
  for (Unit u : detail::supported_units()) {
    UseUnit unit(u);
    for (std::int64_t n : sizes) {
      CAPTURE(detail::unit_name(u), n);
      std::vector<T> l = uniform<T>(n, -30, 30, 9), x = uniform<T>(n, 0, 1, 10), lp(l.size());
      std::vector<T> dlp = uniform<T>(n, -2, 2, 11), dl(l.size());
      for (std::size_t i = 0; i < l.size(); i += 4) x[i] = std::round(x[i]);  // 0/1 as well as grey
      for (std::size_t i = 0; i < l.size(); i += 6) dlp[i] = 0;
      kernels::bernoulli_log_prob(l.data(), x.data(), lp.data(), n);
      kernels::bernoulli_log_prob_backward(dlp.data(), l.data(), x.data(), dl.data(), n);
      // Against long double: the products and the difference round separately, so the error is
      // bounded by a few ulps of the terms' magnitude, not of the (possibly cancelling) result.
      const long double eps = std::numeric_limits<T>::epsilon();
      long double worst = 0, worst_grad = 0;
      bool zero_stays_zero = true;
      for (std::size_t i = 0; i < l.size(); ++i) {
        const long double L = l[i], X = x[i];
        const long double sp = std::max(L, 0.0L) + std::log1p(std::exp(-std::fabs(L)));
        const long double sig = L >= 0 ? 1 / (1 + std::exp(-L)) : std::exp(L) / (1 + std::exp(L));
        worst = std::max(worst, std::fabs(lp[i] - (X * L - sp)) / (eps * (std::fabs(X * L) + sp)));
        if (dlp[i] == 0)
          zero_stays_zero = zero_stays_zero && dl[i] == 0;
        else
          worst_grad = std::max(worst_grad, std::fabs(dl[i] - dlp[i] * (X - sig)) /
                                                (eps * std::fabs(dlp[i]) * (X + sig)));
      }
      CHECK(double(worst) <= 8);
      CHECK(double(worst_grad) <= 8);
      CHECK(zero_stays_zero);
    }
  }
}

TEST_CASE(
    "fused bernoulli_log_prob_backward: a zero incoming gradient is zero even at infinite logits") {
  const std::vector<double> l = {INFINITY, -INFINITY, NAN, 3.0}, x = {0.0, 1.0, 0.5, 0.25};
  const std::vector<double> dlp = {0, 0, 0, 0};
  std::vector<double> dl(4, 7.0);
  kernels::bernoulli_log_prob_backward(dlp.data(), l.data(), x.data(), dl.data(), 4);
  for (double v : dl) CHECK(v == 0);
}
