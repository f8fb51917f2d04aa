// The kernels compiled for SSE4.2; this file gets that unit's compiler flags
// (tensor/CMakeLists.txt) and is only called when the CPU has the unit (kernels.cpp checks).
#include "tapegrad/tensor/kernels_impl.hpp"

namespace tg::kernels::detail {

// Declared extern in kernels_dispatch.hpp; constinit: no code runs to build it.
constinit const UnitTable sse42_table = make_table<xsimd::sse4_2>();

}  // namespace tg::kernels::detail
