// The GEMM's AVX-512 (zmm, 12x32 f32 / 12x16 f64 micro-tiles): packing and micro-kernel
// from gemm_kernel.hpp, compiled with this unit's flags (see tensor/CMakeLists.txt) and reached
// only through the Unit tables below, which the baseline dispatcher in gemm.cpp selects at run
// time.
#define TG_GEMM_ARCH_TU
#include "tapegrad/tensor/gemm_kernel.hpp"

namespace tg::gemm_detail {

constinit const Unit<float> unit_avx512_f32 = make_unit<float>("avx512");
constinit const Unit<double> unit_avx512_f64 = make_unit<double>("avx512");

}  // namespace tg::gemm_detail
