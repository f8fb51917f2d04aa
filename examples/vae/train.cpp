// The training loop and the evaluations of the VAE example.
#include "examples/vae/train.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "examples/vae/figures.hpp"
#include "examples/vae/progress.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/profile.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/distributions/normal.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/optim.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/kernels.hpp"
#include "tapegrad/tensor/ops.hpp"

namespace vae {

using tg::Tensor;
using tg::Variable;

std::string EpochMetrics::json() const {
  nlohmann::json j{{"epoch", epoch},           {"train_loss", train_loss}, {"test_loss", test_loss},
                   {"test_recon", test_recon}, {"test_kl", test_kl},       {"seconds", seconds}};
  if (std::isfinite(test_inactive)) j["test_inactive"] = test_inactive;
  return j.dump();
}

std::string EvalResult::json() const {
  nlohmann::json j{{"images", images},
                   {"neg_elbo", loss},
                   {"recon", recon},
                   {"kl", kl},
                   {"active_units", active_units},
                   {"latent", latent},
                   {"neg_elbo_se", loss_se},
                   {"recon_se", recon_se},
                   {"kl_se", kl_se}};
  if (iw_samples > 0) {
    j["iw_samples"] = iw_samples;
    j["neg_log_px_iwae"] = iwae;  // nlohmann writes a NaN as null
    j["neg_log_px_iwae_se"] = iwae_se;
  }
  if (std::isfinite(inactive)) j["inactive"] = inactive;
  return j.dump();
}

namespace {

// The mean's standard error, sd / sqrt(n), from the sum and the sum of squares.
double standard_error(double sum, double sum_sq, std::int64_t n) {
  if (n < 2) return 0;
  const double dn = static_cast<double>(n), mean = sum / dn;
  return std::sqrt(std::max(0.0, (sum_sq - dn * mean * mean) / (dn - 1)) / dn);
}

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> r;
  for (std::int64_t i = begin; i < end; ++i) r.push_back(i);
  return r;
}

// The whole split as the model sees it in evaluation: binarized once, by a draw fixed by `gen`.
Split eval_split(const Split& s, Binarize binarize, tg::Generator& gen) {
  Split e = s;
  if (binarize == Binarize::dynamic) vae::binarize(e, gen);
  return e;
}

Variable label_batch(const Model& model, const Split& s, const std::vector<std::int64_t>& idx) {
  return model.config().conditional()
             ? Variable(one_hot(s, idx, static_cast<int>(model.config().classes)))
             : Variable();
}

void write_metrics(const std::string& dir, const std::vector<EpochMetrics>& history) {
  std::string text;
  for (const auto& m : history) text += m.json() + "\n";
  tg::write_file_atomic((std::filesystem::path(dir) / "metrics.jsonl").string(), text);
}

}  // namespace

namespace {

namespace fs = std::filesystem;

const std::string& meta_get(const std::map<std::string, std::string>& meta, const std::string& key,
                            const std::string& file) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw tg::Error(
        fmt::format("{}: the checkpoint has no '{}' entry: it was not written by `vae train` "
                    "of this version, so it cannot be resumed",
                    file, key));
  return it->second;
}

template <class T>
T meta_number(const std::map<std::string, std::string>& meta, const std::string& key,
              const std::string& file) {
  const std::string& text = meta_get(meta, key, file);
  T value{};
  std::size_t used = 0;
  try {
    if constexpr (std::is_same_v<T, double>)
      value = std::stod(text, &used);
    else if constexpr (std::is_unsigned_v<T>)
      value = static_cast<T>(std::stoull(text, &used));
    else
      value = static_cast<T>(std::stoll(text, &used));
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty())
    throw tg::Error(fmt::format(
        "{}: the checkpoint's '{}' is '{}', not a number: the file is damaged", file, key, text));
  return value;
}

// Exact text for a double: hexadecimal, so strtod gives back the same bits.
std::string exact(double v) { return fmt::format("{:a}", v); }

// Every value finite? A NaN or an infinity makes the (SIMD) sum NaN or infinite, so a finite sum
// proves it; only when the sum is not finite (which finite values can also give, by overflow) are
// the values looked at one by one. Several times faster than the element loop on every step.
template <class T>
bool all_finite(const Tensor& t) {
  const T* p = t.data<T>();
  if (std::isfinite(tg::kernels::sum(p, t.numel()))) return true;
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

bool finite(const Tensor& t) {
  return t.dtype() == tg::DType::f64 ? all_finite<double>(t) : all_finite<float>(t);
}

// The first parameter whose gradient holds a NaN or Inf, or -1.
int first_nonfinite_grad(const std::vector<Variable>& params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Variable g = params[i].grad();
    if (g.defined() && !finite(g.value())) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

std::map<std::string, std::string> train_metadata(const TrainOptions& o) {
  return {{"epochs", std::to_string(o.epochs)},
          {"batch", std::to_string(o.batch)},
          {"lr", fmt::format("{}", o.lr)},
          {"beta", fmt::format("{}", o.beta)},
          {"kl_warmup", fmt::format("{}", o.kl_warmup)},
          {"binarize", binarize_name(o.binarize)},
          {"seed", std::to_string(o.seed)},
          {"limit", std::to_string(o.limit)},
          {"limit_test", std::to_string(o.limit_test)},
          {"patience", std::to_string(o.patience)},
          {"snapshot_every", std::to_string(o.snapshot_every)}};
}

TrainOptions options_from_metadata(const std::map<std::string, std::string>& meta,
                                   const std::string& file) {
  TrainOptions o;
  o.config = Config::from_metadata(meta, file);
  o.epochs = meta_number<int>(meta, "epochs", file);
  o.batch = meta_number<std::int64_t>(meta, "batch", file);
  o.lr = meta_number<double>(meta, "lr", file);
  o.beta = meta_number<double>(meta, "beta", file);
  o.kl_warmup = meta_number<double>(meta, "kl_warmup", file);
  try {
    o.binarize = parse_binarize(meta_get(meta, "binarize", file));
  } catch (const tg::ValueError& e) {
    throw tg::Error(fmt::format("{}: the checkpoint's binarize entry: {}", file, e.what()));
  }
  o.seed = meta_number<std::uint64_t>(meta, "seed", file);
  o.limit = meta_number<std::int64_t>(meta, "limit", file);
  o.limit_test = meta_number<std::int64_t>(meta, "limit_test", file);
  o.patience = meta_number<int>(meta, "patience", file);
  o.snapshot_every = meta_number<int>(meta, "snapshot_every", file);
  return o;
}

std::vector<EpochMetrics> read_metrics(const std::string& path) {
  if (!fs::exists(path)) throw tg::Error(fmt::format("{}: no such file", path));
  std::istringstream in(tg::read_file(path));
  std::vector<EpochMetrics> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    try {
      const auto j = nlohmann::json::parse(line);
      EpochMetrics m;
      m.epoch = j.at("epoch").get<int>();
      m.train_loss = j.at("train_loss").get<double>();
      m.test_loss = j.at("test_loss").get<double>();
      m.test_recon = j.at("test_recon").get<double>();
      m.test_kl = j.at("test_kl").get<double>();
      m.seconds = j.at("seconds").get<double>();
      if (m.epoch != n)
        throw tg::Error(fmt::format("epoch {} where epoch {} was expected", m.epoch, n));
      out.push_back(m);
    } catch (const std::exception& e) {
      throw tg::Error(fmt::format("{}: line {}: {}", path, n, e.what()));
    }
  }
  return out;
}

TrainResult train_run(Model& model, const Data& data, const TrainOptions& opt,
                      const std::function<void(const EpochMetrics&)>& on_epoch) {
  const Split& train_set = data.train;
  const std::int64_t n = train_set.size();
  if (n == 0) throw tg::ValueError("train: the training set is empty");
  if (opt.batch <= 0)
    throw tg::ValueError(fmt::format("--batch must be positive, got {}", opt.batch));
  tg::Generator gen(opt.seed);
  const std::vector<Variable> params = model.parameters();
  tg::optim::Adam optimizer(params, opt.lr);
  const std::int64_t steps = (n + opt.batch - 1) / opt.batch;
  const fs::path out(opt.out_dir);
  const std::string checkpoint = (out / "model.safetensors").string();

  TrainResult r;
  r.steps_per_epoch = steps;
  // Where the run stands: epochs done, the steps done of the next one and that epoch's running
  // sums.
  int done_epochs = 0;
  std::int64_t global_step = 0, epoch_step = 0;
  std::uint64_t epoch_offset = 0;  // the generator's offset when the epoch began (its permutation)
  double epoch_sum = 0, epoch_seconds = 0;
  double best = std::numeric_limits<double>::infinity();
  if (!opt.resume_checkpoint.empty()) {
    const auto meta = tg::nn::load_checkpoint(opt.resume_checkpoint, model, &optimizer);
    optimizer.set_lr(opt.lr);  // the run's own rate, or a new one given with --resume
    const std::string& f = opt.resume_checkpoint;
    done_epochs = meta_number<int>(meta, "epoch", f);
    global_step = meta_number<std::int64_t>(meta, "step", f);
    epoch_step = meta_number<std::int64_t>(meta, "epoch_step", f);
    epoch_offset = meta_number<std::uint64_t>(meta, "epoch_rng_offset", f);
    gen.set_offset(meta_number<std::uint64_t>(meta, "rng_offset", f));
    epoch_sum = meta_number<double>(meta, "epoch_loss_sum", f);
    epoch_seconds = meta_number<double>(meta, "epoch_seconds", f);
    r.best_epoch = meta_number<int>(meta, "best_epoch", f);
    best = meta_number<double>(meta, "best_test_loss", f);
    if (epoch_step < 0 || epoch_step >= steps)
      throw tg::Error(fmt::format("{}: the checkpoint stopped at step {} of an epoch of {} steps",
                                  f, epoch_step, steps));
    if (static_cast<int>(opt.resume_history.size()) < done_epochs)
      throw tg::Error(
          fmt::format("{}: it records {} epochs, but the checkpoint beside it has {}: the run "
                      "folder is inconsistent",
                      (out / "metrics.jsonl").string(), opt.resume_history.size(), done_epochs));
    // An epoch written to metrics.jsonl just before a hard kill, but not to the checkpoint, is
    // redone.
    r.history.assign(opt.resume_history.begin(), opt.resume_history.begin() + done_epochs);
  }
  r.best_test_loss = best;

  auto save = [&](const std::string& path, bool with_optimizer) {
    auto meta = opt.config.to_metadata();
    for (const auto& [k, v] : train_metadata(opt)) meta[k] = v;
    meta["epoch"] = std::to_string(done_epochs);
    meta["step"] = std::to_string(global_step);
    meta["epoch_step"] = std::to_string(epoch_step);
    meta["rng_offset"] = std::to_string(gen.offset());
    meta["epoch_rng_offset"] = std::to_string(epoch_offset);
    meta["epoch_loss_sum"] = exact(epoch_sum);
    meta["epoch_seconds"] = exact(epoch_seconds);
    meta["best_epoch"] = std::to_string(r.best_epoch);
    meta["best_test_loss"] = exact(best);
    // So that `vae eval` and `vae interpolate` use the same data set by default.
    meta["data"] = fs::absolute(data.dir).lexically_normal().string();
    if (!r.history.empty()) meta["test_loss"] = fmt::format("{:.6f}", r.history.back().test_loss);
    tg::nn::save_checkpoint(path, model, with_optimizer ? &optimizer : nullptr, meta);
  };
  std::int64_t steps_here = 0;
  auto stop_requested = [&] { return opt.stop != nullptr && opt.stop->load() != 0; };

  for (int epoch = done_epochs + 1; epoch <= opt.epochs; ++epoch) {
    model.train();
    if (epoch_step == 0) {
      epoch_offset = gen.offset();
      epoch_sum = epoch_seconds = 0;
    }
    const std::uint64_t resume_offset = gen.offset();
    gen.set_offset(epoch_offset);
    const auto perm = permutation(n, gen);
    if (epoch_step > 0)
      gen.set_offset(resume_offset);  // mid-epoch: the draws after the last step done
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    {
      ProgressBar bar(fmt::format("epoch {}/{}", epoch, opt.epochs), steps, opt.progress);
      for (std::int64_t s = epoch_step; s < steps; ++s) {
        const std::vector<std::int64_t> idx(perm.begin() + s * opt.batch,
                                            perm.begin() + std::min(n, (s + 1) * opt.batch));
        const std::uint64_t step_offset = gen.offset();
        const Variable x(batch_images(train_set, idx, opt.binarize, gen));
        const Variable y = label_batch(model, train_set, idx);
        // --kl-warmup: beta grows linearly from 0 over the first kl_warmup epochs.
        const double progress = (epoch - 1) + static_cast<double>(s) / static_cast<double>(steps);
        const double beta =
            opt.kl_warmup > 0 ? opt.beta * std::min(1.0, progress / opt.kl_warmup) : opt.beta;
        const Terms t = model.loss(x, y, beta, gen);
        optimizer.zero_grad();
        tg::backward(t.objective);
        const double batch_neg_elbo = t.recon.item() + t.kl.item();
        const int bad_grad = first_nonfinite_grad(params);
        if (!std::isfinite(batch_neg_elbo) || !std::isfinite(t.objective.item()) || bad_grad >= 0) {
          const std::string what = bad_grad >= 0
                                       ? fmt::format("the gradient of {} is not finite",
                                                     model.named_parameters()[bad_grad].first)
                                       : fmt::format("the loss is {}", batch_neg_elbo);
          // The same step again (same batch, same z draws, same weights) in anomaly mode, which
          // names the first op whose output or gradient is not finite.
          std::string op = "anomaly mode found no op with a NaN or Inf output or gradient";
          try {
            tg::AnomalyModeGuard anomaly;
            gen.set_offset(step_offset);
            const Variable x2(batch_images(train_set, idx, opt.binarize, gen));
            const Terms t2 = model.loss(x2, label_batch(model, train_set, idx), beta, gen);
            optimizer.zero_grad();
            tg::backward(t2.objective);
          } catch (const tg::AutogradError& e) {
            op = e.what();
          }
          const std::string kept =
              opt.out_dir.empty() || !fs::exists(checkpoint)
                  ? std::string("no epoch was completed, so no checkpoint was written")
                  : fmt::format("the last good checkpoint (after epoch {}) is kept in {}",
                                done_epochs, checkpoint);
          throw tg::Error(
              fmt::format("train: epoch {}, step {}/{}: {}, so training stopped.\n  {}\n  {}; "
                          "try a lower --lr (this run: {})",
                          epoch, s + 1, steps, what, op, kept, opt.lr));
        }
        optimizer.step();
        ++global_step;
        epoch_sum += batch_neg_elbo;
        epoch_step = s + 1;
        if (opt.test_signal_at_step > 0 && ++steps_here == opt.test_signal_at_step)
          std::raise(SIGINT);
        bar.update(s + 1, "loss",
                   epoch_sum / static_cast<double>(std::min(n, (s + 1) * opt.batch)));
        if (stop_requested() && s + 1 < steps) {
          // Mid-epoch: the checkpoint holds the steps done, the running sum and the RNG offset.
          epoch_seconds += elapsed();
          r.stopped = Stopped::interrupted;
          r.signal = opt.stop->load();
          r.step_in_epoch = epoch_step;
          if (!opt.out_dir.empty()) save(checkpoint, true);
          return r;
        }
      }
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.seconds = epoch_seconds + elapsed();
    m.train_loss = epoch_sum / static_cast<double>(n);
    const EvalResult e =
        evaluate(model, data.test, opt.binarize, 0, opt.seed + 1000003ULL * epoch, opt.progress);
    m.test_loss = e.loss;
    m.test_recon = e.recon;
    m.test_kl = e.kl;
    m.test_inactive = e.inactive;
    r.history.push_back(m);
    done_epochs = epoch;
    epoch_step = 0;
    epoch_sum = epoch_seconds = 0;
    const bool improved = m.test_loss < best;
    if (improved) {
      best = r.best_test_loss = m.test_loss;
      r.best_epoch = epoch;
    }
    if (!opt.out_dir.empty()) {
      tg::profile::Region region("checkpoint");
      write_metrics(opt.out_dir, r.history);
      save(checkpoint, true);
      if (improved) save((out / "best.safetensors").string(), false);
      if (opt.snapshot_every > 0 && epoch % opt.snapshot_every == 0) {
        fs::create_directories(out / "snapshots");
        // The same z every time (the pictures' seed), so the snapshots show one set of codes
        // learning.
        write_samples((out / "snapshots" / fmt::format("samples-epoch-{:03}.png", epoch)).string(),
                      model, 64, -1, opt.seed + 7);
      }
    }
    if (on_epoch) on_epoch(m);
    if (stop_requested() && epoch < opt.epochs) {
      r.stopped = Stopped::interrupted;
      r.signal = opt.stop->load();
      return r;
    }
    if (opt.patience > 0 && epoch - r.best_epoch >= opt.patience && epoch < opt.epochs) {
      r.stopped = Stopped::early;
      return r;
    }
  }
  return r;
}

std::vector<EpochMetrics> train(Model& model, const Data& data, const TrainOptions& opt,
                                const std::function<void(const EpochMetrics&)>& on_epoch) {
  return train_run(model, data, opt, on_epoch).history;
}

Tensor encode_all(Model& model, const Split& split) {
  tg::NoGradGuard no_grad;
  constexpr std::int64_t kBatch = 500;
  std::vector<Tensor> parts;
  for (std::int64_t b = 0; b < split.size(); b += kBatch) {
    const auto idx = range(b, std::min(split.size(), b + kBatch));
    const Variable x(split.images(idx));
    parts.push_back(model.encode(x, label_batch(model, split, idx)).first.value());
  }
  return tg::concat(parts, 0);
}

// Importance samples per forward pass in evaluate(): 1024 x 784 pixels is a 3 MB batch.
constexpr std::int64_t kIwChunk = 1024;

EvalResult evaluate(Model& model, const Split& split, Binarize binarize, int iw_samples,
                    std::uint64_t seed, bool progress) {
  tg::profile::Region region("evaluate");
  tg::NoGradGuard no_grad;
  model.eval();
  tg::Generator gen(seed);
  const Config& cfg = model.config();
  const Split s = eval_split(split, binarize, gen);
  EvalResult r;
  r.images = s.size();
  r.latent = static_cast<int>(cfg.latent);
  if (r.images == 0) throw tg::ValueError("evaluate: the test set is empty");

  // The negative ELBO and its terms, in batches, one z sample per image (as in training).
  constexpr std::int64_t kBatch = 500;
  std::vector<Tensor> codes;
  ProgressBar elbo_bar("test set", s.size(), progress);
  double sq_recon = 0, sq_kl = 0, sq_loss = 0;  // sums of squares of the per-image terms
  std::int64_t inactive = 0;
  for (std::int64_t b = 0; b < s.size(); b += kBatch) {
    const auto idx = range(b, std::min(s.size(), b + kBatch));
    const Variable x(s.images(idx));
    const Variable y = label_batch(model, s, idx);
    const Terms t = model.loss(x, y, 1.0, gen);
    r.recon += t.recon.item();
    r.kl += t.kl.item();
    const std::vector<double> rec = t.recon_each.value().to_vector();
    const std::vector<double> kl =
        t.kl_each.defined() ? t.kl_each.value().to_vector() : std::vector<double>(rec.size());
    for (std::size_t i = 0; i < rec.size(); ++i) {
      sq_recon += rec[i] * rec[i];
      sq_kl += kl[i] * kl[i];
      sq_loss += (rec[i] + kl[i]) * (rec[i] + kl[i]);
    }
    if (cfg.kind == ModelKind::sparse_ae)
      for (double h : t.code.value().to_vector()) inactive += h < kInactiveBelow;
    codes.push_back(t.code.value());
    elbo_bar.update(std::min(s.size(), b + kBatch));
  }
  r.recon_se = standard_error(r.recon, sq_recon, r.images);
  r.kl_se = standard_error(r.kl, sq_kl, r.images);
  r.loss_se = standard_error(r.recon + r.kl, sq_loss, r.images);
  r.recon /= static_cast<double>(r.images);
  r.kl /= static_cast<double>(r.images);
  r.loss = r.recon + r.kl;
  if (cfg.kind == ModelKind::sparse_ae)
    r.inactive = static_cast<double>(inactive) / static_cast<double>(r.images * cfg.latent);

  // Active units: A_i = Cov_x(E_q[z_i]) > 0.01 (docs/elbo.md, section 9).
  const Tensor mu = tg::concat(codes, 0).to(tg::DType::f64);
  const Tensor var = tg::mean(tg::square(mu - tg::mean(mu, {0}, true)), {0});
  for (double v : var.to_vector()) r.active_units += v > 0.01;

  // eq. (17): L_K = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), in log space. The K
  // samples of an image go through the model in chunks of at most kChunk, their log-sum-exp
  // combined as it goes, so memory is that of one chunk whatever K is.
  if (iw_samples > 0 && cfg.variational()) {
    r.iw_samples = iw_samples;
    ProgressBar bar("importance-weighted bound", s.size(), progress);
    double neg_lk = 0, sq_lk = 0;
    const std::int64_t K = iw_samples, d = cfg.latent;
    const tg::dist::Normal prior(Variable(Tensor::scalar(0, tg::DType::f32)),
                                 Variable(Tensor::scalar(1, tg::DType::f32)));
    for (std::int64_t i = 0; i < s.size(); ++i) {
      const std::vector<std::int64_t> one{i};
      const Variable x(s.images(one));
      const Variable y = label_batch(model, s, one);
      const auto [m, logvar] = model.encode(x, y);
      const Tensor sigma = tg::exp(logvar.value() * 0.5);
      double lse =
          -std::numeric_limits<double>::infinity();  // log sum_k w_k over the chunks so far
      for (std::int64_t k0 = 0; k0 < K; k0 += kIwChunk) {
        const std::int64_t k = std::min(kIwChunk, K - k0);
        const tg::dist::Normal q(Variable(tg::broadcast_to(m.value(), {k, d})),
                                 Variable(tg::broadcast_to(sigma, {k, d})));
        const Variable z = q.sample({}, &gen);
        const Variable xk(tg::broadcast_to(x.value(), {k, cfg.input()}));
        const Variable yk =
            y.defined() ? Variable(tg::broadcast_to(y.value(), {k, cfg.classes})) : Variable();
        const Tensor log_w = model.log_likelihood(model.decode(z, yk), xk).value() +
                             tg::sum(prior.log_prob(z).value(), {1}) -
                             tg::sum(q.log_prob(z).value(), {1});
        const double chunk = tg::logsumexp(log_w.to(tg::DType::f64)).item();
        const double hi = std::max(lse, chunk);
        if (std::isfinite(hi))
          lse = hi + std::log(std::exp(lse - hi) + std::exp(chunk - hi));
        else
          lse = hi;  // -inf (every weight 0) or +inf/NaN: nothing to combine
      }
      const double lk = lse - std::log(static_cast<double>(K));
      neg_lk -= lk;
      sq_lk += lk * lk;
      bar.update(i + 1);
    }
    r.iwae = neg_lk / static_cast<double>(r.images);
    r.iwae_se = standard_error(neg_lk, sq_lk, r.images);
  }
  return r;
}

}  // namespace vae
