// The fused kernels compiled for AVX-512 (xsimd::avx512dq, as kernels_avx512.cpp explains); this
// file gets that unit's compiler flags (tensor/CMakeLists.txt) and is only called when the CPU has
// the unit (fused.cpp checks, through the element-wise kernels' dispatcher). GCC 12's
// avx512fintrin.h warning (GCC bug 105593): see kernels_avx512.cpp.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "tapegrad/tensor/fused_impl.hpp"

namespace tg::kernels::detail {

constinit const FusedTable avx512_fused = make_fused_table<xsimd::avx512dq>();

}  // namespace tg::kernels::detail
