# Sourced by scripts/test-sanitizers and scripts/fuzz: configures DIR ($1) as the ASan + UBSan build with
# clang 14 at -O1 (gcc 12 at -O2 spends 11 CPU-minutes on gemm_avx512.cpp alone), with the libFuzzer
# targets (tests/fuzz) beside the test suite, so that one build serves both. Sets $clang.
configure_asan_build() {
  clang=$(command -v clang++-14 || command -v clang++ || true)
  if [[ -z "$clang" ]]; then
    echo "error: the sanitizer and fuzz builds need clang++ 14 with libFuzzer; scripts/install-deps installs clang-14 and libclang-rt-14-dev" >&2
    exit 1
  fi
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$1" -DCMAKE_CXX_COMPILER="$clang" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -fno-sanitize-recover=all" -DTG_SANITIZE=address,undefined \
    -DTG_BUILD_FUZZ=ON -DTG_BUILD_TESTS=ON -DTG_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
}
