#include "tapegrad/tensor/shape.hpp"

#include <fmt/format.h>

#include <optional>

#include "tapegrad/tensor/error.hpp"

namespace tg {

std::string shape_str(const Shape& s) {
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}

std::optional<std::int64_t> checked_numel(const Shape& s) {
  std::int64_t n = 1;
  bool empty = false;
  for (auto d : s) {
    if (d < 0) return std::nullopt;
    if (d == 0) {
      empty =
          true;  // the product is 0, but the other sizes still have to fit (strides multiply them)
      continue;
    }
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return empty ? 0 : n;
}

std::int64_t numel(const Shape& s) {
  const auto n = checked_numel(s);
  if (!n)
    throw ShapeError(
        fmt::format("shape {} has a negative size or more than 2^63 - 1 elements", shape_str(s)));
  return *n;
}

std::vector<std::int64_t> contiguous_strides(const Shape& s) {
  std::vector<std::int64_t> st(s.size());
  std::int64_t acc = 1;
  for (std::size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];  // cannot overflow for a shape numel accepts: a product of sizes, or 0
  }
  return st;
}

// NumPy: align on the right; sizes must be equal or one of them 1.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(fmt::format("{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})",
                                   op, shape_str(a), shape_str(b), i, da, db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int normalize_axis(std::int64_t axis, std::size_t ndim, const char* op) {
  const auto n = static_cast<std::int64_t>(ndim);
  if (axis < -n || axis >= n)
    throw ShapeError(
        fmt::format("{}: axis {} is out of range for a tensor with {} dimensions", op, axis, n));
  return static_cast<int>(axis < 0 ? axis + n : axis);
}

}  // namespace tg
