// Tests for tg::Generator: Philox4x32-10 against the published known-answer vectors, the exact
// mapping from Philox words to values, moments of every fill within 5 standard errors (fixed seeds,
// so the tests are deterministic), offsets, and bitwise independence from the thread count.
#include <Random123/philox.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/error.hpp"
#include "tapegrad/tensor/parallel.hpp"
#include "tapegrad/tensor/random.hpp"

namespace {

using Philox = r123::Philox4x32;
using tgtest::ThreadsGuard;

Philox::ctr_type philox(std::uint64_t seed, std::uint64_t block) {
  const Philox::ctr_type ctr = {
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0}};
  const Philox::key_type key = {
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  return Philox()(ctr, key);
}

struct Moments {
  double mean = 0, var = 0;
};

template <class T>
Moments moments(const std::vector<T>& x) {
  Moments m;
  for (T v : x) m.mean += v;
  m.mean /= static_cast<double>(x.size());
  for (T v : x) m.var += (v - m.mean) * (v - m.mean);
  m.var /= static_cast<double>(x.size() - 1);
  return m;
}

// Standard normal CDF.
double phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Runs fill on a fresh Generator(seed) with `threads` threads and returns the values.
template <class T, class Fill>
std::vector<T> fill_with_threads(int threads, std::int64_t n, const Fill& fill) {
  tg::set_num_threads(threads);
  std::vector<T> out(static_cast<std::size_t>(n));
  tg::Generator g(1234);
  fill(g, out.data(), n);
  return out;
}
}  // namespace

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors", "[random]") {
  // Random123's kat_vectors, "philox4x32 10" lines: counter[4] key[2] -> output[4].
  struct Kat {
    Philox::ctr_type ctr;
    Philox::key_type key;
    std::uint32_t expected[4];
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       {{0xffffffff, 0xffffffff}},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       {{0xa4093822, 0x299f31d0}},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const auto out = Philox()(k.ctr, k.key);
    for (int i = 0; i < 4; ++i) CHECK(out.v[i] == k.expected[i]);
  }
}

TEST_CASE("fills map Philox words to values as documented", "[random]") {
  const std::uint64_t seed = 0x0123456789abcdefULL,
                      offset = 0xfffffffffULL;  // both words of each in use
  tg::Generator g(seed);

  SECTION("f32 uniform: top 24 bits of each word, 4 values a block") {
    g.set_offset(offset);
    std::vector<float> u(6);
    g.fill_uniform(u.data(), 6);
    CHECK(g.offset() == offset + 2);
    for (int i = 0; i < 6; ++i) {
      const std::uint32_t w = philox(seed, offset + i / 4).v[i % 4];
      CHECK(u[i] == static_cast<float>(w >> 8) * 0x1p-24f);
    }
  }
  SECTION("f64 uniform: 32 + 21 bits of two words, 2 values a block") {
    g.set_offset(offset);
    std::vector<double> u(3);
    g.fill_uniform(u.data(), 3);
    CHECK(g.offset() == offset + 2);
    for (int i = 0; i < 3; ++i) {
      const auto w = philox(seed, offset + i / 2);
      const std::uint64_t k =
          (std::uint64_t{w.v[2 * (i % 2)]} << 21) | (w.v[2 * (i % 2) + 1] >> 11);
      CHECK(u[i] == static_cast<double>(k) * 0x1p-53);
    }
  }
  SECTION("f64 normal: Box-Muller on one pair, 2 values a block") {
    g.set_offset(offset);
    std::vector<double> z(2);
    g.fill_normal(z.data(), 2);
    CHECK(g.offset() == offset + 1);
    const auto w = philox(seed, offset);
    const double u1 =
        static_cast<double>((std::uint64_t{w.v[0]} << 21) | (w.v[1] >> 11)) * 0x1p-53 + 0x1p-53;
    const double u2 = static_cast<double>((std::uint64_t{w.v[2]} << 21) | (w.v[3] >> 11)) * 0x1p-53;
    const double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * std::numbers::pi * u2;
    CHECK(z[0] == Approx(r * std::cos(t)).epsilon(1e-14));
    CHECK(z[1] == Approx(r * std::sin(t)).epsilon(1e-14));
  }
}

TEST_CASE("uniform fills have the right range and moments", "[random]") {
  const std::int64_t n = 1 << 20;
  tg::Generator g(7);

  SECTION("f32 on [-2, 3)") {
    std::vector<float> x(n);
    g.fill_uniform(x.data(), n, -2.0f, 3.0f);
    CHECK(std::all_of(x.begin(), x.end(), [](float v) { return v >= -2.0f && v < 3.0f; }));
    // U[a, b): mean (a+b)/2, variance w^2/12, Var(s^2) ~ (mu4 - sigma^4)/n with mu4 = w^4/80.
    const double w = 5, var = w * w / 12, mu4 = w * w * w * w / 80;
    const Moments m = moments(x);
    CHECK(std::abs(m.mean - 0.5) < 5 * std::sqrt(var / n));
    CHECK(std::abs(m.var - var) < 5 * std::sqrt((mu4 - var * var) / n));
  }
  SECTION("f64 on [0, 1)") {
    std::vector<double> x(n);
    g.fill_uniform(x.data(), n);
    CHECK(std::all_of(x.begin(), x.end(), [](double v) { return v >= 0.0 && v < 1.0; }));
    const double var = 1.0 / 12, mu4 = 1.0 / 80;
    const Moments m = moments(x);
    CHECK(std::abs(m.mean - 0.5) < 5 * std::sqrt(var / n));
    CHECK(std::abs(m.var - var) < 5 * std::sqrt((mu4 - var * var) / n));
    // 53 bits are used: some values are not multiples of 2^-32.
    bool fine = false;
    for (double v : x) fine |= std::ldexp(v, 32) != std::floor(std::ldexp(v, 32));
    CHECK(fine);
  }
  SECTION("never returns high, even when low + w * u rounds up to it") {
    // [1, 1 + ulp) holds one float; 1 + ulp * u rounds to 1 + ulp for u > 1/2 without the cap.
    const float lo = 1.0f, hi = std::nextafter(1.0f, 2.0f);
    std::vector<float> x(1000);
    g.fill_uniform(x.data(), 1000, lo, hi);
    CHECK(std::all_of(x.begin(), x.end(), [&](float v) { return v == lo; }));
    const double dlo = 1.0, dhi = std::nextafter(1.0, 2.0);
    std::vector<double> y(1000);
    g.fill_uniform(y.data(), 1000, dlo, dhi);
    CHECK(std::all_of(y.begin(), y.end(), [&](double v) { return v == dlo; }));
  }
  SECTION("low == high gives low") {
    std::vector<float> x(10);
    g.fill_uniform(x.data(), 10, 2.5f, 2.5f);
    CHECK(std::all_of(x.begin(), x.end(), [](float v) { return v == 2.5f; }));
  }
}

TEMPLATE_TEST_CASE("normal fills have the right moments and shape", "[random]", float, double) {
  const std::int64_t n = 1 << 20;
  const double mean = 1.5, sd = 2.0;
  tg::Generator g(11);
  std::vector<TestType> x(n);
  g.fill_normal(x.data(), n, TestType(mean), TestType(sd));
  CHECK(std::all_of(x.begin(), x.end(), [](TestType v) { return std::isfinite(v); }));

  // Sample mean ~ N(mean, sd^2/n); s^2 has standard error sd^2 sqrt(2/n).
  const Moments m = moments(x);
  CHECK(std::abs(m.mean - mean) < 5 * sd / std::sqrt(double(n)));
  CHECK(std::abs(m.var - sd * sd) < 5 * sd * sd * std::sqrt(2.0 / n));

  // The shape, not only two moments: the fraction below each quantile is Binomial(n, Phi(z)) / n.
  for (double z : {-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0}) {
    std::int64_t below = 0;
    for (TestType v : x) below += (v - mean) / sd < z;
    const double p = phi(z), freq = double(below) / n;
    INFO("z = " << z << ", frequency " << freq << ", expected " << p);
    CHECK(std::abs(freq - p) < 5 * std::sqrt(p * (1 - p) / n));
  }

  // The two values of a Box-Muller pair are independent: their correlation is ~N(0, 1/pairs).
  double cross = 0;
  for (std::int64_t i = 0; i + 1 < n; i += 2) cross += (x[i] - mean) * (x[i + 1] - mean);
  const double pairs = double(n / 2), corr = cross / pairs / (sd * sd);
  CHECK(std::abs(corr) < 5 / std::sqrt(pairs));
}

TEMPLATE_TEST_CASE("bernoulli fills fire with probability p", "[random]", float, double) {
  const std::int64_t n = 1 << 20;
  tg::Generator g(13);
  std::vector<TestType> x(n);

  SECTION("one p for all (p_step = 0)") {
    for (double p : {0.0, 0.001, 0.1, 0.5, 0.9, 1.0}) {
      const TestType pt = TestType(p);
      g.fill_bernoulli(x.data(), n, &pt, 0);
      CHECK(std::all_of(x.begin(), x.end(),
                        [](TestType v) { return v == TestType(0) || v == TestType(1); }));
      const auto ones = std::count(x.begin(), x.end(), TestType(1));
      INFO("p = " << p);
      if (p == 0.0) CHECK(ones == 0);
      if (p == 1.0) CHECK(ones == n);
      CHECK(std::abs(double(ones) / n - p) <= 5 * std::sqrt(p * (1 - p) / n));
    }
  }
  SECTION("one p per element (p_step = 1)") {
    // Element i gets p = 0.2 if i is even, 0.7 if odd; each class's frequency is checked
    // separately.
    std::vector<TestType> p(n);
    for (std::int64_t i = 0; i < n; ++i) p[i] = i % 2 ? TestType(0.7) : TestType(0.2);
    g.fill_bernoulli(x.data(), n, p.data());
    double ones[2] = {0, 0};
    for (std::int64_t i = 0; i < n; ++i) ones[i % 2] += x[i];
    const double half = double(n / 2);
    CHECK(std::abs(ones[0] / half - 0.2) < 5 * std::sqrt(0.2 * 0.8 / half));
    CHECK(std::abs(ones[1] / half - 0.7) < 5 * std::sqrt(0.7 * 0.3 / half));
  }
  SECTION("p_step = 0 equals a constant p array") {
    const TestType pc = TestType(0.3);
    std::vector<TestType> p(1000, pc), a(1000), b(1000);
    tg::Generator g1(5), g2(5);
    g1.fill_bernoulli(a.data(), 1000, &pc, 0);
    g2.fill_bernoulli(b.data(), 1000, p.data(), 1);
    CHECK(a == b);
  }
}

TEST_CASE("same seed gives the same numbers and consecutive fills differ", "[random]") {
  tg::Generator a(99), b(99), c(100);
  std::vector<float> x(1000), y(1000), z(1000);
  a.fill_normal(x.data(), 1000);
  b.fill_normal(y.data(), 1000);
  c.fill_normal(z.data(), 1000);
  CHECK(x == y);
  CHECK(x != z);

  a.fill_normal(y.data(), 1000);  // the second fill of `a`
  CHECK(x != y);
  std::int64_t equal = 0;
  for (int i = 0; i < 1000; ++i) equal += x[i] == y[i];
  CHECK(equal == 0);
}

TEST_CASE("the offset counts Philox blocks and is the whole state", "[random]") {
  tg::Generator g(3);
  std::vector<float> f(10);
  std::vector<double> d(10);
  g.fill_uniform(f.data(), 10);  // 4 f32 a block: 3 blocks
  CHECK(g.offset() == 3);
  g.fill_uniform(d.data(), 10);  // 2 f64 a block: 5 blocks
  CHECK(g.offset() == 8);
  g.fill_normal(f.data(), 10);  // 4 f32 normals a block
  CHECK(g.offset() == 11);
  g.fill_normal(d.data(), 10);  // 2 f64 normals a block
  CHECK(g.offset() == 16);
  const float p = 0.5f;
  g.fill_bernoulli(f.data(), 10, &p, 0);
  CHECK(g.offset() == 19);
  g.fill_uniform(f.data(), 0);  // an empty fill uses nothing
  CHECK(g.offset() == 19);

  SECTION("restoring (seed, offset) replays the stream") {
    g.set_offset(8);
    std::vector<float> again(10);
    g.fill_normal(again.data(), 10);
    tg::Generator h(3);
    h.set_offset(8);
    std::vector<float> replay(10);
    h.fill_normal(replay.data(), 10);
    CHECK(again == replay);
  }
  SECTION("block-aligned fills concatenate") {
    tg::Generator one(21), two(21);
    std::vector<float> whole(16), parts(16);
    one.fill_uniform(whole.data(), 16);
    two.fill_uniform(parts.data(), 8);
    two.fill_uniform(parts.data() + 8, 8);
    CHECK(whole == parts);
  }
}

TEST_CASE("fills do not depend on the thread count", "[random]") {
  ThreadsGuard guard;
  // Large enough that every fill is split into chunks (the grain is 4096 blocks, this is 131072 or
  // more); odd so the last block is partial.
  const std::int64_t n = (1 << 20) + 3;
  auto same_bits = [](const auto& a, const auto& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
  };
  auto check = [&](const auto& fill, auto type_tag) {
    using T = decltype(type_tag);
    const auto serial = fill_with_threads<T>(1, n, fill);
    CHECK(same_bits(serial, fill_with_threads<T>(2, n, fill)));
    CHECK(same_bits(serial, fill_with_threads<T>(3, n, fill)));
  };
  check([](tg::Generator& g, float* out, std::int64_t m) { g.fill_uniform(out, m, -1.0f, 1.0f); },
        0.0f);
  check([](tg::Generator& g, double* out, std::int64_t m) { g.fill_uniform(out, m); }, 0.0);
  check([](tg::Generator& g, float* out, std::int64_t m) { g.fill_normal(out, m); }, 0.0f);
  check([](tg::Generator& g, double* out, std::int64_t m) { g.fill_normal(out, m, 2.0, 3.0); },
        0.0);
  check(
      [](tg::Generator& g, float* out, std::int64_t m) {
        const float p = 0.4f;
        g.fill_bernoulli(out, m, &p, 0);
      },
      0.0f);
  check(
      [](tg::Generator& g, double* out, std::int64_t m) {
        std::vector<double> p(static_cast<std::size_t>(m));
        for (std::int64_t i = 0; i < m; ++i) p[i] = double(i % 97) / 96;
        g.fill_bernoulli(out, m, p.data());
      },
      0.0);
}

TEST_CASE("default_generator and manual_seed", "[random]") {
  tg::manual_seed(42);
  CHECK(tg::default_generator().seed() == 42);
  CHECK(tg::default_generator().offset() == 0);
  std::vector<float> x(100), y(100);
  tg::default_generator().fill_uniform(x.data(), 100);
  CHECK(tg::default_generator().offset() == 25);
  tg::manual_seed(42);  // resets the offset too
  tg::default_generator().fill_uniform(y.data(), 100);
  CHECK(x == y);
}

TEST_CASE("bad arguments raise ValueError and leave the generator alone", "[random]") {
  tg::Generator g(1);
  std::vector<float> x(4);
  const float bad_p[4] = {0.5f, 1.5f, 0.5f, 0.5f};
  const float nan_p = std::nanf("");
  CHECK_THROWS_AS(g.fill_uniform(x.data(), -1), tg::ValueError);
  CHECK_THROWS_AS(g.fill_uniform(x.data(), 4, 1.0f, 0.0f), tg::ValueError);
  CHECK_THROWS_AS(g.fill_normal(x.data(), 4, 0.0f, -1.0f), tg::ValueError);
  CHECK_THROWS_WITH(g.fill_bernoulli(x.data(), 4, bad_p), Catch::Contains("p[1]"));
  CHECK_THROWS_AS(g.fill_bernoulli(x.data(), 4, &nan_p, 0), tg::ValueError);
  CHECK(g.offset() == 0);
}
