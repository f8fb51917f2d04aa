// For the kernel tests: run a scope on one SIMD unit (tensor/kernels_dispatch.hpp), then restore
// the unit that was active.
#pragma once
#include "tapegrad/tensor/kernels_dispatch.hpp"

namespace tgtest {

struct UseUnit {
  explicit UseUnit(tg::kernels::detail::Unit u) : previous(tg::kernels::detail::active_unit()) {
    tg::kernels::detail::select_unit(u);
  }
  ~UseUnit() { tg::kernels::detail::select_unit(previous); }
  UseUnit(const UseUnit&) = delete;
  UseUnit& operator=(const UseUnit&) = delete;
  tg::kernels::detail::Unit previous;
};

}  // namespace tgtest
