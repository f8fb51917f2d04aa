// Shapes: a list of dimension sizes, NumPy broadcasting rules, and axis normalisation.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tg {

using Shape = std::vector<std::int64_t>;

// "(128, 784)"; "()" for a scalar.
std::string shape_str(const Shape& s);
// Number of elements (1 for a scalar shape). Throws ShapeError for a negative size, or when the
// product of the non-zero sizes does not fit int64 (so strides never overflow either).
std::int64_t numel(const Shape& s);
// The same without throwing: nullopt where numel would throw (for parsers, which report a
// FormatError).
std::optional<std::int64_t> checked_numel(const Shape& s);
// Row-major strides, in elements.
std::vector<std::int64_t> contiguous_strides(const Shape& s);
// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Axis in [-ndim, ndim) to [0, ndim); throws ShapeError naming `op`.
int normalize_axis(std::int64_t axis, std::size_t ndim, const char* op);

}  // namespace tg
