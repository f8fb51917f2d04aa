#include <catch2/catch.hpp>
#include <string>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/nn/layers.hpp"
#include "tapegrad/nn/module.hpp"

using namespace tg;

namespace {

struct Encoder : nn::Module {
  Encoder() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(4, 3));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(3, 2));
  }
  Variable forward(const Variable& x) override { return fc2->forward(relu(fc1->forward(x))); }
  std::string type_name() const override { return "Encoder"; }
  std::shared_ptr<nn::Linear> fc1, fc2;
};

// Own parameters registered after a submodule still come first (PyTorch's order).
struct Model : nn::Module {
  Model() {
    encoder = register_module("encoder", std::make_shared<Encoder>());
    scale = register_parameter("scale", Tensor::ones({2}));
    head = register_module(
        "head", std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
                    std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::Dropout>(0.5)}));
  }
  Variable forward(const Variable& x) override {
    return head->forward(encoder->forward(x) * scale);
  }
  std::shared_ptr<Encoder> encoder;
  Variable scale;
  std::shared_ptr<nn::Sequential> head;
};

std::vector<std::string> names(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, _] : m.named_parameters()) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("parameters have dotted names in registration order", "[module]") {
  Model m;
  const std::vector<std::string> expected = {"scale",
                                             "encoder.fc1.weight",
                                             "encoder.fc1.bias",
                                             "encoder.fc2.weight",
                                             "encoder.fc2.bias",
                                             "head.0.weight",
                                             "head.0.bias"};
  CHECK(names(m) == expected);
  // The Variables carry their full names too (shown by the tape printout).
  for (const auto& [name, p] : m.named_parameters()) {
    CHECK(p.name() == name);
    CHECK(p.requires_grad());
    CHECK(p.is_leaf());
  }
  CHECK(m.parameters().size() == 7);
  CHECK(m.num_parameters() == 2 + 12 + 3 + 6 + 2 + 4 + 2);
  // Handles are shared: the module's members are the registered parameters.
  CHECK(m.parameters()[1].same(m.encoder->fc1->weight));

  std::vector<std::string> modules;
  for (const auto& [name, _] : m.named_modules()) modules.push_back(name);
  CHECK(modules == std::vector<std::string>{"encoder", "encoder.fc1", "encoder.fc2", "head",
                                            "head.0", "head.1"});
}

TEST_CASE("the tape printout shows parameter names", "[module]") {
  Encoder e;
  tape().clear();
  Variable y = sum(e.forward(Tensor::ones({5, 4})));
  const std::string dot = tape().to_dot();
  const std::string text = tape().to_string();
  CHECK((dot.find("fc1.weight") != std::string::npos ||
         text.find("fc1.weight") != std::string::npos));
  backward(y);
}

TEST_CASE("registering bad names fails", "[module]") {
  struct Bad : nn::Module {
    void add(const std::string& n) { register_parameter(n, Tensor::zeros({1})); }
    void add_module(const std::string& n) { register_module(n, std::make_shared<nn::Identity>()); }
  } b;
  b.add("w");
  CHECK_THROWS_AS(b.add("w"), ValueError);
  CHECK_THROWS_AS(b.add("a.b"), ValueError);
  CHECK_THROWS_AS(b.add(""), ValueError);
  CHECK_THROWS_AS(b.add_module("w"), ValueError);
}

TEST_CASE("forward of a module without one throws", "[module]") {
  struct NoForward : nn::Module {
    std::string type_name() const override { return "NoForward"; }
  } m;
  CHECK_THROWS_WITH(m.forward(Tensor::zeros({1})), Catch::Contains("NoForward::forward"));
}

TEST_CASE("train and eval propagate to every submodule", "[module]") {
  Model m;
  CHECK(m.is_training());
  m.eval();
  CHECK_FALSE(m.is_training());
  for (const auto& [_, sub] : m.named_modules()) CHECK_FALSE(sub->is_training());
  m.train();
  for (const auto& [_, sub] : m.named_modules()) CHECK(sub->is_training());
  m.train(false);
  CHECK_FALSE(m.head->is_training());
}

TEST_CASE("zero_grad clears every gradient", "[module]") {
  Model m;
  m.eval();
  backward(sum(m.forward(Tensor::ones({3, 4}))));
  for (const auto& p : m.parameters()) CHECK(p.grad().defined());
  m.zero_grad();
  for (const auto& p : m.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("state dict round trip", "[module]") {
  Model a, b;
  const nn::StateDict sd = a.state_dict();
  CHECK(sd.size() == 7);
  CHECK(sd.items()[1].first == "encoder.fc1.weight");
  CHECK(sd.at("encoder.fc1.weight").shares_storage(a.encoder->fc1->weight.value()));
  CHECK_FALSE(allclose(a.encoder->fc1->weight.value(), b.encoder->fc1->weight.value()));
  const Tensor storage_before = b.encoder->fc1->weight.value();
  b.load_state_dict(sd);
  for (const auto& [name, t] : a.state_dict()) CHECK(allclose(b.state_dict().at(name), t, 0, 0));
  // Values are copied into the existing storage, so handles held elsewhere (an optimizer) stay
  // valid.
  CHECK(b.encoder->fc1->weight.value().shares_storage(storage_before));
  CHECK_FALSE(b.encoder->fc1->weight.value().shares_storage(a.encoder->fc1->weight.value()));
}

TEST_CASE("strict load lists every problem with names and shapes", "[module]") {
  struct Net : nn::Module {
    Net(std::int64_t hidden, bool bias2) {
      register_module("fc1", std::make_shared<nn::Linear>(784, hidden));
      register_module("fc2", std::make_shared<nn::Linear>(hidden, 10, bias2));
    }
  };
  Net file(400, false), model(300, true);
  std::vector<std::pair<std::string, Tensor>> items = file.state_dict().items();
  items.emplace_back("extra.weight", Tensor::zeros({2}));
  const nn::StateDict sd(items);
  try {
    model.load_state_dict(sd);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("load_state_dict: 5 problems") != std::string::npos);
    CHECK(msg.find("'fc1.weight' has shape (400, 784) in the file but (300, 784) in the model") !=
          std::string::npos);
    CHECK(msg.find("'fc1.bias' has shape (400,) in the file but (300,) in the model") !=
          std::string::npos);
    CHECK(msg.find("'fc2.weight' has shape (10, 400)") != std::string::npos);
    CHECK(msg.find("missing 'fc2.bias'") != std::string::npos);
    CHECK(msg.find("unexpected 'extra.weight'") != std::string::npos);
  }
  // Nothing was changed by the failed load.
  CHECK(model.state_dict().at("fc1.weight").shape() == Shape{300, 784});

  // Non-strict: missing and unexpected keys are fine, a shape mismatch is still an error.
  Net same(300, false);
  model.load_state_dict(same.state_dict(), /*strict=*/false);
  CHECK(allclose(model.state_dict().at("fc1.weight"), same.state_dict().at("fc1.weight"), 0, 0));
  CHECK_THROWS_AS(model.load_state_dict(file.state_dict(), false), Error);

  // A dtype mismatch is reported too.
  Net f64(300, true);
  f64.to(DType::f64);
  CHECK_THROWS_WITH(model.load_state_dict(f64.state_dict()),
                    Catch::Contains("'fc1.weight' has dtype f64 in the file but f32 in the model"));
}

TEST_CASE("to(dtype) converts every parameter in place", "[module]") {
  Encoder e;
  const Variable w = e.fc1->weight;  // a handle taken before, like an optimizer's
  const Tensor before = w.value().clone();
  e.to(DType::f64);
  for (const auto& p : e.parameters()) CHECK(p.dtype() == DType::f64);
  CHECK(w.dtype() == DType::f64);
  CHECK(allclose(w.value(), before.to(DType::f64), 0, 0));
  Variable y = e.forward(Tensor::ones({2, 4}, DType::f64));
  CHECK(y.dtype() == DType::f64);
}

TEST_CASE("to_string prints the module tree like PyTorch", "[module]") {
  nn::Sequential s;
  s.push_back(std::make_shared<nn::Linear>(2, 3));
  s.push_back(std::make_shared<nn::ReLU>());
  s.push_back(std::make_shared<nn::Linear>(3, 1, false));
  CHECK(s.to_string() ==
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=3, out_features=1, bias=False)\n"
        ")");
}
