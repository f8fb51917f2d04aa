// The fused kernels compiled for AVX2 with FMA; this file gets that unit's compiler flags
// (tensor/CMakeLists.txt) and is only called when the CPU has the unit (fused.cpp checks, through
// the element-wise kernels' dispatcher).
#include "tapegrad/tensor/fused_impl.hpp"

namespace tg::kernels::detail {

constinit const FusedTable avx2_fused = make_fused_table<xsimd::fma3<xsimd::avx2>>();

}  // namespace tg::kernels::detail
