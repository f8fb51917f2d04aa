// What every fuzz target shares: run a parser on the fuzzer's bytes and accept only two outcomes, a
// result or a tg::FormatError whose message names the file. Any other exception (std::out_of_range,
// std::bad_alloc, a bare tg::Error, ...) aborts, so libFuzzer records it as a finding, as it does
// the sanitizers' reports (memory errors, undefined behaviour, leaks).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tapegrad/tensor/error.hpp"

namespace tgfuzz {

inline constexpr const char* kFile = "fuzz.input";

template <class F>
int run(F&& parse) {
  try {
    parse();
  } catch (const tg::FormatError& e) {
    const std::string what = e.what();
    if (what.rfind(e.file + ": ", 0) != 0) {
      std::fprintf(stderr, "FormatError without its file name: %s\n", what.c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "not a FormatError: %s\n", e.what());
    std::abort();
  }
  return 0;
}

}  // namespace tgfuzz
