// Tensor: a dense, contiguous, row-major array of f32 or f64 with a runtime shape and dtype.
// Copying a Tensor shares its storage (reference semantics, like PyTorch); clone() deep-copies.
// reshape() is a view of the same storage; every other shape op (ops.hpp) materialises a new
// tensor. Storage is 64-byte aligned.
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/tensor/dtype.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/shape.hpp"

namespace tg {

class Generator;

// A 64-byte aligned buffer. Shared by every Tensor that views it.
class Storage {
 public:
  explicit Storage(std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }

 private:
  void* data_;
  std::size_t nbytes_;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false

  // --- factories -------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);  // uninitialised
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);  // shape ()
  // [start, start + step, ...) up to but excluding stop, like torch.arange.
  static Tensor arange(double start, double stop, double step = 1, DType dtype = DType::f32);
  // n points from start to stop inclusive, like torch.linspace.
  static Tensor linspace(double start, double stop, std::int64_t n, DType dtype = DType::f32);
  // Values in row-major order; their count must equal numel(shape).
  static Tensor from_values(const Shape& shape, const std::vector<double>& values,
                            DType dtype = DType::f32);
  static Tensor from_values(const Shape& shape, std::initializer_list<double> values,
                            DType dtype = DType::f32);
  // Random fills (the default generator when gen is null).
  static Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
  static Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
  static Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
  static Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, t.dtype()); }

  // --- properties ------------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t axis) const;  // negative axes count from the end
  std::int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  // True when both tensors view the same storage.
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

  // Typed access; throws DTypeError when T does not match dtype().
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  void* raw_data() const;

  // Element access by multi-index (bounds-checked; for tests and small work, not for hot loops).
  double at(std::initializer_list<std::int64_t> index) const;
  void set(std::initializer_list<std::int64_t> index, double value);
  // The single value of a one-element tensor.
  double item() const;
  // All values, in row-major order, as doubles.
  std::vector<double> to_vector() const;

  // --- conversions and views -------------------------------------------------------------------
  Tensor to(
      DType dtype) const;  // a copy in the other dtype (shares storage when already that dtype)
  Tensor clone() const;    // a deep copy
  // A view with a new shape of the same numel; one dimension may be -1.
  Tensor reshape(const Shape& shape) const;
  // In-place fills and copies (used by optimizers and loaders).
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // same shape and dtype

  std::string to_string() const;  // like PyTorch's repr: values (elided when large), shape, dtype

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace tg

// fmt::print("{}", tensor) prints like PyTorch's repr.
template <>
struct fmt::formatter<tg::Tensor> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const tg::Tensor& t, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(t.to_string(), ctx);
  }
};
