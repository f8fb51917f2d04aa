// Test helpers for tests/distributions: the torch.distributions reference values written by
// make_fixtures.py, and element-wise comparisons that treat equal infinities as equal.
#pragma once
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/autograd/variable.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace tgtest {

using json = nlohmann::json;

// fixtures()["normal"]["log_prob"], ...
inline const json& fixtures() {
  static const json cases = [] {
    const std::string path = TG_SOURCE_DIR "/tests/distributions/fixtures/torch_reference.json";
    std::ifstream in(path);
    if (!in)
      throw std::runtime_error("cannot open " + path +
                               " (run tests/distributions/make_fixtures.py)");
    return json::parse(in).at("cases");
  }();
  return cases;
}

// {"shape": [...], "data": [...]} -> a tensor ("inf"/"-inf" strings are infinities).
inline tg::Tensor tensor(const json& j, tg::DType dtype = tg::DType::f64) {
  tg::Shape shape = j.at("shape").get<tg::Shape>();
  std::vector<double> data;
  for (const auto& v : j.at("data")) {
    if (v.is_string()) {
      data.push_back(v.get<std::string>() == "inf" ? std::numeric_limits<double>::infinity()
                                                   : -std::numeric_limits<double>::infinity());
    } else {
      data.push_back(v.get<double>());
    }
  }
  return tg::Tensor::from_values(shape, data, dtype);
}
inline tg::Variable var(const json& j, bool requires_grad = false) {
  return tg::Variable(tensor(j), requires_grad);
}

// Every element within atol + rtol |want| (equal infinities pass, NaN never does); shapes must
// match.
inline void require_close(const tg::Variable& got, const tg::Tensor& want, double rtol = 1e-12,
                          double atol = 1e-12, const std::string& what = "") {
  INFO(what);
  REQUIRE(tg::shape_str(got.shape()) == tg::shape_str(want.shape()));
  const auto a = got.value().to_vector();
  const auto b = want.to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(fmt::format("element {}: got {:.17g}, want {:.17g}", i, a[i], b[i]));
    REQUIRE_FALSE(std::isnan(a[i]));
    if (std::isinf(b[i])) {
      REQUIRE(a[i] == b[i]);
    } else {
      REQUIRE(std::abs(a[i] - b[i]) <= atol + rtol * std::abs(b[i]));
    }
  }
}
inline void require_close(const tg::Variable& got, const json& want, double rtol = 1e-12,
                          double atol = 1e-12, const std::string& what = "") {
  require_close(got, tensor(want), rtol, atol, what);
}

// A case of make_fixtures.py's cdf_case: the distribution make(params) built from the case's named
// parameters; its cdf at "value" and icdf at "u", and their gradients (of the sum) with respect to
// the parameters and the argument, against torch's.
template <class Make>
void require_cdf_matches(const json& c, const std::vector<std::string>& names, Make make) {
  std::vector<tg::Variable> params;
  for (const auto& n : names) params.push_back(var(c[n], true));
  for (const char* fn : {"cdf", "icdf"}) {
    const bool is_cdf = std::string(fn) == "cdf";
    const std::string arg = is_cdf ? "value" : "u";
    const tg::Variable x = var(c[arg], true);
    const auto d = make(params);
    const tg::Variable y = is_cdf ? d.cdf(x) : d.icdf(x);
    require_close(y, c[fn], 1e-12, 1e-12, fn);
    std::vector<tg::Variable> wrt = params;
    wrt.push_back(x);
    const auto g = tg::grad({tg::sum(y)}, wrt);
    for (std::size_t i = 0; i < wrt.size(); ++i) {
      const std::string key = std::string(fn) + "_grad_" + (i < names.size() ? names[i] : arg);
      require_close(g[i], c[key], 1e-10, 1e-12, key);
    }
  }
}

inline tg::Variable f64(std::initializer_list<double> v, bool requires_grad = false) {
  return tg::Variable(
      tg::Tensor::from_values({static_cast<std::int64_t>(v.size())}, v, tg::DType::f64),
      requires_grad);
}
inline tg::Variable f64s(double v, bool requires_grad = false) {
  return tg::Variable(tg::Tensor::scalar(v, tg::DType::f64), requires_grad);
}

}  // namespace tgtest
