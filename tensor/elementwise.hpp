// The element-wise ops, listed once. Every list of them is generated from these tables: the
// kernels' Unary and Binary enums (kernels.hpp), the scalar reference (kernels_ref.hpp), the SIMD
// code (kernels_impl.hpp), the dispatcher (kernels.cpp, kernels_dispatch.hpp), the tensor functions
// and their error names (ops.hpp, ops.cpp) and the kernel tests (tests/tensor/test_kernels.cpp).
// Adding an element-wise op is one row here (plus a helper in kernels_ref.hpp / kernels_impl.hpp if
// its formula needs more than an expression), then its autograd op, its test rows and its docs row:
// the checklist is in docs/autograd.md.
//
// TG_UNARY_OPS(X) calls X(name, reference, simd, units, lo, hi, ulps) for each unary op:
//   reference  the scalar formula of `x` (a T), std:: functions or ref:: helpers
//   simd       the formula of `x` (an xsimd batch B) in kernels_impl.hpp's Simd<T, Arch>; ignored
//              where `units` is none
//   units      all: vectorised; f32: vectorised in f32 only; none: every unit runs the reference
//              (why, per op: kernels_dispatch.hpp)
//   lo, hi     the range test_kernels.cpp draws inputs from, ulps the distance it allows from the
//              reference (0: bitwise)
// TG_BINARY_OPS(X) calls X(name, reference of a and b, simd of a and b, units).
// Notes on single rows: ne is not a != b in SIMD, because xsimd's AVX != is the ordered compare
// (false for NaN); eq ... ge are masks, 1 where true and 0 where false; mul_or_zero and div_or_zero
// give +0 where a is 0 whatever b is (0 * inf, 0 / 0 -> 0), so a zero gradient stays zero in a
// backward.
#pragma once

// clang-format off
#define TG_UNARY_OPS(X)                                                                            \
  X(neg,         -x,                 -x,                          all,  -10, 10,  0)                \
  X(abs,         std::abs(x),        xsimd::abs(x),               all,  -10, 10,  0)                \
  X(square,      x * x,              x * x,                       all,  -10, 10,  0)                \
  X(sqrt,        std::sqrt(x),       xsimd::sqrt(x),              all,  -1, 100,  0)                \
  X(reciprocal,  T(1) / x,           B(T(1)) / x,                 all,  -10, 10,  0)                \
  X(exp,         std::exp(x),        exp(x),                      all,  -20, 20,  2)                \
  X(expm1,       std::expm1(x),      expm1(x),                    all,  -3, 3,    3)                \
  X(log,         std::log(x),        xsimd::log(x),               all,  -0.5, 100, 2)               \
  X(log1p,       std::log1p(x),      xsimd::log1p(x),             all,  -1.5, 10, 2)                \
  X(tanh,        std::tanh(x),       xsimd::tanh(x),              all,  -20, 20,  2)                \
  X(sigmoid,     sigmoid(x),         sigmoid(x),                  all,  -20, 20,  3)                \
  X(relu,        relu(x),            relu(x),                     all,  -10, 10,  0)                \
  X(softplus,    softplus(x),        softplus(x),                 all,  -20, 20,  3)                \
  X(log_sigmoid, log_sigmoid(x),     log_sigmoid(x),              all,  -20, 20,  3)                \
  X(erf,         std::erf(x),        xsimd::erf(x),               f32,  -6, 6,    3)                \
  X(lgamma,      std::lgamma(x),     x,                           none, -10, 20,  0)                \
  X(digamma,     digamma(x),         x,                           none, -10, 20,  0)                \
  X(erfinv,      erfinv(x),          x,                           none, -1.2, 1.2, 0)               \
  X(sign,        sign(x),            sign(x),                     all,  -10, 10,  0)                \
  X(step,        x > 0 ? T(1) : T(0), from_mask(x > B(T(0))),     all,  -10, 10,  0)

#define TG_BINARY_OPS(X)                                                                           \
  X(add,         a + b,              a + b,                                    all)                 \
  X(sub,         a - b,              a - b,                                    all)                 \
  X(mul,         a * b,              a * b,                                    all)                 \
  X(div,         a / b,              a / b,                                    all)                 \
  X(pow,         std::pow(a, b),     a,                                        none)                \
  X(maximum,     maximum(a, b),      maximum(a, b),                            all)                 \
  X(minimum,     minimum(a, b),      minimum(a, b),                            all)                 \
  X(eq,          T(a == b),          from_mask(a == b),                        all)                 \
  X(ne,          T(a != b),          xsimd::select(a == b, B(T(0)), B(T(1))),  all)                 \
  X(lt,          T(a < b),           from_mask(a < b),                         all)                 \
  X(le,          T(a <= b),          from_mask(a <= b),                        all)                 \
  X(gt,          T(a > b),           from_mask(a > b),                         all)                 \
  X(ge,          T(a >= b),          from_mask(a >= b),                        all)                 \
  X(mul_or_zero, a == 0 ? T(0) : a * b, xsimd::select(a == B(T(0)), B(T(0)), a * b), all)         \
  X(div_or_zero, a == 0 ? T(0) : a / b, xsimd::select(a == B(T(0)), B(T(0)), a / b), all)
// clang-format on
