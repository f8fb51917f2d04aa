// mlp_example: trains a small MLP to regress y = sin(x) + noise on [-pi, pi] with Adam and a cosine
// learning-rate schedule, prints the loss as it falls, and can checkpoint and resume the run.
//
//   mlp_example --steps 1000 --until 500 --checkpoint /tmp/mlp.safetensors
//   mlp_example --steps 1000 --resume /tmp/mlp.safetensors      (ends exactly like an uninterrupted
//   run)
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/layers.hpp"
#include "tapegrad/nn/lr_scheduler.hpp"
#include "tapegrad/nn/optim.hpp"

namespace {

// The schedule's state rides in the checkpoint's metadata under this prefix.
constexpr std::string_view sched_prefix = "sched.";

struct Options {
  int steps = 1000;
  int hidden = 64;
  int points = 256;
  double lr = 1e-2;
  std::uint64_t seed = 0;
  int print_every = 100;
  int until = 0;  // stop after this step (0: --steps), e.g. to checkpoint half way
  std::string checkpoint;
  std::string resume;
};

// Element-wise sine (tapegrad has no sin op; the data only needs its values).
tg::Tensor sin_of(const tg::Tensor& t) {
  std::vector<double> v = t.to_vector();
  for (double& e : v) e = std::sin(e);
  return tg::Tensor::from_values(t.shape(), v, t.dtype());
}

// x ~ U(-pi, pi), y = sin(x) + 0.05 noise: (n, 1) each.
std::pair<tg::Tensor, tg::Tensor> make_data(int n, tg::Generator& gen) {
  const tg::Tensor x =
      tg::Tensor::rand({n, 1}, tg::DType::f32, &gen) * (2 * std::numbers::pi) - std::numbers::pi;
  const tg::Tensor y = sin_of(x) + tg::Tensor::randn({n, 1}, tg::DType::f32, &gen) * 0.05;
  return {x, y};
}

int run(const Options& o) {
  tg::Generator gen(o.seed);
  auto [x, y] = make_data(o.points, gen);
  const tg::Tensor x_test =
      tg::Tensor::linspace(-std::numbers::pi, std::numbers::pi, 101).reshape({101, 1});
  const tg::Tensor y_test = sin_of(x_test);

  const auto h = static_cast<std::int64_t>(o.hidden);
  tg::nn::Sequential model;
  model.push_back(std::make_shared<tg::nn::Linear>(1, h, true, tg::DType::f32, &gen));
  model.push_back(std::make_shared<tg::nn::Tanh>());
  model.push_back(std::make_shared<tg::nn::Linear>(h, h, true, tg::DType::f32, &gen));
  model.push_back(std::make_shared<tg::nn::Tanh>());
  model.push_back(std::make_shared<tg::nn::Linear>(h, 1, true, tg::DType::f32, &gen));

  tg::optim::Adam opt(model.parameters(), o.lr);
  tg::optim::CosineAnnealingLR sched(opt, o.steps, o.lr / 100);
  int start = 0;
  if (!o.resume.empty()) {
    const auto meta = tg::nn::load_checkpoint(o.resume, model, &opt);
    const auto step_it = meta.find("step");
    if (step_it == meta.end())
      throw tg::Error(fmt::format("{} has no 'step' in its metadata", o.resume));
    start = std::stoi(step_it->second);
    std::map<std::string, std::string> sched_state;
    for (const auto& [k, v] : meta)
      if (k.starts_with(sched_prefix)) sched_state[k.substr(sched_prefix.size())] = v;
    sched.load_state_dict(sched_state);
    fmt::print("resumed from {} at step {}\n", o.resume, start);
  }

  fmt::print("{}\n{} parameters, {} training points, Adam(lr={}), cosine schedule to {}\n",
             model.to_string(), model.num_parameters(), o.points, o.lr, o.lr / 100);
  fmt::print("{:>6}  {:>10}  {:>10}  {:>9}\n", "step", "train mse", "test mse", "lr");
  const int until = o.until > 0 ? std::min(o.until, o.steps) : o.steps;
  for (int step = start + 1; step <= until; ++step) {
    const double lr = opt.lr();
    opt.zero_grad();
    tg::Variable loss = tg::mse_loss(model.forward(x), y);
    tg::backward(loss);
    opt.step();
    sched.step();
    if (step == 1 || step == 10 || step == 25 || step == 50 || step % o.print_every == 0 ||
        step == until) {
      tg::NoGradGuard no_grad;
      const double test = tg::mse_loss(model.forward(x_test), y_test).item();
      fmt::print("{:>6}  {:>10.6f}  {:>10.6f}  {:>9.6f}\n", step, loss.item(), test, lr);
    }
  }
  if (!o.checkpoint.empty()) {
    tg::nn::Metadata meta = {{"model", "mlp 1-h-h-1 tanh"},
                             {"hidden", std::to_string(o.hidden)},
                             {"step", std::to_string(until)}};
    for (const auto& [k, v] : sched.state_dict()) meta[std::string(sched_prefix) + k] = v;
    tg::nn::save_checkpoint(o.checkpoint, model, &opt, meta);
    fmt::print("saved {}\n", o.checkpoint);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Trains a small MLP on y = sin(x) + noise with Adam and a cosine schedule (docs/nn.md)."};
  app.add_option("--steps", o.steps, "training steps (full batch)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--hidden", o.hidden, "hidden layer width")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--points", o.points, "training points")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "Adam's learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed for the data and the initial weights")
      ->capture_default_str();
  app.add_option("--print-every", o.print_every, "print the loss every N steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--until", o.until,
                 "stop after this step (then --checkpoint saves the run half way)")
      ->check(CLI::PositiveNumber);
  app.add_option("--checkpoint", o.checkpoint,
                 "save model + optimizer here at the end (safetensors)");
  app.add_option("--resume", o.resume, "continue the run saved in this checkpoint");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
