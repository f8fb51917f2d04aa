// Tests for autograd/tape.cpp, the engine's semantics: accumulation and retain_graph, released
// tapes, grad mode, skipped work for inputs without gradients, a million-op chain without recursion
// (also on a 256 KiB stack), what nodes save, create_graph against closed-form second derivatives
// (Rosenbrock's Hessian), the shape check on gradients, anomaly mode, the functional grad(), the
// printout and DOT.
#include <pthread.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "tapegrad/autograd/engine.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace {

using Catch::Contains;
using tg::DType;
using tg::Tensor;
using tg::Variable;

Variable scalar(double v, bool requires_grad = false) {
  return {Tensor::scalar(v, DType::f64), requires_grad};
}
Variable vec(std::initializer_list<double> v, bool requires_grad = false) {
  return {Tensor::from_values({static_cast<std::int64_t>(v.size())}, v, DType::f64), requires_grad};
}
std::vector<double> grad_of(const Variable& v) { return v.grad().value().to_vector(); }

// Starts every test case from an empty tape in grad mode, whatever the previous one left.
struct Fresh {
  Fresh() { tg::tape().clear(); }
  ~Fresh() { tg::tape().clear(); }
  tg::GradModeGuard grad_on{true};
};

// --- accumulation, retain_graph, released tapes
// ----------------------------------------------------

TEST_CASE("gradients accumulate across backward calls with retain_graph", "[tape]") {
  Fresh fresh;
  const Variable x = vec({1, 2, 3}, true);
  const Variable y = tg::sum(x * x * 3.0);  // dy/dx = 6x
  tg::backward(y, {.retain_graph = true});
  CHECK(grad_of(x) == std::vector<double>{6, 12, 18});
  tg::backward(y);
  CHECK(grad_of(x) == std::vector<double>{12, 24, 36});
  CHECK(tg::tape().size() == 0);  // released by the second backward
}

TEST_CASE("backward through a released tape raises, naming the op", "[tape]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true);
  const Variable y = tg::sum(tg::exp(x));
  tg::backward(y);
  CHECK_THROWS_AS(tg::backward(y), tg::AutogradError);
  CHECK_THROWS_WITH(tg::backward(y), Contains("'sum'") && Contains("retain_graph"));

  // An intermediate from a released tape used in a new graph: the error names the op that made it.
  const Variable e = tg::exp(x);
  tg::backward(tg::sum(e));
  const Variable z = tg::sum(e * 2.0);
  CHECK_THROWS_WITH(tg::backward(z), Contains("'exp'") && Contains("released"));
}

TEST_CASE("grad() w.r.t. an intermediate of a released tape raises like backward", "[tape]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true);
  const Variable e = tg::exp(x);
  tg::backward(tg::sum(e));  // releases the tape that recorded e
  const Variable y = tg::sum(x * 2.0);
  CHECK_THROWS_AS(tg::grad({y}, {e}), tg::AutogradError);
  CHECK_THROWS_WITH(tg::grad({tg::sum(x * 2.0)}, {e}),
                    Contains("inputs[0]") && Contains("'exp'") && Contains("earlier backward"));
}

TEST_CASE("after tape().clear() the errors say the tape was cleared", "[tape]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true);
  const Variable y = tg::sum(tg::exp(x));
  tg::tape().clear();
  CHECK_THROWS_WITH(tg::backward(y), Contains("'sum'") && Contains("tape().clear()") &&
                                         !Contains("earlier backward"));
  const Variable e = tg::exp(x);
  tg::tape().clear();
  CHECK_THROWS_WITH(tg::backward(tg::sum(e * 2.0)),
                    Contains("'exp'") && Contains("tape().clear()"));
  CHECK_THROWS_WITH(tg::grad({tg::sum(x * 2.0)}, {e}),
                    Contains("'exp'") && Contains("tape().clear()"));
  // A backward after the clears: its own release is reported as a backward again.
  const Variable z = tg::sum(x * 3.0);
  tg::backward(z);
  CHECK_THROWS_WITH(tg::backward(z), Contains("earlier backward"));
  CHECK_THROWS_WITH(tg::backward(y), Contains("tape().clear()"));  // still told apart
}

TEST_CASE("a leaf used twice accumulates, zero_grad resets, detach stops gradients", "[tape]") {
  Fresh fresh;
  Variable x = vec({1.5, -2}, true);
  tg::backward(tg::sum(x * x));
  CHECK(grad_of(x) == std::vector<double>{3, -4});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  tg::backward(tg::sum(x + x));
  CHECK(grad_of(x) == std::vector<double>{2, 2});  // fresh, not added to the 2x from before
  x.zero_grad();

  const Variable d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.value().shares_storage(x.value()));
  tg::backward(tg::sum(d * x));  // only the second factor carries a gradient
  CHECK(grad_of(x) == std::vector<double>{1.5, -2});
}

TEST_CASE("gradients shared between leaves stay separate when one accumulates again", "[tape]") {
  Fresh fresh;
  const Variable a = vec({1, 2}, true), b = vec({3, 4}, true);
  tg::backward(tg::sum(a + b));  // both receive the same incoming gradient
  tg::backward(tg::sum(a * 5.0));
  CHECK(grad_of(a) == std::vector<double>{6, 6});
  CHECK(grad_of(b) == std::vector<double>{1, 1});
}

TEST_CASE("backward of a leaf gives its seed, only leaves can drop requires_grad", "[tape]") {
  Fresh fresh;
  const Variable x = scalar(2.0, true);
  tg::backward(x);
  CHECK(x.grad().item() == 1.0);
  Variable y = tg::exp(x);
  CHECK_FALSE(y.is_leaf());
  CHECK(std::string(y.op()) == "exp");
  CHECK_THROWS_WITH(y.set_requires_grad(false), Contains("'exp'") && Contains("detach"));
  CHECK_FALSE(y.detach().requires_grad());
}

// --- grad mode and skipped work ----------------------------------------------------------------

TEST_CASE("nothing is recorded under NoGradGuard", "[tape][grad mode]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true);
  {
    tg::NoGradGuard no_grad;
    CHECK_FALSE(tg::grad_mode_enabled());
    const Variable y = tg::sum(tg::exp(x) * x);
    CHECK(tg::tape().size() == 0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK_THROWS_AS(tg::backward(y), tg::AutogradError);
    {
      tg::GradModeGuard on(true);
      CHECK(tg::sum(x).requires_grad());
      CHECK(tg::tape().size() == 1);
    }
    CHECK_FALSE(tg::grad_mode_enabled());
  }
  CHECK(tg::grad_mode_enabled());
  // Ops on constants only are not recorded either.
  tg::tape().clear();
  const Variable c = vec({1, 2});
  CHECK_FALSE(tg::exp(c * 2.0).requires_grad());
  CHECK(tg::tape().size() == 0);
}

TEST_CASE("inputs that need no gradient get none, and their backward work is skipped", "[tape]") {
  Fresh fresh;
  // A two-input op that counts the backward work done for each input.
  int work[2] = {0, 0};
  auto probe = [&work](const Variable& a, const Variable& b) {
    return tg::record("probe", {a, b}, tg::mul(a.value(), b.value()), tg::save(a, b),
                      [&work](tg::Grad& g) {
                        if (g.needs(0)) {
                          ++work[0];
                          g.accumulate(0, g.out() * g.saved(1));
                        }
                        if (g.needs(1)) {
                          ++work[1];
                          g.accumulate(1, g.out() * g.saved(0));
                        }
                      });
  };
  const Variable w = vec({2, 3}, true);
  const Variable x = vec({5, 7});  // data: no gradient
  const Variable h = tg::exp(x);   // built from data only: not recorded
  CHECK(tg::tape().size() == 0);
  tg::backward(tg::sum(probe(w, h)));
  CHECK(work[0] == 1);
  CHECK(work[1] == 0);
  CHECK(grad_of(w) == h.value().to_vector());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(h.grad().defined());

  // The same through the real ops: mul's backward for the constant side is never computed.
  const Variable y = tg::sum(w * x);
  CHECK(tg::tape().node(0).edges[1].needs_grad() == false);
  tg::backward(y);
  CHECK_FALSE(x.grad().defined());
}

// --- deep graphs -------------------------------------------------------------------------------

constexpr int kChain = 1'000'000;

struct ChainResult {
  std::size_t tape_size = 0;
  std::size_t max_saved_bytes = 0;
  double grad = 0;
  std::string error;
};

// x_{k+1} = x_k * c (or x_k + c), a chain of n nodes from a scalar leaf: dx_n/dx_0 = c^n (or 1).
ChainResult run_chain(int n, double c, bool multiply) {
  ChainResult r;
  try {
    tg::tape().clear();
    const Variable x0 = scalar(1.0, true), cv = scalar(c);
    Variable x = x0;
    for (int i = 0; i < n; ++i) x = multiply ? x * cv : x + cv;
    r.tape_size = tg::tape().size();
    for (std::size_t i = 0; i < r.tape_size; ++i)
      r.max_saved_bytes = std::max(r.max_saved_bytes, tg::tape().node(i).saved_bytes());
    tg::backward(x);
    r.grad = x0.grad().item();
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

TEST_CASE("a chain of a million ops: backward is a loop, memory is linear", "[tape][deep]") {
  Fresh fresh;
  const double c = 1.0000001;
  const ChainResult r = run_chain(kChain, c, /*multiply=*/true);
  REQUIRE(r.error.empty());
  CHECK(r.tape_size == static_cast<std::size_t>(kChain));  // one node an op, nothing else
  CHECK(r.max_saved_bytes <= 2 * sizeof(double));          // each node saves two scalars at most
  CHECK(r.grad == Approx(std::pow(c, kChain)).epsilon(1e-8));
  CHECK(tg::tape().size() == 0);
}

TEST_CASE("a chain of a million ops runs backward on a 256 KiB stack", "[tape][deep]") {
  // The tape is per thread, so the whole chain is built and differentiated in the small thread.
  // x + c saves nothing, so only the nodes stay alive: the cheaper chain of the two.
  struct Job {
    ChainResult result;
    static void* run(void* self) {
      static_cast<Job*>(self)->result = run_chain(kChain, 0.5, /*multiply=*/false);
      tg::tape().clear();
      return nullptr;
    }
  } job;
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, 256 * 1024) == 0);
  pthread_t thread;
  REQUIRE(pthread_create(&thread, &attr, &Job::run, &job) == 0);
  REQUIRE(pthread_join(thread, nullptr) == 0);
  pthread_attr_destroy(&attr);
  REQUIRE(job.result.error.empty());
  CHECK(job.result.tape_size == static_cast<std::size_t>(kChain));
  CHECK(job.result.max_saved_bytes == 0);
  CHECK(job.result.grad == 1.0);
}

TEST_CASE("nodes save only what their backward needs", "[tape]") {
  Fresh fresh;
  const Variable x(Tensor::ones({10, 10}, DType::f64), true);  // 800 bytes
  const Variable w(Tensor::ones({10, 10}, DType::f64), true);
  struct Expect {
    Variable (*op)(const Variable&, const Variable&);
    const char* name;
    std::size_t bytes;
  };
  for (const auto& e :
       {Expect{[](const Variable&a, const Variable&b) { return a + b; }, "add", 0},
        Expect{[](const Variable&a, const Variable&) { return -a; }, "neg", 0},
        Expect{[](const Variable&a, const Variable&) { return tg::sum(a); }, "sum", 0},
        Expect{[](const Variable&a, const Variable&) { return tg::exp(a); }, "exp", 800},
        Expect{[](const Variable&a, const Variable&) { return tg::sigmoid(a); }, "sigmoid", 800},
        Expect{[](const Variable&a, const Variable&) { return tg::relu(a); }, "relu", 800},
        Expect{[](const Variable&a, const Variable&b) { return a * b; }, "mul", 1600},
        Expect{[](const Variable&a, const Variable&b) { return tg::matmul(a, b); }, "matmul",
               1600}}) {
    INFO(e.name);
    tg::tape().clear();
    e.op(x, w);
    REQUIRE(tg::tape().size() == 1);
    CHECK(std::string(tg::tape().node(0).op) == e.name);
    CHECK(tg::tape().node(0).saved_bytes() == e.bytes);
  }
}

// --- create_graph: second derivatives against closed forms
// ------------------------------------------

// Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 and its Hessian
//   [[2 - 400 (y - x^2) + 800 x^2, -400 x], [-400 x, 200]].
Variable rosenbrock(const Variable& x, const Variable& y) {
  return tg::square(1.0 - x) + 100.0 * tg::square(y - tg::square(x));
}
std::array<double, 2> hessian_times(double x, double y, double v0, double v1) {
  const double hxx = 2 - 400 * (y - x * x) + 800 * x * x, hxy = -400 * x, hyy = 200;
  return {hxx * v0 + hxy * v1, hxy * v0 + hyy * v1};
}

TEST_CASE("create_graph: Rosenbrock Hessian-vector products match the closed form",
          "[tape][create_graph]") {
  Fresh fresh;
  const std::array<std::array<double, 4>, 4> cases = {
      {{1, 1, 1, 0}, {-1.2, 1, 0.3, -0.7}, {0.5, -0.3, 1, 1}, {2, 3, -2, 0.5}}};
  for (const auto& [px, py, v0, v1] : cases) {
    INFO("at (" << px << ", " << py << "), v = (" << v0 << ", " << v1 << ")");
    Variable x = scalar(px, true), y = scalar(py, true);
    // First derivatives, recorded: df/dx and df/dy are themselves variables on the tape.
    const auto g = tg::grad({rosenbrock(x, y)}, {x, y}, {}, {.create_graph = true});
    CHECK(g[0].item() == Approx(-2 * (1 - px) - 400 * px * (py - px * px)));
    CHECK(g[1].item() == Approx(200 * (py - px * px)));
    // H v = d/d(x, y) of (grad f . v).
    const Variable gv = g[0] * v0 + g[1] * v1;
    const auto hv = tg::grad({gv}, {x, y});
    const auto want = hessian_times(px, py, v0, v1);
    CHECK(hv[0].item() == Approx(want[0]).epsilon(1e-12));
    CHECK(hv[1].item() == Approx(want[1]).epsilon(1e-12));
    tg::tape().clear();

    // The same through backward() and .grad, as PyTorch users write it.
    tg::backward(rosenbrock(x, y), {.create_graph = true});
    const Variable gv2 = x.grad() * v0 + y.grad() * v1;
    x.zero_grad();
    y.zero_grad();
    tg::backward(gv2);
    CHECK(x.grad().item() == Approx(want[0]).epsilon(1e-12));
    CHECK(y.grad().item() == Approx(want[1]).epsilon(1e-12));
    x.zero_grad();
    y.zero_grad();
    tg::tape().clear();
  }
}

TEST_CASE("create_graph: second and third derivatives of x^3 and x e^x", "[tape][create_graph]") {
  Fresh fresh;
  for (double px : {-1.5, 0.5, 2.0}) {
    INFO("x = " << px);
    const Variable x = scalar(px, true);
    // x^3 two ways: d2/dx2 = 6x, d3/dx3 = 6.
    for (auto cube : {+[](const Variable& v) { return tg::pow(v, 3.0); },
                      +[](const Variable& v) { return v * v * v; }}) {
      const auto d1 = tg::grad({cube(x)}, {x}, {}, {.create_graph = true});
      CHECK(d1[0].item() == Approx(3 * px * px));
      const auto d2 = tg::grad({d1[0]}, {x}, {}, {.create_graph = true});
      CHECK(d2[0].item() == Approx(6 * px));
      const auto d3 = tg::grad({d2[0]}, {x});
      CHECK(d3[0].item() == Approx(6));
      tg::tape().clear();
    }
    // x e^x: d/dx = (x + 1) e^x, d2/dx2 = (x + 2) e^x.
    const auto d1 = tg::grad({tg::exp(x) * x}, {x}, {}, {.create_graph = true});
    CHECK(d1[0].item() == Approx((px + 1) * std::exp(px)));
    const auto d2 = tg::grad({d1[0]}, {x});
    CHECK(d2[0].item() == Approx((px + 2) * std::exp(px)));
    tg::tape().clear();
  }
}

TEST_CASE("without create_graph, backward records nothing", "[tape][create_graph]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true);
  const Variable y = tg::sum(tg::exp(x) * x);
  const std::size_t n = tg::tape().size();
  const auto g = tg::grad({y}, {x}, {}, {.retain_graph = true});
  CHECK(tg::tape().size() == n);
  CHECK_FALSE(g[0].requires_grad());
}

// --- the engine's checks
// ---------------------------------------------------------------------------

TEST_CASE("a gradient of the wrong shape or dtype raises, naming the op and both shapes",
          "[tape][errors]") {
  Fresh fresh;
  const Variable x(Tensor::ones({2, 3}, DType::f64), true);
  const Variable y = tg::record("bad_shape_op", {x}, x.value().clone(), {}, [](tg::Grad& g) {
    g.accumulate(0, Variable(Tensor::ones({5}, DType::f64)));  // should be (2, 3)
  });
  CHECK_THROWS_AS(tg::backward(tg::sum(y)), tg::AutogradError);
  tg::tape().clear();
  const Variable y2 = tg::record("bad_shape_op", {x}, x.value().clone(), {}, [](tg::Grad& g) {
    g.accumulate(0, Variable(Tensor::ones({5}, DType::f64)));
  });
  CHECK_THROWS_WITH(tg::backward(tg::sum(y2)),
                    Contains("bad_shape_op") && Contains("(5,)") && Contains("(2, 3)"));
  tg::tape().clear();
  const Variable y3 = tg::record("bad_dtype_op", {x}, x.value().clone(), {}, [](tg::Grad& g) {
    g.accumulate(0, Variable(Tensor::ones({2, 3}, DType::f32)));
  });
  CHECK_THROWS_WITH(tg::backward(tg::sum(y3)),
                    Contains("bad_dtype_op") && Contains("f32") && Contains("f64"));
}

TEST_CASE("backward checks its root and seed", "[tape][errors]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true);
  CHECK_THROWS_WITH(tg::backward(tg::exp(x)), Contains("one-element"));  // no implied seed for (2,)
  CHECK_THROWS_WITH(tg::backward(tg::exp(x), vec({1, 1, 1})), Contains("(3,)") && Contains("(2,)"));
  CHECK_THROWS_AS(tg::backward(Variable()), tg::AutogradError);
  // An explicit seed: the vector-Jacobian product.
  tg::backward(tg::exp(x), vec({1, 10}));
  const auto gx = grad_of(x);
  CHECK(gx[0] == Approx(std::exp(1.0)));
  CHECK(gx[1] == Approx(10 * std::exp(2.0)));
}

TEST_CASE("anomaly mode names the op that made a NaN or Inf", "[tape][anomaly]") {
  Fresh fresh;
  const Variable zero = vec({0, 1}, true);
  {
    tg::AnomalyModeGuard anomaly;
    // Forward: log(0) = -inf.
    CHECK_THROWS_AS(tg::log(zero), tg::AutogradError);
    CHECK_THROWS_WITH(tg::log(zero), Contains("'log'"));
    // Backward: sqrt is finite at 0, its gradient 1 / (2 sqrt(x)) is not.
    const Variable s = tg::sum(tg::sqrt(zero));
    CHECK_THROWS_WITH(tg::backward(s, {.retain_graph = true}),
                      Contains("'sqrt'") && Contains("gradient"));
  }
  // Outside anomaly mode the same computations go through and leave the Inf for the caller.
  tg::tape().clear();
  CHECK(std::isinf(tg::log(zero).value().to_vector()[0]));
  tg::backward(tg::sum(tg::sqrt(zero)));
  CHECK(std::isinf(grad_of(zero)[0]));
}

// --- the functional grad()
// -------------------------------------------------------------------------

TEST_CASE("grad() returns gradients without touching .grad", "[tape][grad]") {
  Fresh fresh;
  const Variable x = vec({1, 2}, true), unused = vec({5}, true);
  Variable y = vec({3, 4}, true);
  y.set_grad(vec({100, 100}));
  const Variable h = x * y;
  const Variable f = tg::sum(h * h);  // d/dx = 2 x y^2, d/dy = 2 x^2 y, d/dh = 2 h
  const auto g = tg::grad({f}, {x, y, unused, h});
  CHECK(g[0].value().to_vector() == std::vector<double>{18, 64});
  CHECK(g[1].value().to_vector() == std::vector<double>{6, 32});
  CHECK_FALSE(g[2].defined());  // the output does not depend on it
  CHECK(g[3].value().to_vector() == std::vector<double>{6, 16});
  CHECK_FALSE(x.grad().defined());
  CHECK(grad_of(y) == std::vector<double>{100, 100});
  CHECK(tg::tape().size() == 0);  // released, as backward would
  CHECK_THROWS_AS(tg::grad({tg::sum(x)}, {vec({1})}), tg::AutogradError);  // input needs no grad
}

// --- inspection ----------------------------------------------------------------------------------

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_CASE("the tape prints one line a node and exports DOT", "[tape][print]") {
  Fresh fresh;
  Variable x(Tensor::ones({4, 3}, DType::f64));
  Variable w(Tensor::ones({2, 3}, DType::f64), true);
  Variable b(Tensor::ones({2}, DType::f64), true);
  w.set_name("W");
  b.set_name("b");
  const Variable loss = tg::sum(tg::softplus(tg::linear(x, w, b)));
  REQUIRE(tg::tape().size() == 3);

  const std::string text = tg::tape().to_string();
  std::ostringstream printed;
  tg::tape().print(printed);
  CHECK(printed.str() == text);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0], Contains("#0") && Contains("linear") && Contains("const(4, 3)") &&
                           Contains("W(2, 3)") && Contains("b(2,)") && Contains("-> (4, 2)"));
  CHECK_THAT(lines[1], Contains("#1") && Contains("softplus") && Contains("#0(4, 2)") &&
                           Contains("-> (4, 2)"));
  CHECK_THAT(lines[2],
             Contains("#2") && Contains("sum") && Contains("-> ()") && Contains("saved 0 B"));
  CHECK_THAT(lines[0], Contains("saved 144 B"));  // x and W: linear's backward needs both, not b

  const std::string dot = tg::tape().to_dot();
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.back() == '\n');
  CHECK_THAT(dot, Contains("}"));
  std::size_t edges = 0;
  for (std::size_t p = dot.find("->"); p != std::string::npos; p = dot.find("->", p + 2)) ++edges;
  CHECK(edges == 5);  // x, W, b -> linear -> softplus -> sum
  CHECK_THAT(dot, Contains("n0 -> n1;") && Contains("n1 -> n2;") && Contains("W\\n(2, 3)") &&
                      Contains("linear"));
  // linear has three inputs: its edges say which slot each feeds.
  CHECK_THAT(dot, Contains("c0_0 -> n0 [label=\"0\"]") && Contains("leaf0 -> n0 [label=\"1\"]") &&
                      Contains("leaf1 -> n0 [label=\"2\"]"));
  // A one-element constant shows its value.
  const Variable scaled = loss * 0.25;
  CHECK_THAT(tg::tape().to_dot(), Contains("label=\"0.25\\n()\"") && Contains("[label=\"1\"]"));
  tg::backward(loss);
  CHECK(tg::tape().to_string().empty());
}

// --- hooks, retain_grad, the step-through engine -----------------------------------------------

TEST_CASE("retain_grad keeps an intermediate's gradient; hooks see and may replace gradients",
          "[tape][hooks]") {
  Fresh fresh;
  const Variable x = vec({1, 2, 3}, true);
  Variable h = x * x;  // dh/dx = 2x
  h.retain_grad();
  std::vector<double> seen;
  h.register_hook([&](const Variable& g) {
    seen = g.value().to_vector();
    return Variable();  // keep it
  });
  const Variable y = tg::sum(h * 3.0);
  tg::backward(y);
  CHECK(seen == std::vector<double>{3, 3, 3});
  CHECK(grad_of(h) == std::vector<double>{3, 3, 3});  // like a leaf's
  CHECK(grad_of(x) == std::vector<double>{6, 12, 18});

  // A hook that doubles the gradient flowing on, on an intermediate and on a leaf.
  Variable a = vec({1, 2}, true);
  a.register_hook([](const Variable& g) { return g * 10.0; });  // runs once, on the total
  Variable e = a * a + a;
  e.register_hook([](const Variable& g) { return g * 2.0; });
  tg::backward(tg::sum(e));
  CHECK(grad_of(a) == std::vector<double>{60, 100});  // 10 * 2 * (2a + 1)
  CHECK_FALSE(e.grad().defined());                    // not retained

  // grad() runs hooks too, and leaves .grad alone.
  Variable b = vec({1, 2}, true);
  int calls = 0;
  b.register_hook([&](const Variable&) {
    ++calls;
    return Variable();
  });
  const auto g = tg::grad({tg::sum(b * b)}, {b});
  CHECK(calls == 1);
  CHECK(g[0].value().to_vector() == std::vector<double>{2, 4});
  CHECK_FALSE(b.grad().defined());
  Variable c = vec({1});
  CHECK_THROWS_WITH(c.register_hook([](const Variable& v) { return v; }),
                    Contains("does not require a gradient"));
}

TEST_CASE("BackwardPass: seed, step, deliver, one node at a time", "[tape][step]") {
  Fresh fresh;
  Variable x = vec({1, 2}, true);
  x.set_name("x");
  const Variable y = tg::sum(tg::exp(x) * 2.0);  // nodes: exp #0, mul #1, sum #2
  tg::BackwardPass pass({y}, {scalar(1.0)});
  CHECK(pass.next() == 2);
  std::vector<std::string> ops;
  std::vector<std::vector<double>> incoming;
  while (!pass.done()) {
    const auto& s = pass.step();
    ops.push_back(s.op);
    incoming.push_back(s.grad_out.value().to_vector());
  }
  CHECK(ops == std::vector<std::string>{"sum", "mul", "exp"});
  CHECK(incoming[0] == std::vector<double>{1});
  CHECK(incoming[1] == std::vector<double>{1, 1});
  CHECK(incoming[2] == std::vector<double>{2, 2});
  CHECK_FALSE(x.grad().defined());  // nothing reaches .grad before deliver
  CHECK(tg::tape().size() == 3);
  pass.deliver();
  CHECK(grad_of(x)[0] == Approx(2 * std::exp(1.0)));
  CHECK(grad_of(x)[1] == Approx(2 * std::exp(2.0)));
  CHECK(tg::tape().size() == 0);  // released, as backward would
  CHECK_THROWS_AS(pass.step(), tg::AutogradError);
  CHECK_THROWS_AS(pass.deliver(), tg::AutogradError);
}

}  // namespace
