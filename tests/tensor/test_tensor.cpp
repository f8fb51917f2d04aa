// Tests for the Tensor class (tensor/tensor.hpp): factories, element access, dtype conversion,
// reference semantics (copies share storage, clone() does not), reshape views, storage alignment
// and the PyTorch-like printing.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/tensor.hpp"

namespace {

using tg::DType;
using tg::Shape;
using tg::Tensor;
using tgtest::contains;
using tgtest::values_of;

bool aligned64(const Tensor& t) { return reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0; }

}  // namespace

// --- factories -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("empty, zeros, ones, full and scalar", "[tensor][factory]", float, double) {
  constexpr DType dt = tg::dtype_of<TestType>();

  const Tensor e = Tensor::empty({2, 3, 4}, dt);
  CHECK(e.defined());
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.dim() == 3);
  CHECK(e.numel() == 24);
  CHECK(e.dtype() == dt);
  CHECK(e.nbytes() == 24 * sizeof(TestType));
  CHECK(e.size(0) == 2);
  CHECK(e.size(-1) == 4);
  CHECK_THROWS_AS(e.size(3), tg::ShapeError);
  CHECK_THROWS_AS(e.size(-4), tg::ShapeError);
  CHECK_THROWS_AS(Tensor::empty({2, -1}, dt), tg::ShapeError);

  for (TestType v : values_of<TestType>(Tensor::zeros({3, 5}, dt))) CHECK(v == TestType(0));
  for (TestType v : values_of<TestType>(Tensor::ones({7}, dt))) CHECK(v == TestType(1));
  for (TestType v : values_of<TestType>(Tensor::full({2, 2}, -2.5, dt))) CHECK(v == TestType(-2.5));

  const Tensor s = Tensor::scalar(3.25, dt);
  CHECK(s.shape().empty());
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.25);

  const Tensor z = Tensor::zeros({0, 3}, dt);
  CHECK(z.numel() == 0);
  CHECK(z.nbytes() == 0);
  CHECK(z.to_vector().empty());

  const Tensor like = Tensor::full_like(e, 4.0);
  CHECK(like.shape() == e.shape());
  CHECK(like.dtype() == dt);
  CHECK(like.at({1, 2, 3}) == 4.0);
  CHECK(Tensor::zeros_like(e).at({0, 0, 0}) == 0.0);
  CHECK(Tensor::ones_like(e).at({1, 1, 1}) == 1.0);
}

TEST_CASE("f32 is the default dtype and an undefined tensor says so", "[tensor][factory]") {
  CHECK(Tensor::zeros({2}).dtype() == DType::f32);
  CHECK(Tensor::arange(0, 3).dtype() == DType::f32);
  const Tensor u;
  CHECK_FALSE(u.defined());
  CHECK_THROWS_AS(u.raw_data(), tg::Error);
  CHECK_THROWS_AS(u.data<float>(), tg::Error);
  CHECK(u.to_string() == "tensor(undefined)");
}

TEMPLATE_TEST_CASE("arange", "[tensor][factory]", float, double) {
  constexpr DType dt = tg::dtype_of<TestType>();
  using V = std::vector<TestType>;

  CHECK(values_of<TestType>(Tensor::arange(0, 5, 1, dt)) == V{0, 1, 2, 3, 4});
  CHECK(values_of<TestType>(Tensor::arange(1, 2, 0.25, dt)) == V{1, 1.25, 1.5, 1.75});
  // A count that is not a whole number rounds up: 0, 0.3, 0.6, 0.9 (stop excluded).
  const Tensor t = Tensor::arange(0, 1, 0.3, dt);
  REQUIRE(t.numel() == 4);
  for (int i = 0; i < 4; ++i) CHECK(t.at({i}) == double(TestType(0 + i * 0.3)));
  SECTION("negative step") {
    CHECK(values_of<TestType>(Tensor::arange(5, 0, -1.5, dt)) == V{5, 3.5, 2, 0.5});
    CHECK(values_of<TestType>(Tensor::arange(2, -2, -1, dt)) == V{2, 1, 0, -1});
  }
  SECTION("empty ranges") {
    for (const Tensor& e :
         {Tensor::arange(0, 0, 1, dt), Tensor::arange(5, 0, 1, dt), Tensor::arange(0, 5, -1, dt)}) {
      CHECK(e.shape() == Shape{0});
      CHECK(e.numel() == 0);
    }
  }
  CHECK_THROWS_AS(Tensor::arange(0, 1, 0, dt), tg::ValueError);
}

TEMPLATE_TEST_CASE("linspace", "[tensor][factory]", float, double) {
  constexpr DType dt = tg::dtype_of<TestType>();
  using V = std::vector<TestType>;

  CHECK(Tensor::linspace(0, 1, 0, dt).shape() == Shape{0});
  CHECK(values_of<TestType>(Tensor::linspace(2, 7, 1, dt)) == V{2});  // a single point is start
  CHECK(values_of<TestType>(Tensor::linspace(2, 7, 2, dt)) == V{2, 7});
  CHECK(values_of<TestType>(Tensor::linspace(-1, 1, 5, dt)) == V{-1, -0.5, 0, 0.5, 1});
  CHECK(values_of<TestType>(Tensor::linspace(3, -3, 4, dt)) == V{3, 1, -1, -3});

  // Both ends are exact even when the step is not representable; the inside is near start + i step.
  for (std::int64_t n : {3, 7, 10, 101}) {
    const auto v = values_of<TestType>(Tensor::linspace(0.1, 0.7, n, dt));
    CHECK(v.front() == TestType(0.1));
    CHECK(v.back() == TestType(0.7));
    const double step = 0.6 / double(n - 1);
    for (std::int64_t i = 0; i < n; ++i) {
      CHECK(v[i] == Approx(0.1 + step * double(i)).epsilon(sizeof(TestType) == 4 ? 1e-6 : 1e-14));
      if (i > 0) CHECK(v[i] > v[i - 1]);
    }
  }
  CHECK_THROWS_AS(Tensor::linspace(0, 1, -1, dt), tg::ValueError);
}

TEMPLATE_TEST_CASE("from_values", "[tensor][factory]", float, double) {
  constexpr DType dt = tg::dtype_of<TestType>();
  const Tensor t = Tensor::from_values({2, 3}, {1, 2, 3, 4, 5, 6}, dt);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.dtype() == dt);
  // Row-major: the last index moves fastest.
  CHECK(t.at({0, 0}) == 1);
  CHECK(t.at({0, 2}) == 3);
  CHECK(t.at({1, 0}) == 4);
  CHECK(t.at({1, 2}) == 6);
  CHECK(t.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});

  const std::vector<double> vals = {0.5, -1.5};
  CHECK(Tensor::from_values({2}, vals, dt).to_vector() == vals);
  CHECK(Tensor::from_values({}, {7}, dt).item() == 7);
  // f32 rounds each value once.
  CHECK(Tensor::from_values({1}, {0.1}, dt).at({0}) == double(TestType(0.1)));

  SECTION("wrong count") {
    CHECK_THROWS_AS(Tensor::from_values({2, 3}, {1, 2, 3, 4, 5}, dt), tg::ShapeError);
    CHECK_THROWS_AS(Tensor::from_values({2}, {1, 2, 3}, dt), tg::ShapeError);
    CHECK_THROWS_AS(Tensor::from_values({}, std::vector<double>{}, dt), tg::ShapeError);
    CHECK_THROWS_WITH(Tensor::from_values({2, 3}, {1, 2}, dt),
                      Catch::Contains("from_values") && Catch::Contains("(2, 3)"));
  }
}

// --- access --------------------------------------------------------------------------------------

TEST_CASE("at and set check their indices, and item needs exactly one element",
          "[tensor][access]") {
  Tensor t = Tensor::zeros({2, 3}, DType::f64);
  t.set({1, 2}, 5.5);
  t.set({-2, -3}, 1.5);  // negative indices count from the end
  CHECK(t.at({1, 2}) == 5.5);
  CHECK(t.at({-1, -1}) == 5.5);
  CHECK(t.at({0, 0}) == 1.5);

  CHECK_THROWS_AS(t.at({2, 0}), tg::ShapeError);
  CHECK_THROWS_AS(t.at({0, 3}), tg::ShapeError);
  CHECK_THROWS_AS(t.at({0, -4}), tg::ShapeError);
  CHECK_THROWS_AS(t.at({0}), tg::ShapeError);  // wrong number of indices
  CHECK_THROWS_AS(t.at({0, 0, 0}), tg::ShapeError);
  CHECK_THROWS_AS(t.set({-3, 0}, 1), tg::ShapeError);
  CHECK_THROWS_WITH(t.at({0, 3}), Catch::Contains("Tensor::at") && Catch::Contains("3"));

  CHECK_THROWS_AS(t.item(), tg::ShapeError);
  CHECK_THROWS_AS(Tensor::zeros({0}).item(), tg::ShapeError);
  CHECK(Tensor::full({1, 1}, 2).item() == 2);
  CHECK(Tensor::scalar(-4).at({}) == -4);
}

TEST_CASE("data<T>() checks the dtype", "[tensor][access]") {
  Tensor f = Tensor::ones({3});
  Tensor d = Tensor::ones({3}, DType::f64);
  CHECK(f.data<float>()[2] == 1.0f);
  CHECK(d.data<double>()[2] == 1.0);
  CHECK_THROWS_AS(f.data<double>(), tg::DTypeError);
  CHECK_THROWS_AS(d.data<float>(), tg::DTypeError);
  const Tensor& cf = f;
  CHECK_THROWS_AS(cf.data<double>(), tg::DTypeError);
  CHECK_THROWS_WITH(f.data<double>(), Catch::Contains("f64") && Catch::Contains("f32"));
}

TEST_CASE("storage is 64-byte aligned", "[tensor][storage]") {
  for (std::int64_t n : {0, 1, 3, 15, 16, 17, 1000, 4097}) {
    CHECK(aligned64(Tensor::empty({n})));
    CHECK(aligned64(Tensor::zeros({n}, DType::f64)));
  }
  CHECK(aligned64(Tensor::scalar(1)));
  CHECK(aligned64(Tensor::arange(0, 10)));
  CHECK(aligned64(Tensor::ones({3, 5}).clone()));
  CHECK(aligned64(Tensor::ones({3, 5}).to(DType::f64)));
}

// --- conversions, copies and views ---------------------------------------------------------------

TEST_CASE("to(dtype) converts values, and shares storage when the dtype is the same",
          "[tensor][dtype]") {
  const Tensor d = Tensor::from_values({3}, {0.1, -2.5, 1e10}, DType::f64);
  const Tensor f = d.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.shape() == d.shape());
  CHECK_FALSE(f.shares_storage(d));
  CHECK(f.data<float>()[0] == 0.1f);  // rounded to nearest
  CHECK(f.data<float>()[1] == -2.5f);
  CHECK(f.data<float>()[2] == 1e10f);

  const Tensor back = f.to(DType::f64);
  CHECK(back.data<double>()[0] == double(0.1f));
  CHECK(back.data<double>()[1] == -2.5);

  CHECK(d.to(DType::f64).shares_storage(d));
  CHECK(Tensor::zeros({0, 2}).to(DType::f64).shape() == Shape{0, 2});
}

TEST_CASE("a copy shares storage but clone() is deep", "[tensor][semantics]") {
  Tensor a = Tensor::from_values({2, 2}, {1, 2, 3, 4});

  Tensor b = a;  // reference semantics, like PyTorch
  CHECK(b.shares_storage(a));
  b.set({0, 1}, 20);
  CHECK(a.at({0, 1}) == 20);

  Tensor c;
  c = a;
  c.fill_(7);
  CHECK(a.at({1, 1}) == 7);

  Tensor d = a.clone();
  CHECK_FALSE(d.shares_storage(a));
  CHECK(d.shape() == a.shape());
  CHECK(d.dtype() == a.dtype());
  CHECK(d.to_vector() == a.to_vector());
  d.set({0, 0}, -1);
  CHECK(a.at({0, 0}) == 7);
  CHECK(Tensor::zeros({0}).clone().numel() == 0);
}

TEST_CASE("fill_ and copy_", "[tensor][semantics]") {
  Tensor a = Tensor::zeros({2, 3}, DType::f64);
  Tensor alias = a;
  CHECK(&a.fill_(1.5) == &a);
  CHECK(alias.at({1, 2}) == 1.5);

  const Tensor src = Tensor::arange(0, 6, 1, DType::f64).reshape({2, 3});
  a.copy_(src);
  CHECK(alias.to_vector() == src.to_vector());
  CHECK_FALSE(a.shares_storage(src));

  CHECK_THROWS_AS(a.copy_(Tensor::zeros({3, 2}, DType::f64)), tg::ShapeError);
  CHECK_THROWS_AS(a.copy_(Tensor::zeros({2, 3}, DType::f32)), tg::DTypeError);
  a.copy_(a);  // copying onto itself is a no-op
  CHECK(a.to_vector() == src.to_vector());
}

TEST_CASE("reshape is a view with -1 inference", "[tensor][reshape]") {
  Tensor a = Tensor::arange(0, 24).reshape({2, 3, 4});
  CHECK(a.shape() == Shape{2, 3, 4});
  CHECK(a.at({1, 2, 3}) == 23);

  Tensor v = a.reshape({6, 4});
  CHECK(v.shares_storage(a));
  v.set({5, 3}, -1);  // writes through to the original
  CHECK(a.at({1, 2, 3}) == -1);

  CHECK(a.reshape({-1}).shape() == Shape{24});
  CHECK(a.reshape({-1, 4}).shape() == Shape{6, 4});
  CHECK(a.reshape({4, -1, 2}).shape() == Shape{4, 3, 2});
  CHECK(a.reshape({1, 24, 1}).shape() == Shape{1, 24, 1});
  CHECK(Tensor::scalar(1).reshape({1, 1}).shape() == Shape{1, 1});
  CHECK(Tensor::ones({1, 1}).reshape({}).shape() == Shape{});
  CHECK(Tensor::zeros({0, 3}).reshape({-1}).shape() == Shape{0});
  CHECK(Tensor::zeros({0, 3}).reshape({3, 0, 5}).shape() == Shape{3, 0, 5});

  SECTION("errors") {
    CHECK_THROWS_AS(a.reshape({5, 5}), tg::ShapeError);
    CHECK_THROWS_AS(a.reshape({-1, 5}), tg::ShapeError);  // 24 is not a multiple of 5
    CHECK_THROWS_AS(a.reshape({-1, -1}), tg::ShapeError);
    CHECK_THROWS_AS(a.reshape({-2, -12}), tg::ShapeError);
    CHECK_THROWS_AS(a.reshape({}), tg::ShapeError);
    // With a 0 in the shape, -1 could be anything.
    CHECK_THROWS_AS(Tensor::zeros({0, 3}).reshape({0, -1}), tg::ShapeError);
    CHECK_THROWS_WITH(a.reshape({5, 5}), Catch::Contains("reshape") &&
                                             Catch::Contains("(2, 3, 4)") &&
                                             Catch::Contains("(5, 5)"));
  }
}

// --- printing ------------------------------------------------------------------------------------

TEST_CASE("printing a small tensor", "[tensor][print]") {
  const Tensor t = Tensor::from_values({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::string want =
      "tensor([[1.0000, 2.0000, 3.0000],\n"
      "        [4.0000, 5.0000, 6.0000]], shape=(2, 3), dtype=f32)";
  CHECK(t.to_string() == want);
  CHECK(fmt::format("{}", t) == want);
  std::ostringstream os;
  os << t;
  CHECK(os.str() == want);

  // Columns are right-aligned to the widest entry.
  CHECK(Tensor::from_values({2, 2}, {1.5, -2, 10, 4}, DType::f64).to_string() ==
        "tensor([[ 1.5000, -2.0000],\n"
        "        [10.0000,  4.0000]], shape=(2, 2), dtype=f64)");
  CHECK(Tensor::scalar(3).to_string() == "tensor(3.0000, shape=(), dtype=f32)");
  CHECK(Tensor::arange(0, 3).to_string() ==
        "tensor([0.0000, 1.0000, 2.0000], shape=(3,), dtype=f32)");
  CHECK(Tensor::zeros({0, 3}).to_string() == "tensor([], shape=(0, 3), dtype=f32)");
  CHECK(Tensor::arange(0, 4).reshape({2, 1, 2}).to_string() ==
        "tensor([[[0.0000, 1.0000]],\n"
        "\n"
        "        [[2.0000, 3.0000]]], shape=(2, 1, 2), dtype=f32)");
  // Very large or very small magnitudes switch to scientific notation.
  CHECK(Tensor::from_values({3}, {1e-5, 1, 2e6}).to_string() ==
        "tensor([1.0000e-05, 1.0000e+00, 2.0000e+06], shape=(3,), dtype=f32)");
}

TEST_CASE("printing nan and inf", "[tensor][print]") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(Tensor::from_values({4}, {nan, inf, -inf, 1}).to_string() ==
        "tensor([   nan,    inf,   -inf, 1.0000], shape=(4,), dtype=f32)");
  CHECK(Tensor::from_values({2}, {nan, nan}, DType::f64).to_string() ==
        "tensor([nan, nan], shape=(2,), dtype=f64)");
}

TEST_CASE("printing elides tensors of more than 1000 elements", "[tensor][print]") {
  const std::string small = Tensor::zeros({1000}).to_string();
  CHECK_FALSE(contains(small, "..."));

  const std::string flat = Tensor::arange(0, 1001).to_string();
  CHECK(contains(flat, "..."));
  CHECK(contains(flat, "[   0.0000,    1.0000,    2.0000, ...,  998.0000,  999.0000, 1000.0000]"));
  CHECK(contains(flat, "shape=(1001,)"));
  CHECK(flat.size() < 200);

  // Every long axis keeps its first and last three entries.
  const std::string rows = Tensor::arange(0, 2000).reshape({40, 50}).to_string();
  CHECK(contains(rows, "...,\n"));
  CHECK(contains(rows, "[   0.0000,    1.0000,    2.0000, ...,   47.0000,   48.0000,   49.0000]"));
  CHECK(contains(rows, "[1950.0000, 1951.0000, 1952.0000, ..., 1997.0000, 1998.0000, 1999.0000]"));
  CHECK_FALSE(contains(rows, "150.0000"));  // row 3 is elided
  CHECK(fmt::format("{}", Tensor::arange(0, 2000).reshape({40, 50})) == rows);

  // Between 2-D blocks the elision takes the same blank line as any other separator.
  const std::string blocks = Tensor::arange(0, 8 * 4 * 40).reshape({8, 4, 40}).to_string();
  CHECK(contains(blocks, "]],\n\n        ...,\n\n        [["));
}
