// libFuzzer target: the checkpoint load path of `vae` (safetensors -> metadata -> checked shapes ->
// model -> weights), vae::load_model_bytes on arbitrary bytes.
#include <string>

#include "examples/vae/load.hpp"
#include "fuzz_main.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  return tgfuzz::run([&] { vae::load_model_bytes(bytes, tgfuzz::kFile); });
}
