// Regression tests for the findings of issue 13 (docs/reliability.md), one or more per finding:
//   F1 a number too large for a double in a safetensors header      F6 a gzip bomb behind an IDX
//   header F2 an unparsable sparsity in a checkpoint's metadata             F7 eval's memory
//   growing with K F3 a model built from metadata the tensors contradict            F8 no
//   interpolation pair in a tiny test set F4 rows * cols overflowing F9 stale temporary files after
//   kill -9 F5 a shape whose element count overflows                         F10 (in test_cli.cpp:
//   flags, commands)
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "examples/vae/figures.hpp"
#include "examples/vae/idx.hpp"
#include "examples/vae/load.hpp"
#include "examples/vae/train.hpp"
#include "sanitized.hpp"
#include "support.hpp"
#include "tapegrad/nn/checkpoint.hpp"
#include "tapegrad/nn/npy.hpp"
#include "tapegrad/nn/safetensors.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

namespace fs = std::filesystem;
using tgtest::contains;
using tgtest::TempDir;

namespace {

std::string u64le(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}
std::string safetensors_of(std::string header) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return u64le(header.size()) + header;
}

// The message of the FormatError `f` throws (and FAIL if it throws anything else or nothing).
template <class F>
std::string format_error(F&& f) {
  try {
    f();
  } catch (const tg::FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected a tg::FormatError, got: " << e.what());
  }
  FAIL("expected a tg::FormatError, nothing was thrown");
  return {};
}

// A small model's checkpoint (4x4 images), as `vae train` writes it, with `meta` overriding fields.
std::string checkpoint_bytes(const std::map<std::string, std::string>& meta = {}) {
  vae::Config c;
  c.rows = c.cols = 4;
  c.hidden = 3;
  c.latent = 2;
  tg::Generator init(1);
  vae::Model model(c, &init);
  TempDir tmp("rel-ckpt");
  auto m = c.to_metadata();
  for (const auto& [k, v] : meta) m[k] = v;
  tg::nn::save_checkpoint(tmp / "m.safetensors", model, nullptr, m);
  return tg::read_file(tmp / "m.safetensors");
}

// gzip of an IDX header followed by `zeros` zero bytes, compressed as it goes (no buffer of
// `zeros`).
std::string gzip_bomb(const std::string& header, std::size_t zeros) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out, in = header;
  std::vector<char> zero(1 << 20, 0);
  std::vector<unsigned char> buf(1 << 16);
  const auto pump = [&](const char* p, std::size_t n, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
    zs.avail_in = static_cast<uInt>(n);
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, flush);
      out.append(reinterpret_cast<char*>(buf.data()), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  };
  pump(in.data(), in.size(), Z_NO_FLUSH);
  for (std::size_t left = zeros; left > 0;) {
    const std::size_t n = std::min(left, zero.size());
    pump(zero.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  pump(nullptr, 0, Z_FINISH);
  deflateEnd(&zs);
  return out;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// The temporary files ("*.tmp-*") in a folder.
int temp_files(const TempDir& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir.path))
    n += contains(e.path().filename().string(), ".tmp-");
  return n;
}

}  // namespace

TEST_CASE(
    "F1: a number that overflows a double in a safetensors header is a FormatError at the number",
    "[reliability][safetensors]") {
  const std::string header = R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})";
  const std::string msg =
      format_error([&] { tg::nn::parse_safetensors(safetensors_of(header), "t.safetensors"); });
  INFO(msg);
  CHECK(contains(msg, "t.safetensors: byte " + std::to_string(8 + header.find("1e400")) + ": "));
  CHECK(contains(msg, "out of range"));
}

TEST_CASE("F2: an unparsable number in a checkpoint's metadata names the file and the field",
          "[reliability][load]") {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"sparsity", "abc"},
                                                        {"sparsity", "nan"},
                                                        {"sparsity", "-1"},
                                                        {"hidden", "12abc"},
                                                        {"seed", "x"},
                                                        {"binarize", "sometimes"},
                                                        {"model", "gan"}}) {
    const std::string bytes = checkpoint_bytes({{key, value}});
    const std::string msg = format_error([&] { vae::load_model_bytes(bytes, "m.safetensors"); });
    INFO(msg);
    CHECK(msg.rfind("m.safetensors: metadata '" + key + "': ", 0) == 0);
    CHECK(contains(msg, value));
  }
  const vae::LoadedModel ok = vae::load_model_bytes(checkpoint_bytes(), "m.safetensors");
  CHECK(ok.model->config().hidden == 3);
}

TEST_CASE("F3: metadata that the tensors contradict is refused before the model is built",
          "[reliability][load]") {
  SECTION("hidden=300000 in a 1 KB file: an error naming the tensors, at once") {
    const std::string bytes = checkpoint_bytes({{"hidden", "300000"}});
    const auto start = std::chrono::steady_clock::now();
    const std::string msg = format_error([&] { vae::load_model_bytes(bytes, "m.safetensors"); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO(msg);
    CHECK(msg.rfind("m.safetensors: tensors: ", 0) == 0);
    CHECK(contains(msg, "fc1.weight should be (300000, 16) but is (3, 16)"));
    // Building the model first took 1.8 GB and 7 s; the check needs neither (a loose bound, not a
    // timing test).
    CHECK(seconds < 5);
  }
  SECTION("hidden=1e11 and other sizes out of range") {
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{{"hidden", "100000000000"},
                                                          {"latent", "0"},
                                                          {"rows", "-4"},
                                                          {"classes", "99999999999"}}) {
      const std::string msg = format_error([&] {
        vae::load_model_bytes(checkpoint_bytes({{key, value}}), "m");
      });
      INFO(msg);
      CHECK(contains(msg, "metadata '" + key + "'"));
      CHECK(contains(msg, "is not an integer in"));
    }
  }
  SECTION("a missing, extra or f64 parameter") {
    vae::Config c;
    c.rows = c.cols = 4;
    c.hidden = 3;
    c.latent = 2;
    auto file = tg::nn::parse_safetensors(checkpoint_bytes(), "m");
    file.tensors.erase(file.tensors.begin());
    file.tensors.emplace_back("fc9.weight", tg::Tensor::zeros({2}));
    file.tensors.emplace_back("optim.x",
                              tg::Tensor::zeros({1}));  // not optimizer state: a stray tensor
    const std::string msg = format_error([&] { vae::load_model(file, "m"); });
    INFO(msg);
    CHECK(contains(msg, "is missing"));
    CHECK(contains(msg, "fc9.weight (2,) is not a parameter of this model"));
    CHECK(contains(msg, "optim.x (1,) is not a parameter of this model"));
    auto f64 = tg::nn::parse_safetensors(checkpoint_bytes(), "m");
    f64.tensors[0].second = f64.tensors[0].second.to(tg::DType::f64);
    CHECK(contains(format_error([&] { vae::load_model(f64, "m"); }), "is f64, not f32"));
  }
  SECTION("parameter_shapes is what the model registers, for every kind") {
    for (auto kind : {vae::ModelKind::vae, vae::ModelKind::ae, vae::ModelKind::sparse_ae,
                      vae::ModelKind::cvae}) {
      vae::Config c;
      c.kind = kind;
      c.rows = 3;
      c.cols = 5;
      c.hidden = 7;
      c.latent = 2;
      vae::Model m(c, nullptr);
      std::vector<std::pair<std::string, tg::Shape>> registered;
      for (const auto& [name, t] : m.state_dict()) registered.emplace_back(name, t.shape());
      std::sort(registered.begin(), registered.end());
      auto expected = c.parameter_shapes();
      std::sort(expected.begin(), expected.end());
      CHECK(registered == expected);
    }
  }
}

TEST_CASE("F4: rows * cols overflow is an error, not undefined behaviour", "[reliability][load]") {
  vae::Config c;
  c.rows = c.cols = std::int64_t{1} << 32;
  CHECK_THROWS_AS(c.input(), tg::ValueError);
  const std::string msg = format_error([&] {
    vae::load_model_bytes(checkpoint_bytes({{"rows", "4294967296"}}), "m");
  });
  CHECK(contains(msg, "metadata 'rows'"));
}

TEST_CASE("F5: a shape whose element count overflows int64 is refused by the parsers and by numel",
          "[reliability][shape]") {
  const tg::Shape huge{std::int64_t{1} << 32, std::int64_t{1} << 31, 0};
  CHECK_THROWS_AS(tg::numel(huge), tg::ShapeError);
  CHECK_FALSE(tg::checked_numel(huge).has_value());
  CHECK(tg::checked_numel({4, 0, 5}) == 0);
  CHECK(tg::numel({}) == 1);
  const std::string st = safetensors_of(
      R"({"x":{"dtype":"F32","shape":[4294967296,2147483648,0],"data_offsets":[0,0]}})");
  CHECK(contains(format_error([&] { tg::nn::parse_safetensors(st, "t"); }), "overflows"));
  std::string npy = "\x93NUMPY\x01";
  npy += '\0';
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 2147483648, 0), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  npy += static_cast<char>(header.size() & 0xff);
  npy += static_cast<char>(header.size() >> 8);
  npy += header;
  CHECK(contains(format_error([&] { tg::nn::parse_npy(npy, "t.npy"); }), "overflows"));
}

TEST_CASE("F6: a gzip bomb is inflated only as far as its IDX header needs", "[reliability][idx]") {
  TempDir tmp("rel-idx");
  SECTION("a header declaring 1 image of 4x4, then 8 MB of zeros") {
    const std::string header = std::string("\0\0\x08\x03", 4) + be32(1) + be32(4) + be32(4);
    tgtest::write_bytes(tmp / "bomb.gz", gzip_bomb(header + std::string(16, '\1'), 8u << 20));
    const std::string msg = format_error([&] { vae::read_idx_images(tmp / "bomb.gz"); });
    INFO(msg);
    CHECK(contains(msg, "byte 32: at least 1 unexpected bytes after the 1 images of 4x4"));
  }
  SECTION("a header declaring more than the compressed file can hold") {
    const std::string header = std::string("\0\0\x08\x03", 4) + be32(60000) + be32(28) + be32(28);
    tgtest::write_bytes(tmp / "big.gz", gzip_bomb(header, 1000));
    const std::string msg = format_error([&] { vae::read_idx_images(tmp / "big.gz"); });
    INFO(msg);
    CHECK(contains(msg, "byte 4: the header declares 47040016 bytes, more than a"));
  }
}

namespace {

// A VAE on 28x28 images with `hidden` units and a 2-d code, and a test split of `images` (n, 784).
std::unique_ptr<vae::Model> small_vae(std::int64_t hidden, std::uint64_t seed) {
  vae::Config c;
  c.hidden = hidden;
  c.latent = 2;
  tg::Generator init(seed);
  return std::make_unique<vae::Model>(c, &init);
}
vae::Split split_of(const tg::Tensor& images) {
  vae::Split s;
  s.rows = s.cols = 28;
  // Split keeps bytes: x in [0, 1] becomes round(255 x).
  const std::vector<double> v = images.to_vector();
  s.bytes.resize(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    s.bytes[i] = static_cast<std::uint8_t>(std::lround(255 * v[i]));
  s.labels.assign(static_cast<std::size_t>(images.size(0)), 3);
  return s;
}

}  // namespace

TEST_CASE(
    "F7: eval's importance samples go through the model in chunks: memory does not grow with K",
    "[reliability][eval]") {
  const auto model = small_vae(4, 1);
  const vae::Split s = split_of(tg::Tensor::full({1, 784}, 0.5f));
  // K = 200,000 at once needed (200,000 x 784) float tensors of 627 MB each; in chunks it needs a
  // few MB. The address space is capped 512 MB above what the process already has (not under ASan,
  // which reserves terabytes of shadow memory).
  const int K = tgtest::kSanitized ? 3000 : 200000;
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
  if (!tgtest::kSanitized) {
    std::size_t vm_kb = 0;
    std::istringstream status(tg::read_file("/proc/self/status"));
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmSize:", 0) == 0) vm_kb = std::stoull(line.substr(7));
    REQUIRE(vm_kb > 0);
    rlimit cap = old;
    cap.rlim_cur = (vm_kb << 10) + (512u << 20);
    REQUIRE(setrlimit(RLIMIT_AS, &cap) == 0);
  }
  vae::EvalResult r;
  try {
    r = vae::evaluate(*model, s, vae::Binarize::none, K, 1);
  } catch (...) {
    setrlimit(RLIMIT_AS, &old);
    throw;
  }
  setrlimit(RLIMIT_AS, &old);
  CHECK(r.iw_samples == K);
  CHECK(std::isfinite(r.iwae));
  // The bound is tighter than the (one-sample) ELBO, give or take the ELBO's own sampling noise.
  CHECK(r.iwae <= r.loss + 5.0);
}

TEST_CASE("F7: the bound from 3 chunks of samples is close to the one from a single chunk",
          "[reliability][eval]") {
  const auto model = small_vae(8, 2);
  const vae::Split s = split_of(tg::Tensor::rand({3, 784}));
  const double one_chunk = vae::evaluate(*model, s, vae::Binarize::none, 1000, 5).iwae;
  const double chunks = vae::evaluate(*model, s, vae::Binarize::none, 3000, 5).iwae;  // 3 chunks
  CHECK(std::isfinite(one_chunk));
  CHECK(chunks == Approx(one_chunk).epsilon(0.02));
}

TEST_CASE("F8: a test set with no pair of the default digits still gets an interpolation",
          "[reliability][figures]") {
  vae::Split s;
  s.rows = s.cols = 28;
  s.bytes.assign(784, 0);
  s.labels = {4};
  const auto pairs = vae::default_pairs(s);
  REQUIRE(pairs.size() == 1);
  CHECK(pairs[0] == std::pair<std::int64_t, std::int64_t>{0, 0});
  s.bytes.assign(2 * 784, 0);
  s.labels = {4, 4};
  CHECK(vae::default_pairs(s) == std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 1}});
  vae::Config c;
  tg::Generator init(1);
  vae::Model model(c, &init);
  TempDir tmp("rel-interp");
  vae::write_interpolation(tmp / "i.png", model, s, vae::default_pairs(s), 10);
  CHECK(fs::file_size(tmp / "i.png") > 0);
}

TEST_CASE("F9: the temporary file of a writer killed with SIGKILL is removed by the next write",
          "[reliability][atomic_file]") {
  TempDir tmp("rel-atomic");
  const std::string target = tmp / "model.safetensors";
  tg::write_file_atomic(target, "old");
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // a writer that dies before its commit
    tg::AtomicFile f(target);
    f.write("half a checkpoint");
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(temp_files(tmp) == 1);                    // what kill -9 leaves
  CHECK(tg::read_file(target) == "old");          // and the target is intact
  tg::write_file_atomic(tmp / "other.txt", "x");  // another target's write leaves it alone
  CHECK(temp_files(tmp) == 1);
  tg::write_file_atomic(target, "new");
  CHECK(temp_files(tmp) == 0);
  CHECK(tg::read_file(target) == "new");
}

TEST_CASE("F9: a live writer's temporary file is never removed", "[reliability][atomic_file]") {
  TempDir tmp("rel-atomic-live");
  const std::string target = tmp / "metrics.jsonl";
  int ready[2], done[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(done) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // a writer that stays in the middle of its write until told to finish
    close(ready[0]);
    close(done[1]);
    {
      tg::AtomicFile f(target);
      f.write("in progress");
      char c = 1;
      if (write(ready[1], &c, 1) != 1) _exit(1);
      if (read(done[0], &c, 1) < 0) _exit(1);  // returns 0 when the parent closes its end
      f.commit();
    }
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  tg::write_file_atomic(target, "parent");
  CHECK(temp_files(tmp) == 1);  // the child's, still in use
  close(done[1]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(temp_files(tmp) == 0);
  CHECK(tg::read_file(target) == "in progress");
  close(ready[0]);
}
