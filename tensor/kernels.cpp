// Entry points of the element-wise and reduction kernels (kernels.hpp) and the run-time dispatcher.
// Compiled for baseline x86-64: it checks the CPU once, at first use, and then calls through the
// table of the best unit it has (kernels_avx512.cpp, kernels_avx2.cpp, kernels_sse42.cpp).
// TG_SIMD=avx512, avx2, sse4.2 or scalar forces a lower unit; tests switch units with
// detail::select_unit().
#include "tapegrad/tensor/kernels.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/kernels_dispatch.hpp"
#include "tapegrad/tensor/kernels_ref.hpp"

namespace tg::kernels {
namespace detail {
namespace {

// The scalar unit: the reference formulas, for CPUs (or TG_SIMD settings) without any SIMD unit,
// and for the ops that are not vectorised. The op is a template argument, so the reference's switch
// folds away (about 5x faster than switching per element).
template <Unary op, class T>
void scalar_unary_loop(const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = ref::unary(op, x[i]);
}
template <Binary op, class T>
void scalar_binary_loop(const T* a, int a_step, const T* b, int b_step, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = ref::binary(op, a[i * a_step], b[i * b_step]);
}
template <class T>
void scalar_unary(Unary op, const T* x, T* y, std::int64_t n) {
  switch (op) {
#define TG_CASE(name, ...) \
  case Unary::name:        \
    return scalar_unary_loop<Unary::name>(x, y, n);
    TG_UNARY_OPS(TG_CASE)
#undef TG_CASE
  }
}
template <class T>
void scalar_binary(Binary op, const T* a, int a_step, const T* b, int b_step, T* y,
                   std::int64_t n) {
  switch (op) {
#define TG_CASE(name, ...) \
  case Binary::name:       \
    return scalar_binary_loop<Binary::name>(a, a_step, b, b_step, y, n);
    TG_BINARY_OPS(TG_CASE)
#undef TG_CASE
  }
}
template <class T>
constexpr UnitKernels<T> scalar_kernels() {
  return {&scalar_unary<T>, &scalar_binary<T>, &ref::axpy<T>,
          &ref::sum<T>,     &ref::max<T>,      &ref::min<T>};
}
constexpr UnitTable scalar_table = {scalar_kernels<float>(), scalar_kernels<double>()};

bool cpu_has(Unit u) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();  // may run before libgcc's constructor, from another static initialiser
  switch (u) {
    case Unit::avx512:
      // The avx512 TU is compiled with -mavx512f/bw/dq/vl -mavx2 -mfma: it may use any of them.
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Unit::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Unit::sse42:
      return __builtin_cpu_supports("sse4.2");
    case Unit::scalar:
      return true;
  }
  return false;
#else
  return u == Unit::scalar;
#endif
}

const UnitTable& table_of(Unit u) {
  switch (u) {
    case Unit::avx512:
      return avx512_table;
    case Unit::avx2:
      return avx2_table;
    case Unit::sse42:
      return sse42_table;
    case Unit::scalar:
      return scalar_table;
  }
  return scalar_table;
}

constexpr Unit all_units[] = {Unit::avx512, Unit::avx2, Unit::sse42, Unit::scalar};  // best first

// The best unit the CPU has, lowered by TG_SIMD if it is set.
Unit default_unit() {
  Unit best = Unit::scalar;
  for (Unit u : all_units)
    if (cpu_has(u)) {
      best = u;
      break;
    }
  const char* env = std::getenv("TG_SIMD");
  if (env == nullptr || *env == '\0') return best;
  if (const std::optional<Unit> u = unit_from_name(env)) {
    if (*u > best) {
      std::fprintf(stderr, "tapegrad: TG_SIMD=%s: this CPU lacks it, using %s\n", env,
                   std::string(unit_name(best)).c_str());
      return best;
    }
    return *u;
  }
  std::fprintf(stderr,
               "tapegrad: TG_SIMD=%s is not one of avx512, avx2, sse4.2, scalar; using %s\n", env,
               std::string(unit_name(best)).c_str());
  return best;
}

// -1 until select_unit() is called; then the unit it chose.
std::atomic<int> selected{-1};

template <class T>
const UnitKernels<T>& current() {
  const UnitTable& t = table_of(active_unit());
  if constexpr (sizeof(T) == 4)
    return t.f32;
  else
    return t.f64;
}

}  // namespace

std::string_view unit_name(Unit u) {
  switch (u) {
    case Unit::avx512:
      return "avx512";
    case Unit::avx2:
      return "avx2";
    case Unit::sse42:
      return "sse4.2";
    case Unit::scalar:
      return "scalar";
  }
  return "scalar";
}

std::optional<Unit> unit_from_name(std::string_view name) {
  for (Unit u : all_units)
    if (name == unit_name(u) || (u == Unit::sse42 && name == "sse42")) return u;
  return std::nullopt;
}

bool unit_supported(Unit u) { return cpu_has(u); }

std::vector<Unit> supported_units() {
  std::vector<Unit> units;
  for (Unit u : all_units)
    if (cpu_has(u)) units.push_back(u);
  return units;
}

Unit active_unit() {
  const int s = selected.load(std::memory_order_relaxed);
  if (s >= 0) return static_cast<Unit>(s);
  static const Unit chosen = default_unit();  // thread-safe, once
  return chosen;
}

void select_unit(Unit u) {
  if (!cpu_has(u)) throw Error("select_unit: this CPU cannot run " + std::string(unit_name(u)));
  selected.store(static_cast<int>(u), std::memory_order_relaxed);
}

}  // namespace detail

template <class T>
void unary(Unary op, const T* x, T* y, std::int64_t n) {
  if (n <= 0) return;
  if (!detail::vectorised<T>(op)) return detail::scalar_unary(op, x, y, n);
  detail::current<T>().unary(op, x, y, n);
}

template <class T>
void binary(Binary op, const T* a, int a_step, const T* b, int b_step, T* y, std::int64_t n) {
  if (n <= 0) return;
  if (!detail::vectorised<T>(op)) return detail::scalar_binary(op, a, a_step, b, b_step, y, n);
  detail::current<T>().binary(op, a, a_step, b, b_step, y, n);
}

template <class T>
void axpy(T a, const T* x, T* y, std::int64_t n) {
  if (n <= 0) return;
  detail::current<T>().axpy(a, x, y, n);
}

// The order of additions is fixed by n alone: sum_lanes lanes in blocks of sum_block, a tree over
// the lanes, pairwise over blocks. ref::sum (kernels_ref.hpp) defines it, every unit reproduces it
// bit for bit, and docs/kernels.md explains it.
template <class T>
T sum(const T* x, std::int64_t n) {
  if (n <= 0) return T(0);
  return detail::current<T>().sum(x, n);
}

template <class T>
T max(const T* x, std::int64_t n) {
  if (n <= 0) return -std::numeric_limits<T>::infinity();
  return detail::current<T>().max(x, n);
}

template <class T>
T min(const T* x, std::int64_t n) {
  if (n <= 0) return std::numeric_limits<T>::infinity();
  return detail::current<T>().min(x, n);
}

std::string_view simd_arch() { return detail::unit_name(detail::active_unit()); }

#define TG_INSTANTIATE(T)                                                          \
  template void unary<T>(Unary, const T*, T*, std::int64_t);                       \
  template void binary<T>(Binary, const T*, int, const T*, int, T*, std::int64_t); \
  template void axpy<T>(T, const T*, T*, std::int64_t);                            \
  template T sum<T>(const T*, std::int64_t);                                       \
  template T max<T>(const T*, std::int64_t);                                       \
  template T min<T>(const T*, std::int64_t);
TG_INSTANTIATE(float)
TG_INSTANTIATE(double)
#undef TG_INSTANTIATE

}  // namespace tg::kernels
