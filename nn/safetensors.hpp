// The safetensors file format (https://github.com/huggingface/safetensors), readable by Python's
// `safetensors` and PyTorch:
//
//   [8 bytes]  N, the header length, a little-endian u64
//   [N bytes]  a JSON object: {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0,
//   24]},
//              ..., "__metadata__": {"<key>": "<value>"}}, padded with spaces to a multiple of 8
//   [rest]     the data section: each tensor's raw little-endian bytes, row-major, at
//              [begin, end) relative to the start of the data section, packed with no gaps
//
// tapegrad reads and writes F32 and F64. Writing is atomic; reading validates everything and throws
// tg::FormatError("<file>: byte <offset>: <what is wrong>").
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/tensor/tensor.hpp"

namespace tg::nn {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>>
      tensors;  // in data order (the order they were saved in)
  std::map<std::string, std::string> metadata;
};

// The file's bytes (what save_safetensors writes). Names must be distinct, non-empty and not
// "__metadata__".
std::string safetensors_bytes(const std::vector<std::pair<std::string, Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Parses bytes as a safetensors file; `file` is the name used in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& file);
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace tg::nn
