#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "support.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/layers.hpp"
#include "tapegrad/nn/optim.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

using namespace tg;
namespace fs = std::filesystem;

namespace {

using tgtest::bitwise_equal;
using tgtest::TempDir;
using tgtest::write_bytes;

struct Mlp : nn::Module {
  explicit Mlp(std::int64_t hidden, std::uint64_t seed) {
    Generator gen(seed);
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(1, hidden, true, DType::f32, &gen));
    fc2 = register_module("fc2",
                          std::make_shared<nn::Linear>(hidden, hidden, true, DType::f32, &gen));
    out = register_module("out", std::make_shared<nn::Linear>(hidden, 1, true, DType::f32, &gen));
  }
  Variable forward(const Variable& x) override {
    return out->forward(tanh(fc2->forward(tanh(fc1->forward(x)))));
  }
  std::shared_ptr<nn::Linear> fc1, fc2, out;
};

// y = sin(x) on 64 points of [-3, 3].
struct Data {
  Tensor x, y;
  Data() {
    std::vector<double> xs, ys;
    for (int i = 0; i < 64; ++i) {
      xs.push_back(-3 + 6.0 * i / 63);
      ys.push_back(std::sin(xs.back()));
    }
    x = Tensor::from_values({64, 1}, xs);
    y = Tensor::from_values({64, 1}, ys);
  }
};

double train(Mlp& model, optim::Optimizer& opt, const Data& d, int steps) {
  double loss_value = 0;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Variable loss = mse_loss(model.forward(d.x), d.y);
    backward(loss);
    opt.step();
    loss_value = loss.item();
  }
  return loss_value;
}

}  // namespace

TEST_CASE("a run resumed from a checkpoint is bitwise equal to an uninterrupted one",
          "[checkpoint]") {
  constexpr int N = 40;
  const Data data;
  TempDir dir("checkpoint");
  const std::string path = dir / "run.safetensors";

  Mlp straight(16, 7);
  optim::Adam straight_opt(straight.parameters(), 1e-2);
  const double first_loss = train(straight, straight_opt, data, 1);
  const double final_loss = train(straight, straight_opt, data, N - 1);
  CHECK(final_loss < first_loss);

  Mlp first(16, 7);
  optim::Adam first_opt(first.parameters(), 1e-2);
  train(first, first_opt, data, N / 2);
  save_checkpoint(path, first, &first_opt,
                  {{"epoch", "1"}, {"step", std::to_string(N / 2)}, {"hidden", "16"}});

  Mlp resumed(16, 99);  // other initial values: everything must come from the file
  optim::Adam resumed_opt(resumed.parameters(), 0.5);
  const nn::Metadata meta = load_checkpoint(path, resumed, &resumed_opt);
  CHECK(meta == nn::Metadata{{"epoch", "1"}, {"step", "20"}, {"hidden", "16"}});
  CHECK(resumed_opt.lr() == 1e-2);
  train(resumed, resumed_opt, data, N - N / 2);

  const auto a = straight.state_dict(), b = resumed.state_dict();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a.items()[i].first);
    CHECK(bitwise_equal(a.items()[i].second, b.items()[i].second));
  }
  const auto sa = straight_opt.state_dict(), sb = resumed_opt.state_dict();
  CHECK(sa.scalars == sb.scalars);
  for (std::size_t i = 0; i < sa.tensors.size(); ++i)
    CHECK(bitwise_equal(sa.tensors[i].second, sb.tensors[i].second));
}

TEST_CASE("the checkpoint's layout: parameters, optimizer buffers, step counts", "[checkpoint]") {
  TempDir dir("checkpoint");
  const std::string path = dir / "c.safetensors";
  Mlp m(4, 1);
  optim::Adam opt(m.parameters());
  train(m, opt, Data{}, 3);
  save_checkpoint(path, m, &opt, {{"config", "mlp-4"}});
  const nn::SafetensorsFile f = nn::load_safetensors(path);
  std::vector<std::string> names;
  for (const auto& [n, _] : f.tensors) names.push_back(n);
  CHECK(names.size() == 6 + 12);
  CHECK(names[0] == "fc1.weight");
  CHECK(names[6] == "optim.state.fc1.weight.exp_avg");
  CHECK(names[7] == "optim.state.fc1.weight.exp_avg_sq");
  CHECK(f.metadata.at("optim.type") == "Adam");
  CHECK(f.metadata.at("optim.fc1.weight.step") == "3");
  CHECK(f.metadata.at("optim.lr") == "0.001");
  CHECK(f.metadata.at("config") == "mlp-4");

  // Parameters only.
  save_checkpoint(path, m);
  CHECK(nn::load_safetensors(path).tensors.size() == 6);
  Mlp other(4, 2);
  CHECK(load_checkpoint(path, other).empty());
  CHECK(bitwise_equal(other.fc2->weight.value(), m.fc2->weight.value()));
  optim::Adam other_opt(other.parameters());
  CHECK_THROWS_WITH(load_checkpoint(path, other, &other_opt),
                    Catch::Contains("holds no optimizer state"));

  CHECK_THROWS_AS(save_checkpoint(path, m, &opt, {{"optim.lr", "1"}}), ValueError);
}

TEST_CASE("loading into another architecture lists the mismatched names and shapes",
          "[checkpoint]") {
  TempDir dir("checkpoint");
  const std::string path = dir / "c.safetensors";
  Mlp small(4, 1), big(8, 1);
  optim::Adam small_opt(small.parameters()), big_opt(big.parameters());
  train(small, small_opt, Data{}, 1);
  save_checkpoint(path, small, &small_opt);
  const Tensor before = big.fc1->weight.value().clone();
  try {
    load_checkpoint(path, big, &big_opt);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("load_state_dict: 5 problems") != std::string::npos);
    CHECK(msg.find("'fc1.weight' has shape (4, 1) in the file but (8, 1) in the model") !=
          std::string::npos);
    CHECK(msg.find("'fc2.weight' has shape (4, 4) in the file but (8, 8) in the model") !=
          std::string::npos);
    CHECK(msg.find("'out.weight' has shape (1, 4) in the file but (1, 8) in the model") !=
          std::string::npos);
  }
  // Parameters only: the same list.
  try {
    load_checkpoint(path, big);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("load_state_dict: 5 problems") != std::string::npos);
    CHECK(msg.find("'fc1.weight' has shape (4, 1) in the file but (8, 1) in the model") !=
          std::string::npos);
    CHECK(msg.find("'fc2.weight' has shape (4, 4) in the file but (8, 8) in the model") !=
          std::string::npos);
    CHECK(msg.find("'out.weight' has shape (1, 4) in the file but (1, 8) in the model") !=
          std::string::npos);
  }
  CHECK(bitwise_equal(big.fc1->weight.value(), before));
}

TEST_CASE("truncated and garbled checkpoints give a FormatError naming the file and byte",
          "[checkpoint]") {
  TempDir dir("checkpoint");
  const std::string good = dir / "good.safetensors", bad = dir / "bad.safetensors";
  Mlp m(4, 1);
  optim::Adam opt(m.parameters());
  train(m, opt, Data{}, 1);
  save_checkpoint(good, m, &opt);
  const std::string bytes = read_file(good);
  Mlp target(4, 2);

  const auto expect_format_error = [&](const std::string& content, const std::string& what) {
    write_bytes(bad, content);
    try {
      load_checkpoint(bad, target);
      FAIL("expected a FormatError for " << what);
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      INFO(what << ": " << msg);
      CHECK(msg.find(bad) != std::string::npos);
      CHECK(msg.find("byte") != std::string::npos);
      CHECK(msg.find(what) != std::string::npos);
    }
  };
  expect_format_error(bytes.substr(0, 5), "too short");
  expect_format_error(bytes.substr(0, 100), "runs past the end of the file");
  expect_format_error(bytes.substr(0, bytes.size() - 1), "truncated?");
  std::string garbled = bytes;
  garbled[bytes.find(':', 8)] = '#';
  expect_format_error(garbled, "invalid JSON");
  std::string trailing = bytes + "xyz";
  expect_format_error(trailing, "after the last tensor");
  // The failed loads left the model alone.
  Mlp fresh(4, 2);
  CHECK(bitwise_equal(target.fc1->weight.value(), fresh.fc1->weight.value()));
}

TEST_CASE("writing into a missing folder fails and leaves no file", "[checkpoint]") {
  TempDir dir("checkpoint");
  const std::string path = dir / "no/such/folder/c.safetensors";
  Mlp m(4, 1);
  CHECK_THROWS_AS(save_checkpoint(path, m), Error);
  CHECK_FALSE(fs::exists(dir.path / "no"));
  // A failure after the file was opened (here: a bad name caught before writing) leaves nothing
  // either.
  CHECK_THROWS_AS(nn::save_safetensors(dir / "x.safetensors",
                                       {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({1})}}),
                  ValueError);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("an independent Python reader accepts the checkpoint", "[checkpoint][python]") {
  TempDir dir("checkpoint");
  const std::string path = dir / "checked.safetensors";
  Mlp m(4, 1);
  optim::Adam opt(m.parameters());
  train(m, opt, Data{}, 2);
  save_checkpoint(path, m, &opt, {{"epoch", "2"}});
  const std::string cmd = std::string("python3 ") + TG_SOURCE_DIR +
                          "/tests/nn/check_safetensors.py " + path + " > " + (dir / "out.txt") +
                          " 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string out = read_file(dir / "out.txt");
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("fc1.weight") != std::string::npos);
  CHECK(out.find("optim.state.out.bias.exp_avg_sq") != std::string::npos);
}
