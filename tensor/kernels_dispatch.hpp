// Private to the kernels: the SIMD units, how the dispatcher chooses one, the per-unit kernel
// tables, which ops are vectorised, and the constants that fix the order of additions in sum. Tests
// use select_unit() to run every unit in one process.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "tapegrad/tensor/kernels.hpp"

namespace tg::kernels {

// sum adds element i into lane i % sum_lanes within blocks of sum_block elements, whatever the SIMD
// width: a batch of W lanes covers sum_lanes / W of them. See ref::sum for the exact order.
inline constexpr int sum_lanes = 32;
inline constexpr std::int64_t sum_block = 1024;

namespace detail {

enum class Unit { scalar, sse42, avx2, avx512 };

std::string_view unit_name(Unit u);
// The unit a TG_SIMD value names: unit_name(u), or "sse42" for sse4.2; supported or not.
std::optional<Unit> unit_from_name(std::string_view name);
bool unit_supported(Unit u);          // this CPU (and OS) can run it
std::vector<Unit> supported_units();  // best first; always ends with Unit::scalar
Unit active_unit();
// Makes every later kernel call use u (process-wide). Throws tg::Error if the CPU lacks u.
void select_unit(Unit u);

// Ops that have a SIMD version. The others run the scalar reference (kernels_ref.hpp) on every
// unit, because xsimd's version is not accurate enough (measured against long double libm, see
// docs/kernels.md): lgamma (wrong by up to 1e13 ulp near its zeros), erf in f64 (68 ulp), pow
// (exp(b log a) loses log2|b log a| bits and gets pow(0, b < 0) wrong); digamma and erfinv have no
// xsimd version. The `units` column of elementwise.hpp.
template <class T>
constexpr bool vectorised_on(bool all, bool f32) {
  return all || (f32 && sizeof(T) == 4);
}
#define TG_UNITS_all true, false
#define TG_UNITS_f32 false, true
#define TG_UNITS_none false, false
#define TG_VECTORISED(name, ref, simd, units, ...) \
  case Op::name:                                   \
    return vectorised_on<T>(TG_UNITS_##units);
template <class T>
constexpr bool vectorised(Unary op) {
  using Op = Unary;
  switch (op) { TG_UNARY_OPS(TG_VECTORISED) }
  return false;
}
template <class T>
constexpr bool vectorised(Binary op) {
  using Op = Binary;
  switch (op) { TG_BINARY_OPS(TG_VECTORISED) }
  return false;
}
#undef TG_VECTORISED

// One unit's kernels for one dtype; unary and binary handle only the vectorised ops.
template <class T>
struct UnitKernels {
  void (*unary)(Unary op, const T* x, T* y, std::int64_t n);
  void (*binary)(Binary op, const T* a, int a_step, const T* b, int b_step, T* y, std::int64_t n);
  void (*axpy)(T a, const T* x, T* y, std::int64_t n);
  T (*sum)(const T* x, std::int64_t n);
  T (*max)(const T* x, std::int64_t n);
  T (*min)(const T* x, std::int64_t n);
};
struct UnitTable {
  UnitKernels<float> f32;
  UnitKernels<double> f64;
};

// Defined in kernels_<unit>.cpp (constant-initialised, so they can be read before main). Call
// through them only when unit_supported() says so.
extern const UnitTable avx512_table;
extern const UnitTable avx2_table;
extern const UnitTable sse42_table;

}  // namespace detail
}  // namespace tg::kernels
