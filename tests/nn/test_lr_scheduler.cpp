// Learning-rate schedules against PyTorch 1.13 (tests/nn/make_fixtures.py wrote
// fixtures/lr_scheduler.json): the lr after construction and after each of 100 steps.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "tapegrad/nn/lr_scheduler.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

using namespace tg;
using Json = nlohmann::json;

namespace {

std::unique_ptr<optim::LRScheduler> make(optim::Optimizer& opt, const Json& spec) {
  const std::string type = spec["type"];
  const Json& o = spec["options"];
  if (type == "StepLR")
    return std::make_unique<optim::StepLR>(opt, o["step_size"].get<int>(), o.value("gamma", 0.1));
  if (type == "ExponentialLR")
    return std::make_unique<optim::ExponentialLR>(opt, o["gamma"].get<double>());
  if (type == "CosineAnnealingLR")
    return std::make_unique<optim::CosineAnnealingLR>(opt, o["T_max"].get<int>(),
                                                      o.value("eta_min", 0.0));
  REQUIRE(type == "LinearLR");
  return std::make_unique<optim::LinearLR>(opt, o.value("start_factor", 1.0 / 3),
                                           o.value("end_factor", 1.0), o.value("total_iters", 5));
}

}  // namespace

TEST_CASE("schedules match PyTorch's lrs over 100 steps", "[lr_scheduler]") {
  const Json fx = Json::parse(read_file(TG_SOURCE_DIR "/tests/nn/fixtures/lr_scheduler.json"));
  REQUIRE(fx["schedules"].size() >= 7);
  for (const auto& [name, s] : fx["schedules"].items()) {
    SECTION(name) {
      Variable p(Tensor::zeros({1}, DType::f64), true);
      optim::SGD opt({p}, s["lr"].get<double>());
      std::vector<std::unique_ptr<optim::LRScheduler>> scheds;
      for (const auto& spec : s["schedulers"]) scheds.push_back(make(opt, spec));
      const Json& lrs = s["lrs"];
      double worst = 0;
      const auto compare = [&](std::size_t i) {
        const double want = lrs[i].get<double>();
        INFO(name << " epoch " << i << ": " << opt.lr() << " vs " << want);
        CHECK(std::abs(opt.lr() - want) <= 1e-6 * std::abs(want));
        CHECK(scheds.back()->get_last_lr() == opt.lr());
        worst = std::max(worst, std::abs(opt.lr() - want) / std::abs(want));
      };
      compare(0);
      for (std::size_t i = 1; i < lrs.size(); ++i) {
        opt.step();
        for (auto& sched : scheds) sched->step();
        compare(i);
      }
      CHECK(scheds.back()->last_epoch() == 100);
      // The recursive forms, in PyTorch's order of operations, give PyTorch's doubles.
      CHECK(worst < 1e-14);
    }
  }
}

TEST_CASE("closed forms", "[lr_scheduler]") {
  Variable p(Tensor::zeros({1}), true);
  {
    optim::SGD opt({p}, 1.0);
    optim::StepLR s(opt, 3, 0.5);
    std::vector<double> got;
    for (int i = 0; i < 7; ++i, s.step()) got.push_back(s.get_last_lr());
    CHECK(got == std::vector<double>{1, 1, 1, 0.5, 0.5, 0.5, 0.25});
  }
  {
    optim::SGD opt({p}, 0.2);
    optim::CosineAnnealingLR s(opt, 10, 0.02);
    for (int i = 0; i < 10; ++i) s.step();
    CHECK(opt.lr() == Approx(0.02));
    for (int i = 0; i < 5; ++i) s.step();  // past T_max it goes back up, as PyTorch's does
    CHECK(opt.lr() == Approx(0.02 + 0.18 * (1 + std::cos(M_PI * 15 / 10)) / 2));
  }
  {
    optim::SGD opt({p}, 0.3);
    optim::LinearLR warmup(opt, 0.1, 1.0, 4);  // the linear warm-up
    CHECK(opt.lr() == Approx(0.03));
    std::vector<double> got;
    for (int i = 0; i < 6; ++i) {
      warmup.step();
      got.push_back(opt.lr());
    }
    for (std::size_t i = 0; i < got.size(); ++i)
      CHECK(got[i] ==
            Approx(0.3 * (0.1 + 0.9 * std::min<double>(static_cast<double>(i) + 1, 4) / 4)));
  }
  optim::SGD opt({p}, 0.1);
  CHECK_THROWS_AS(optim::StepLR(opt, 0), ValueError);
  CHECK_THROWS_AS(optim::LinearLR(opt, 1.5), ValueError);
  CHECK_THROWS_AS(optim::CosineAnnealingLR(opt, 0), ValueError);
}

TEST_CASE("scheduler state round trip", "[lr_scheduler]") {
  Variable p(Tensor::zeros({1}), true);
  optim::SGD a({p}, 0.1), b({p}, 0.1);
  optim::CosineAnnealingLR sa(a, 20, 0.001);
  for (int i = 0; i < 7; ++i) sa.step();
  const auto opt_state = a.state_dict();
  const auto state = sa.state_dict();
  optim::CosineAnnealingLR sb(b, 20, 0.001);
  b.load_state_dict(opt_state);
  sb.load_state_dict(state);
  for (int i = 0; i < 30; ++i) {
    sa.step();
    sb.step();
    CHECK(a.lr() == b.lr());
  }
}
