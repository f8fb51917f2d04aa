// The kernels compiled for AVX-512 (F, BW, DQ, VL); this file gets that unit's compiler flags
// (tensor/CMakeLists.txt) and is only called when the CPU has the unit (kernels.cpp checks). GCC
// 12's avx512fintrin.h initialises _mm512_undefined_*() values with themselves, which warns once
// inlined (GCC bug 105593, fixed in GCC 13). The values are don't-cares by design.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "tapegrad/tensor/kernels_impl.hpp"

namespace tg::kernels::detail {

// Declared extern in kernels_dispatch.hpp; constinit: no code runs to build it.
// xsimd::avx512dq rather than avx512bw: BW only adds 8- and 16-bit integer ops, which f32/f64
// kernels never use (the machine code is identical at -O2), and xsimd 8.1's avx512bw select does
// not compile at -O0 with GCC 12 (it instantiates the byte/word blends for 32/64-bit lanes).
constinit const UnitTable avx512_table = make_table<xsimd::avx512dq>();

}  // namespace tg::kernels::detail
