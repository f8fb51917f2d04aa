// Tensor: storage, factories, element access, conversions, reshape views and printing.
#include "tapegrad/tensor/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ostream>

#include "tapegrad/tensor/allocator.hpp"
#include "tapegrad/tensor/ops.hpp"
#include "tapegrad/tensor/random.hpp"

namespace tg {

// --- Storage -----------------------------------------------------------------------------------

// Storage comes from the caching allocator (allocator.hpp): a training step's tensors reuse the
// blocks the previous step freed instead of going to malloc (and to mmap, page faults included, for
// every block above glibc's 128 KiB threshold).
Storage::Storage(std::size_t nbytes) : data_(alloc::allocate(nbytes)), nbytes_(nbytes) {}

Storage::~Storage() { alloc::deallocate(data_, nbytes_); }

// --- factories ---------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (auto d : shape)
    if (d < 0)
      throw ShapeError(
          fmt::format("Tensor::empty: negative dimension in shape {}", shape_str(shape)));
  Tensor t;
  t.shape_ = shape;
  t.numel_ = tg::numel(shape);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(t.nbytes());
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(double start, double stop, double step, DType dtype) {
  if (step == 0) throw ValueError("Tensor::arange: step must be non-zero");
  const double count = std::ceil((stop - start) / step);
  const auto n = static_cast<std::int64_t>(std::max(0.0, count));
  Tensor t = empty({n}, dtype);
  visit_dtype(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor Tensor::linspace(double start, double stop, std::int64_t n, DType dtype) {
  if (n < 0) throw ValueError(fmt::format("Tensor::linspace: n must be >= 0, got {}", n));
  Tensor t = empty({n}, dtype);
  const double step = n > 1 ? (stop - start) / static_cast<double>(n - 1) : 0.0;
  visit_dtype(dtype, [&]<class T>() {
    T* p = t.data<T>();
    // Like torch.linspace: the second half counts back from stop, so both ends are exact; a single
    // point is start.
    const std::int64_t half = n == 1 ? 1 : n / 2;
    for (std::int64_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(i < half ? start + step * static_cast<double>(i)
                                     : stop - step * static_cast<double>(n - 1 - i));
  });
  return t;
}

Tensor Tensor::from_values(const Shape& shape, const std::vector<double>& values, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (static_cast<std::int64_t>(values.size()) != t.numel())
    throw ShapeError(fmt::format("Tensor::from_values: {} values given for shape {} ({} elements)",
                                 values.size(), shape_str(shape), t.numel()));
  visit_dtype(dtype, [&]<class T>() {
    T* p = t.data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

Tensor Tensor::from_values(const Shape& shape, std::initializer_list<double> values, DType dtype) {
  return from_values(shape, std::vector<double>(values), dtype);
}

Tensor Tensor::rand(const Shape& shape, DType dtype, Generator* gen) {
  Tensor t = empty(shape, dtype);
  Generator& g = gen ? *gen : default_generator();
  visit_dtype(dtype, [&]<class T>() { g.fill_uniform<T>(t.data<T>(), t.numel()); });
  return t;
}

Tensor Tensor::randn(const Shape& shape, DType dtype, Generator* gen) {
  Tensor t = empty(shape, dtype);
  Generator& g = gen ? *gen : default_generator();
  visit_dtype(dtype, [&]<class T>() { g.fill_normal<T>(t.data<T>(), t.numel()); });
  return t;
}

// --- properties and access ---------------------------------------------------------------------

std::int64_t Tensor::size(std::int64_t axis) const {
  return shape_[normalize_axis(axis, shape_.size(), "Tensor::size")];
}

template <class T>
T* Tensor::data() {
  if (!defined()) throw Error("Tensor::data: the tensor is undefined");
  if (dtype_of<T>() != dtype_)
    throw DTypeError(fmt::format("Tensor::data: asked for {} but the tensor is {}",
                                 dtype_name(dtype_of<T>()), dtype_name(dtype_)));
  return static_cast<T*>(storage_->data());
}

template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

template float* Tensor::data<float>();
template double* Tensor::data<double>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;

void* Tensor::raw_data() const {
  if (!defined()) throw Error("Tensor::raw_data: the tensor is undefined");
  return storage_->data();
}

namespace {
std::int64_t flat_index(const Shape& shape, std::initializer_list<std::int64_t> index,
                        const char* op) {
  if (index.size() != shape.size())
    throw ShapeError(fmt::format("{}: {} indices given for a tensor of shape {}", op, index.size(),
                                 shape_str(shape)));
  std::int64_t flat = 0, axis = 0;
  for (std::int64_t i : index) {
    const std::int64_t n = shape[axis];
    if (i < -n || i >= n)
      throw ShapeError(
          fmt::format("{}: index {} is out of range for axis {} of size {}", op, i, axis, n));
    flat = flat * n + (i < 0 ? i + n : i);
    ++axis;
  }
  return flat;
}
}  // namespace

double Tensor::at(std::initializer_list<std::int64_t> index) const {
  const std::int64_t i = flat_index(shape_, index, "Tensor::at");
  return visit_dtype(dtype_, [&]<class T>() { return static_cast<double>(data<T>()[i]); });
}

void Tensor::set(std::initializer_list<std::int64_t> index, double value) {
  const std::int64_t i = flat_index(shape_, index, "Tensor::set");
  visit_dtype(dtype_, [&]<class T>() { data<T>()[i] = static_cast<T>(value); });
}

double Tensor::item() const {
  if (numel_ != 1)
    throw ShapeError(fmt::format("Tensor::item: the tensor has {} elements (shape {}), not one",
                                 numel_, shape_str(shape_)));
  return visit_dtype(dtype_, [&]<class T>() { return static_cast<double>(data<T>()[0]); });
}

std::vector<double> Tensor::to_vector() const {
  return visit_dtype(dtype_, [&]<class T>() {
    const T* p = data<T>();
    return std::vector<double>(p, p + numel_);
  });
}

// --- conversions and views ---------------------------------------------------------------------

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype);
  visit_dtype(dtype_, [&]<class S>() {
    visit_dtype(dtype, [&]<class D>() {
      const S* src = data<S>();
      D* dst = out.data<D>();
      for (std::int64_t i = 0; i < numel_; ++i) dst[i] = static_cast<D>(src[i]);
    });
  });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_);
  if (nbytes()) std::memcpy(out.raw_data(), raw_data(), nbytes());
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = shape;
  std::int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0)
        throw ShapeError(fmt::format("reshape: more than one -1 in {}", shape_str(shape)));
      infer = static_cast<std::int64_t>(i);
    } else if (s[i] < 0) {
      throw ShapeError(fmt::format("reshape: negative dimension in {}", shape_str(shape)));
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel_ % known != 0)
      throw ShapeError(fmt::format("reshape: cannot reshape {} ({} elements) into {}",
                                   shape_str(shape_), numel_, shape_str(shape)));
    s[infer] = numel_ / known;
    known *= s[infer];
  }
  if (known != numel_)
    throw ShapeError(fmt::format("reshape: cannot reshape {} ({} elements) into {} ({} elements)",
                                 shape_str(shape_), numel_, shape_str(shape), known));
  Tensor view = *this;
  view.shape_ = std::move(s);
  return view;
}

Tensor& Tensor::fill_(double value) {
  visit_dtype(dtype_, [&]<class T>() { std::fill_n(data<T>(), numel_, static_cast<T>(value)); });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (src.shape_ != shape_)
    throw ShapeError(fmt::format("Tensor::copy_: source shape {} differs from destination {}",
                                 shape_str(src.shape_), shape_str(shape_)));
  if (src.dtype_ != dtype_)
    throw DTypeError(fmt::format("Tensor::copy_: source dtype {} differs from destination {}",
                                 dtype_name(src.dtype_), dtype_name(dtype_)));
  if (nbytes() && raw_data() != src.raw_data()) std::memmove(raw_data(), src.raw_data(), nbytes());
  return *this;
}

// --- printing ----------------------------------------------------------------------------------
// Like PyTorch: nested brackets, rows aligned, at most 3 leading and 3 trailing entries per axis
// when the tensor has more than 1000 elements.

namespace {

struct Printer {
  const std::vector<double>& v;
  const Shape& shape;
  std::vector<std::int64_t> strides;
  bool elide;
  bool sci;
  int width = 0;

  std::string num(double x) const {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    return sci ? fmt::format("{:.4e}", x) : fmt::format("{:.4f}", x);
  }

  void rec(std::string& out, std::size_t axis, std::int64_t offset, int indent) const {
    if (axis == shape.size()) {
      out += fmt::format("{:>{}}", num(v[offset]), width);
      return;
    }
    const std::int64_t n = shape[axis];
    // Between entries: ", " on the last axis; otherwise ",", one newline per remaining axis,
    // indent.
    std::string sep = ", ";
    if (axis + 1 < shape.size()) {
      sep = ",";
      sep.append(shape.size() - axis - 1, '\n');
      sep.append(indent + 1, ' ');
    }
    out += '[';
    for (std::int64_t i = 0; i < n; ++i) {
      if (elide && n > 6 && i == 3) {
        out += "...";
        out += sep;
        i = n - 3;
      }
      rec(out, axis + 1, offset + i * strides[axis], indent + 1);
      if (i + 1 < n) out += sep;
    }
    out += ']';
  }
};

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  const std::vector<double> v = to_vector();
  double big = 0, small = INFINITY;
  for (double x : v)
    if (std::isfinite(x) && x != 0) {
      big = std::max(big, std::abs(x));
      small = std::min(small, std::abs(x));
    }
  Printer p{v, shape_, contiguous_strides(shape_), numel_ > 1000, big >= 1e5 || small < 1e-4};
  for (double x : v) p.width = std::max(p.width, static_cast<int>(p.num(x).size()));
  std::string body;
  if (numel_ == 0) {
    body = "[]";
  } else {
    p.rec(body, 0, 0, 7);  // 7 = strlen("tensor(")
  }
  return fmt::format("tensor({}, shape={}, dtype={})", body, shape_str(shape_), dtype_name(dtype_));
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace tg
