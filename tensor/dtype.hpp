// Runtime dtypes (f32, f64) and visit_dtype, which turns a runtime dtype into a template parameter.
#pragma once
#include <cstddef>
#include <string_view>

#include "tapegrad/tensor/error.hpp"

namespace tg {

enum class DType { f32, f64 };

inline constexpr std::string_view dtype_name(DType d) { return d == DType::f32 ? "f32" : "f64"; }
inline constexpr std::size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 8; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

// visit_dtype(d, [&]<class T>() { ... }) calls the lambda with T = float or double.
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  if (d == DType::f32) return f.template operator()<float>();
  return f.template operator()<double>();
}

}  // namespace tg
