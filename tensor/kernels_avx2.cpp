// The kernels compiled for AVX2 with FMA; this file gets that unit's compiler flags
// (tensor/CMakeLists.txt) and is only called when the CPU has the unit (kernels.cpp checks).
#include "tapegrad/tensor/kernels_impl.hpp"

namespace tg::kernels::detail {

// Declared extern in kernels_dispatch.hpp; constinit: no code runs to build it.
constinit const UnitTable avx2_table = make_table<xsimd::fma3<xsimd::avx2>>();

}  // namespace tg::kernels::detail
