// NumPy's .npy format, for moving single arrays to and from Python (np.load / np.save):
//
//   "\x93NUMPY", version (1, 0), u16 little-endian header length, then an ASCII Python dict
//   "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" padded with spaces and a final
//   newline so the data starts at a multiple of 64 bytes, then the raw little-endian C-order data.
//
// save_npy writes exactly the bytes NumPy's np.save writes (version 1.0; 2.0 only for a header too
// big for 1.0, as NumPy does). load_npy reads versions 1.0, 2.0 and 3.0 of f32 ('<f4') and f64
// ('<f8') C-order arrays; anything else (Fortran order, other dtypes, big-endian, bad magic,
// truncated data, a malformed header) is a tg::FormatError("<file>: byte <offset>: <what is
// wrong>").
#pragma once
#include <string>

#include "tapegrad/tensor/tensor.hpp"

namespace tg::nn {

std::string npy_bytes(const Tensor& t);
void save_npy(const std::string& path, const Tensor& t);  // atomic

// Parses bytes as a .npy file; `file` is the name used in error messages.
Tensor parse_npy(const std::string& bytes, const std::string& file);
Tensor load_npy(const std::string& path);

}  // namespace tg::nn
