// libFuzzer target: tg::nn::parse_safetensors on arbitrary bytes.
#include <string>

#include "fuzz_main.hpp"
#include "tapegrad/nn/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  return tgfuzz::run([&] { tg::nn::parse_safetensors(bytes, tgfuzz::kFile); });
}
