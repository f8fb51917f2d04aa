// Shapes: a list of dimension sizes, NumPy broadcasting rules, and axis normalisation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

using Shape = std::vector<std::int64_t>;

// "(128, 784)"; "()" for a scalar.
std::string shape_str(const Shape& s);
// Number of elements (1 for a scalar shape).
std::int64_t numel(const Shape& s);
// Row-major strides, in elements.
std::vector<std::int64_t> contiguous_strides(const Shape& s);
// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Axis in [-ndim, ndim) to [0, ndim); throws ShapeError naming `op`.
int normalize_axis(std::int64_t axis, std::size_t ndim, const char* op);

}  // namespace tg
