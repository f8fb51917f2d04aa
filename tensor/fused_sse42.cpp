// The fused kernels compiled for SSE4.2; this file gets that unit's compiler flags
// (tensor/CMakeLists.txt) and is only called when the CPU has the unit (fused.cpp checks, through
// the element-wise kernels' dispatcher).
#include "tapegrad/tensor/fused_impl.hpp"

namespace tg::kernels::detail {

constinit const FusedTable sse42_fused = make_fused_table<xsimd::sse4_2>();

}  // namespace tg::kernels::detail
