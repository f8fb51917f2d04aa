// Optimizer trajectories against PyTorch 1.13 (tests/nn/make_fixtures.py wrote
// fixtures/optim.json): the same problem, the same initial parameters, 100 steps in float64,
// compared every 10th step.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/optim.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

using namespace tg;
using Json = nlohmann::json;

namespace {

const Json& fixture() {
  static const Json j = Json::parse(read_file(TG_SOURCE_DIR "/tests/nn/fixtures/optim.json"));
  return j;
}

Tensor tensor_of(const Json& j) {
  std::vector<double> values;
  Shape shape;
  if (j.is_array() && !j.empty() && j[0].is_array()) {
    shape = {static_cast<std::int64_t>(j.size()), static_cast<std::int64_t>(j[0].size())};
    for (const auto& row : j)
      for (const auto& v : row) values.push_back(v.get<double>());
  } else {
    shape = {static_cast<std::int64_t>(j.size())};
    for (const auto& v : j) values.push_back(v.get<double>());
  }
  return Tensor::from_values(shape, values, DType::f64);
}

// max |a - b| / max(|b|, 1e-12), over all elements.
double max_rel_err(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(x[i] - y[i]) / std::max(std::abs(y[i]), 1e-12));
  return worst;
}

std::unique_ptr<optim::Optimizer> make(const std::string& kind, const Json& o,
                                       const std::vector<Variable>& params) {
  const double lr = o.value("lr", 1e-3);
  if (kind == "SGD")
    return std::make_unique<optim::SGD>(params, lr, o.value("momentum", 0.0),
                                        o.value("dampening", 0.0), o.value("weight_decay", 0.0),
                                        o.value("nesterov", false));
  std::pair<double, double> betas{0.9, 0.999};
  if (o.contains("betas")) betas = {o["betas"][0].get<double>(), o["betas"][1].get<double>()};
  if (kind == "Adam")
    return std::make_unique<optim::Adam>(params, lr, betas, o.value("eps", 1e-8),
                                         o.value("weight_decay", 0.0), o.value("amsgrad", false));
  REQUIRE(kind == "AdamW");
  return std::make_unique<optim::AdamW>(params, lr, betas, o.value("eps", 1e-8),
                                        o.value("weight_decay", 1e-2), o.value("amsgrad", false));
}

}  // namespace

TEST_CASE("optimizer trajectories match PyTorch over 100 steps (f64, 1e-6 relative)", "[optim]") {
  const Json& fx = fixture();
  const Json& prob = fx["problem"];
  const Tensor X = tensor_of(prob["X"]), Y = tensor_of(prob["Y"]);
  REQUIRE(fx["runs"].size() >= 13);
  for (const auto& [name, run] : fx["runs"].items()) {
    SECTION(name) {
      Variable W(tensor_of(prob["W"]), true), b(tensor_of(prob["b"]), true),
          unused(tensor_of(prob["unused"]), true);
      W.set_name("W");
      b.set_name("b");
      unused.set_name("unused");
      const std::vector<Variable> params = {W, b, unused};
      const Json& options = run["options"];
      auto opt = make(run["optimizer"].get<std::string>(), options, params);
      std::size_t next = 0;
      const Json& records = run["records"];
      for (int step = 1; step <= fx["steps"].get<int>(); ++step) {
        opt->zero_grad();
        Variable loss = mean(square(linear(X, W, b) - Y));
        backward(loss);
        CHECK_FALSE(unused.grad().defined());  // not in the loss: skipped by every optimizer
        double norm = 0;
        if (options.contains("clip_norm"))
          norm = optim::clip_grad_norm(params, options["clip_norm"].get<double>());
        if (options.contains("clip_value"))
          optim::clip_grad_value(params, options["clip_value"].get<double>());
        opt->step();
        if (next < records.size() && records[next]["step"].get<int>() == step) {
          const Json& r = records[next++];
          INFO(name << " step " << step);
          CHECK(std::abs(loss.item() - r["loss"].get<double>()) <=
                1e-6 * std::abs(r["loss"].get<double>()));
          CHECK(max_rel_err(W.value(), tensor_of(r["W"])) < 1e-6);
          CHECK(max_rel_err(b.value(), tensor_of(r["b"])) < 1e-6);
          CHECK(max_rel_err(unused.value(), tensor_of(r["unused"])) == 0);
          if (r.contains("total_norm"))
            CHECK(std::abs(norm - r["total_norm"].get<double>()) <=
                  1e-6 * r["total_norm"].get<double>());
        }
      }
      CHECK(next == records.size());
    }
  }
}

TEST_CASE("SGD by hand: momentum, dampening, nesterov, weight decay", "[optim]") {
  Variable p(Tensor::from_values({2}, {1.0, -2.0}, DType::f64), true);
  optim::SGD opt({p}, 0.1, 0.9, 0.0, 0.5, true);
  // step 1: d = g + 0.5 p; buf = d; d = d + 0.9 buf; p -= 0.1 d
  p.set_grad(Variable(Tensor::from_values({2}, {0.5, 1.0}, DType::f64)));
  opt.step();
  const double d0 = 0.5 + 0.5 * 1.0, d1 = 1.0 + 0.5 * -2.0;
  const double p0 = 1.0 - 0.1 * (d0 + 0.9 * d0), p1 = -2.0 - 0.1 * (d1 + 0.9 * d1);
  CHECK(p.value().at({0}) == Approx(p0).epsilon(1e-15));
  CHECK(p.value().at({1}) == Approx(p1).epsilon(1e-15));
  // step 2: buf = 0.9 buf + d
  p.set_grad(Variable(Tensor::from_values({2}, {0.5, 1.0}, DType::f64)));
  opt.step();
  const double e0 = 0.5 + 0.5 * p0, b0 = 0.9 * d0 + e0;
  CHECK(p.value().at({0}) == Approx(p0 - 0.1 * (e0 + 0.9 * b0)).epsilon(1e-15));
  CHECK_THROWS_AS(optim::SGD({p}, 0.1, 0.0, 0.0, 0.0, true),
                  ValueError);  // nesterov needs momentum
}

TEST_CASE("optimizers never modify a gradient in place and do not record", "[optim]") {
  Variable a(Tensor::from_values({3}, {1, 2, 3}), true),
      b(Tensor::from_values({3}, {4, 5, 6}), true);
  const Variable shared(Tensor::from_values({3}, {0.1f, -0.2f, 0.3f}));
  a.set_grad(shared);
  b.set_grad(shared);  // one gradient tensor for two parameters
  const Tensor before = shared.value().clone();
  optim::SGD sgd({a, b}, 0.1, 0.9, 0, 0.1);
  optim::Adam adam({a, b}, 0.1, {0.9, 0.999}, 1e-8, 0.1);
  optim::AdamW adamw({a, b}, 0.1);
  tape().clear();
  for (int i = 0; i < 3; ++i) {
    sgd.step();
    adam.step();
    adamw.step();
  }
  CHECK(tape().size() == 0);
  CHECK(allclose(shared.value(), before, 0, 0));
  CHECK(a.grad().value().shares_storage(shared.value()));
  // Clipping replaces gradients instead of scaling them in place.
  const double norm = optim::clip_grad_norm({a, b}, 0.1);
  CHECK(norm == Approx(std::sqrt(2 * (0.01 + 0.04 + 0.09))).epsilon(1e-6));
  CHECK(allclose(shared.value(), before, 0, 0));
  CHECK_FALSE(a.grad().value().shares_storage(shared.value()));
  CHECK(a.grad().value().at({2}) == Approx(0.3 * 0.1 / (norm + 1e-6)).epsilon(1e-6));
  b.set_grad(shared);
  optim::clip_grad_value({b}, 0.15);
  CHECK(allclose(shared.value(), before, 0, 0));
  CHECK(b.grad().value().to_vector() == std::vector<double>{0.1f, -0.15f, 0.15f});
  // No clipping when the norm is below max_norm: the gradient is kept as it is.
  Variable c(Tensor::ones({2}), true);
  c.set_grad(Variable(Tensor::full({2}, 0.5)));
  const Tensor cg = c.grad().value();
  CHECK(optim::clip_grad_norm({c}, 10) == Approx(std::sqrt(0.5)));
  CHECK(c.grad().value().shares_storage(cg));
  // The infinity norm.
  c.set_grad(Variable(Tensor::from_values({2}, {-3, 2})));
  CHECK(optim::clip_grad_norm({c}, 1, std::numeric_limits<double>::infinity()) == 3);
  CHECK(c.grad().value().at({0}) == Approx(-3 / (3 + 1e-6)));
}

TEST_CASE("optimizer state round trip resumes exactly", "[optim]") {
  const auto run = [](optim::Optimizer& opt, Variable& p, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      backward(sum(square(p - 1.0) * p));
      opt.step();
    }
  };
  for (int kind = 0; kind < 3; ++kind) {
    const auto make_opt = [&](Variable& p) -> std::unique_ptr<optim::Optimizer> {
      if (kind == 0) return std::make_unique<optim::SGD>(std::vector<Variable>{p}, 0.05, 0.9);
      if (kind == 1)
        return std::make_unique<optim::Adam>(std::vector<Variable>{p}, 0.05, std::pair{0.9, 0.99},
                                             1e-8, 0, true);
      return std::make_unique<optim::AdamW>(std::vector<Variable>{p}, 0.05);
    };
    Variable a(Tensor::from_values({3}, {0.1, 0.5, 2.0}, DType::f64), true);
    auto oa = make_opt(a);
    run(*oa, a, 10);
    const auto state = oa->state_dict();
    const Tensor mid = a.value().clone();
    run(*oa, a, 10);

    Variable b(mid.clone(), true);
    auto ob = make_opt(b);
    ob->set_lr(1.0);
    ob->load_state_dict(state);
    CHECK(ob->lr() == 0.05);
    run(*ob, b, 10);
    INFO(oa->type_name());
    CHECK(allclose(a.value(), b.value(), 0, 0));
  }
  // Loading the state of another kind of optimizer fails.
  Variable p(Tensor::zeros({2}), true);
  optim::SGD sgd({p}, 0.1);
  optim::Adam adam({p});
  CHECK_THROWS_WITH(adam.load_state_dict(sgd.state_dict()), Catch::Contains("SGD optimizer"));
}

TEST_CASE("optimizer argument checks", "[optim]") {
  Variable p(Tensor::zeros({2}), true);
  CHECK_THROWS_AS(optim::SGD({}, 0.1), ValueError);
  CHECK_THROWS_AS(optim::SGD({p, p}, 0.1), ValueError);
  CHECK_THROWS_AS(optim::SGD({p}, -1), ValueError);
  CHECK_THROWS_AS(optim::Adam({p}, 1e-3, {1.0, 0.999}), ValueError);
  Variable q(Tensor::zeros({2}), true);
  Variable not_leaf = q * 2.0;
  CHECK_THROWS_WITH(optim::SGD({not_leaf}, 0.1), Catch::Contains("not a leaf"));
  // Keys: names when distinct, indices otherwise.
  p.set_name("w");
  q.set_name("w");
  CHECK(optim::SGD({p, q}, 0.1).param_key(1) == "1");
  q.set_name("v");
  CHECK(optim::SGD({p, q}, 0.1).param_key(1) == "v");
}
