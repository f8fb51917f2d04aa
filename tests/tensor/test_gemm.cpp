// Tests for tg::gemm against a naive triple loop accumulated in long double: every SIMD unit the
// CPU has (plus the scalar fallback), both dtypes, all four transpose combinations, edge and
// block-boundary shapes, alpha/beta variants, padded leading dimensions, 1 and 2 threads, and
// bitwise equality of the results for 1 and 2 threads.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tapegrad/tensor/gemm.hpp"
#include "tapegrad/tensor/gemm_kernel.hpp"
#include "tapegrad/tensor/parallel.hpp"

namespace {

using i64 = std::int64_t;

// The units to cover: those this CPU has, best first, then the scalar fallback.
std::vector<std::string> available_units() {
  std::vector<std::string> out;
  for (const char* name : {"avx512", "avx2", "sse4.2", "scalar"})
    if (tg::gemm_detail::select_unit(name)) out.emplace_back(name);
  tg::gemm_detail::select_unit(nullptr);
  return out;
}

// Restores the default unit and thread count when a test ends, even on failure.
struct Restore {
  int threads = tg::num_threads();
  ~Restore() {
    tg::gemm_detail::select_unit(nullptr);
    tg::set_num_threads(threads);
  }
};

// A matrix of rows x cols in a buffer with row stride ld >= cols; the padding holds `pad` so a read
// of it shows up (NaN) and a write to it is caught.
template <class T>
struct Mat {
  i64 rows, cols, ld;
  std::vector<T> v;
  Mat(i64 r, i64 c, i64 extra, T pad)
      : rows(r),
        cols(c),
        ld(c + extra),
        v(static_cast<std::size_t>(std::max<i64>(r * (c + extra), 1)), pad) {}
  T& at(i64 i, i64 j) { return v[static_cast<std::size_t>(i * ld + j)]; }
  T at(i64 i, i64 j) const { return v[static_cast<std::size_t>(i * ld + j)]; }
};

template <class T>
void fill_random(Mat<T>& m, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (i64 i = 0; i < m.rows; ++i)
    for (i64 j = 0; j < m.cols; ++j) m.at(i, j) = static_cast<T>(u(rng));
}

struct Case {
  bool ta, tb;
  i64 M, N, K;
  double alpha, beta;
  i64 extra;  // leading dimensions exceed the minimum by this much
};

// Runs one case and checks every element of C against the long double reference, with the error
// bound of a K-term dot product, |err| <= (K + 2) * eps * (|alpha| sum_k |a||b| + |beta||c|),
// doubled for margin. The padding of C must be untouched.
template <class T>
void check_case(const Case& c, std::mt19937& rng) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const T alpha = static_cast<T>(c.alpha), beta = static_cast<T>(c.beta);
  Mat<T> A(c.ta ? c.K : c.M, c.ta ? c.M : c.K, c.extra, nan);
  Mat<T> B(c.tb ? c.N : c.K, c.tb ? c.K : c.N, c.extra, nan);
  Mat<T> C(c.M, c.N, c.extra, T(-7));
  fill_random(A, rng);
  fill_random(B, rng);
  if (beta == T(0)) {
    for (i64 i = 0; i < c.M; ++i)
      for (i64 j = 0; j < c.N; ++j) C.at(i, j) = nan;  // must not propagate
  } else {
    fill_random(C, rng);
  }
  const Mat<T> C0 = C;
  tg::gemm<T>(c.ta, c.tb, c.M, c.N, c.K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta,
              C.v.data(), C.ld);

  INFO("unit " << tg::gemm_detail::unit_name() << ", threads " << tg::num_threads() << ", ta "
               << c.ta << ", tb " << c.tb << ", M " << c.M << ", N " << c.N << ", K " << c.K
               << ", alpha " << c.alpha << ", beta " << c.beta << ", ld extra " << c.extra);
  const long double eps = std::numeric_limits<T>::epsilon();
  i64 bad = 0;
  for (i64 i = 0; i < c.M; ++i) {
    for (i64 j = 0; j < c.N; ++j) {
      long double sum = 0, mag = 0;
      for (i64 k = 0; k < c.K; ++k) {
        const long double a = c.ta ? A.at(k, i) : A.at(i, k), b = c.tb ? B.at(j, k) : B.at(k, j);
        sum += a * b;
        mag += std::fabs(a * b);
      }
      long double ref = static_cast<long double>(alpha) * sum;
      long double bound = std::fabs(static_cast<long double>(alpha)) * mag;
      if (beta != T(0)) {
        ref += static_cast<long double>(beta) * C0.at(i, j);
        bound += std::fabs(static_cast<long double>(beta) * C0.at(i, j));
      }
      const long double tol = 2 * (c.K + 2) * eps * bound + std::numeric_limits<T>::denorm_min();
      const long double got = C.at(i, j);
      if (!(std::fabs(got - ref) <= tol) && bad++ < 3)
        FAIL_CHECK("C[" << i << "][" << j << "] = " << static_cast<double>(got) << ", expected "
                        << static_cast<double>(ref) << " (tol " << static_cast<double>(tol) << ")");
    }
    for (i64 j = c.N; j < C.ld && i < c.M; ++j)
      if (!(C.at(i, j) == T(-7)) && bad++ < 3)
        FAIL_CHECK("padding of C written at [" << i << "][" << j << "]");
  }
  CHECK(bad == 0);
}

// Shapes: 0 and 1, primes, and the edges of the micro-tiles (mr = 12/6/4, nr = 32/16/8 for the
// units), of the K blocks (kc = 384 floats, 192 doubles) and of the N blocks.
const std::vector<std::array<i64, 3>>& shapes() {
  static const std::vector<std::array<i64, 3>> s = {
      {0, 5, 3},   {4, 0, 3},   {3, 4, 0},   {1, 1, 1},    {1, 1, 7},     {1, 13, 1},
      {13, 1, 1},  {2, 3, 4},   {7, 13, 17}, {17, 31, 13}, {31, 17, 97},  {12, 32, 5},
      {11, 31, 9}, {13, 33, 3}, {24, 64, 8}, {25, 65, 2},  {6, 16, 16},   {5, 15, 15},
      {4, 8, 3},   {3, 7, 9},   {9, 20, 40}, {97, 7, 13},  {5, 129, 7},   {3, 5, 193},
      {2, 3, 385}, {4, 5, 769}, {3, 321, 4}, {2, 641, 3},  {129, 97, 31}, {37, 400, 19}};
  return s;
}

template <class T>
void run_shapes(std::mt19937& rng) {
  for (const auto& s : shapes())
    for (int t = 0; t < 4; ++t)
      check_case<T>({bool(t & 1), bool(t & 2), s[0], s[1], s[2], 1.0, 0.0, 0}, rng);
}

}  // namespace

TEST_CASE("gemm matches a naive product for every unit, dtype, transpose and edge shape",
          "[gemm]") {
  Restore restore;
  std::mt19937 rng(1234);
  tg::set_num_threads(1);
  for (const auto& unit : available_units()) {
    REQUIRE(tg::gemm_detail::select_unit(unit.c_str()));
    run_shapes<float>(rng);
    run_shapes<double>(rng);
  }
}

TEST_CASE("gemm handles alpha, beta and leading dimensions larger than the rows", "[gemm]") {
  Restore restore;
  std::mt19937 rng(99);
  tg::set_num_threads(1);
  const double alphas[] = {1.0, -0.5, 2.0, 0.0};
  const double betas[] = {0.0, 1.0, -1.5};
  for (const auto& unit : available_units()) {
    REQUIRE(tg::gemm_detail::select_unit(unit.c_str()));
    for (double alpha : alphas)
      for (double beta : betas)
        for (int t = 0; t < 4; ++t) {
          const bool ta = t & 1, tb = t & 2;
          check_case<float>({ta, tb, 13, 35, 17, alpha, beta, 3}, rng);
          check_case<double>({ta, tb, 13, 19, 29, alpha, beta, 5}, rng);
          check_case<float>({ta, tb, 1, 1, 1, alpha, beta, 1}, rng);
        }
  }
}

TEST_CASE("gemm with beta = 0 or K = 0 never lets NaN in C through", "[gemm]") {
  Restore restore;
  std::mt19937 rng(7);
  for (const auto& unit : available_units()) {
    REQUIRE(tg::gemm_detail::select_unit(unit.c_str()));
    for (int t = 0; t < 4; ++t) {
      check_case<float>({bool(t & 1), bool(t & 2), 29, 47, 31, 1.0, 0.0, 2}, rng);
      check_case<double>({bool(t & 1), bool(t & 2), 29, 47, 31, -1.0, 0.0, 2}, rng);
    }
    // K == 0: C = beta * C; with beta == 0 that is zeros, whatever C held.
    std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
    tg::gemm<float>(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, c.data(), 3);
    for (float x : c) CHECK(x == 0.0f);
    std::vector<double> d(6, 2.0);
    tg::gemm<double>(true, true, 2, 3, 0, 1.0, nullptr, 1, nullptr, 1, 0.5, d.data(), 3);
    for (double x : d) CHECK(x == 1.0);
  }
}

TEST_CASE("gemm with 2 threads matches the reference on shapes that split over N and over M",
          "[gemm]") {
  Restore restore;
  std::mt19937 rng(42);
  tg::set_num_threads(2);
  for (const auto& unit : available_units()) {
    if (unit == "scalar") continue;  // the fallback is single-threaded
    REQUIRE(tg::gemm_detail::select_unit(unit.c_str()));
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      check_case<float>({ta, tb, 131, 97, 101, 1.0, 0.5, 1}, rng);   // split over N
      check_case<float>({ta, tb, 257, 20, 211, 1.0, 0.0, 0}, rng);   // one panel of B: split over M
      check_case<double>({ta, tb, 67, 83, 197, -1.0, 1.0, 2}, rng);  // crosses a K block (192)
    }
  }
}

TEST_CASE("gemm gives bitwise identical results for 1 and 2 threads", "[gemm]") {
  Restore restore;
  std::mt19937 rng(5);
  struct Shape {
    bool ta, tb;
    i64 M, N, K;
  };
  const Shape cases[] = {{false, true, 128, 400, 784},  // the VAE's forward, K in 3 blocks
                         {true, false, 150, 100, 128},
                         {false, false, 300, 20, 400},  // split over M
                         {true, true, 77, 333, 90}};
  for (const auto& unit : available_units()) {
    if (unit == "scalar") continue;
    REQUIRE(tg::gemm_detail::select_unit(unit.c_str()));
    for (const auto& s : cases) {
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      std::vector<float> a(static_cast<std::size_t>(s.M * s.K)),
          b(static_cast<std::size_t>(s.K * s.N));
      std::vector<float> c0(static_cast<std::size_t>(s.M * s.N));
      for (auto& x : a) x = u(rng);
      for (auto& x : b) x = u(rng);
      for (auto& x : c0) x = u(rng);
      std::vector<float> c1 = c0, c2 = c0;
      const i64 lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
      tg::set_num_threads(1);
      tg::gemm<float>(s.ta, s.tb, s.M, s.N, s.K, 0.75f, a.data(), lda, b.data(), ldb, 0.25f,
                      c1.data(), s.N);
      tg::set_num_threads(2);
      tg::gemm<float>(s.ta, s.tb, s.M, s.N, s.K, 0.75f, a.data(), lda, b.data(), ldb, 0.25f,
                      c2.data(), s.N);
      INFO("unit " << unit << ", M " << s.M << ", N " << s.N << ", K " << s.K);
      CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("gemm unit selection: names, the hook and the default", "[gemm]") {
  Restore restore;
  CHECK_FALSE(tg::gemm_detail::select_unit("avx9000"));
  CHECK(tg::gemm_detail::select_unit("scalar"));
  CHECK(std::string(tg::gemm_detail::unit_name()) == "scalar");
  CHECK(tg::gemm_detail::select_unit(nullptr));
  CHECK(std::string(tg::gemm_detail::unit_name()) == available_units().front());
}
