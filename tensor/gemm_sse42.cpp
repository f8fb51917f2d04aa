// The GEMM's SSE4.2 (xmm, no FMA, 4x8 f32 / 4x4 f64 micro-tiles): packing and micro-kernel
// from gemm_kernel.hpp, compiled with this unit's flags (see tensor/CMakeLists.txt) and reached
// only through the Unit tables below, which the baseline dispatcher in gemm.cpp selects at run
// time.
#define TG_GEMM_ARCH_TU
#include "tapegrad/tensor/gemm_kernel.hpp"

namespace tg::gemm_detail {

constinit const Unit<float> unit_sse42_f32 = make_unit<float>("sse4.2");
constinit const Unit<double> unit_sse42_f64 = make_unit<double>("sse4.2");

}  // namespace tg::gemm_detail
