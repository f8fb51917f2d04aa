// Tests for tg::write_file_atomic and tg::AtomicFile: the target is replaced whole, failures leave no
// temporary file behind and say which path failed and why.
#include "tensor/atomic_file.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "tensor/error.hpp"

namespace fs = std::filesystem;

namespace {

// A fresh folder under the system's temporary directory, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("tg-test-atomic-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  int count_files() const {
    return static_cast<int>(std::distance(fs::directory_iterator(path), fs::directory_iterator()));
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("write_file_atomic creates a file with exactly the bytes given", "[atomic_file]") {
  TempDir dir;
  const auto target = dir.path / "out.bin";
  std::string bytes = "hello";
  bytes.push_back('\0');
  bytes += "world\n";
  tg::write_file_atomic(target.string(), bytes);
  CHECK(slurp(target) == bytes);
  CHECK(dir.count_files() == 1);  // no temporary file left next to it
}

TEST_CASE("write_file_atomic replaces an existing file", "[atomic_file]") {
  TempDir dir;
  const auto target = dir.path / "model.safetensors";
  tg::write_file_atomic(target.string(), std::string(10000, 'a'));
  tg::write_file_atomic(target.string(), "short");
  CHECK(slurp(target) == "short");
  CHECK(dir.count_files() == 1);
}

TEST_CASE("write_file_atomic writes an empty file", "[atomic_file]") {
  TempDir dir;
  const auto target = dir.path / "empty";
  tg::write_file_atomic(target.string(), "");
  CHECK(fs::exists(target));
  CHECK(fs::file_size(target) == 0);
}

TEST_CASE("write_file_atomic into a missing folder fails cleanly", "[atomic_file]") {
  TempDir dir;
  const auto target = dir.path / "no-such-dir" / "model.safetensors";
  try {
    tg::write_file_atomic(target.string(), "data");
    FAIL("expected tg::Error");
  } catch (const tg::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("cannot write " + target.string()) != std::string::npos);
    CHECK(msg.find("No such file or directory") != std::string::npos);
  }
  CHECK(dir.count_files() == 0);
}

TEST_CASE("write_file_atomic fails when the target is a folder, and leaves no temporary file",
          "[atomic_file]") {
  TempDir dir;
  const auto target = dir.path / "a-folder";
  fs::create_directories(target / "inside");
  CHECK_THROWS_AS(tg::write_file_atomic(target.string(), "data"), tg::Error);
  CHECK(dir.count_files() == 1);  // just the folder itself
  CHECK(fs::is_directory(target));
}

TEST_CASE("write_file_atomic in a read-only folder names the path and the reason", "[atomic_file]") {
  if (::geteuid() == 0) return;  // root ignores permissions, so there is nothing to observe
  TempDir dir;
  const auto ro = dir.path / "ro";
  fs::create_directories(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  const auto target = ro / "x.bin";
  try {
    tg::write_file_atomic(target.string(), "data");
    FAIL("expected tg::Error");
  } catch (const tg::Error& e) {
    CHECK(std::string(e.what()) == "cannot write " + target.string() + ": Permission denied");
  }
  fs::permissions(ro, fs::perms::owner_all);
}

TEST_CASE("AtomicFile publishes on commit and removes the temporary file otherwise", "[atomic_file]") {
  TempDir dir;
  const auto target = dir.path / "pieces.txt";
  {
    tg::AtomicFile f(target.string());
    CHECK(f.temp_path().rfind(target.string() + ".tmp-", 0) == 0);
    f.write("abc");
    f.write("def");
    CHECK(fs::exists(f.temp_path()));
    CHECK_FALSE(fs::exists(target));  // nothing visible before commit
    f.commit();
    CHECK(f.committed());
    CHECK_THROWS_AS(f.write("more"), tg::Error);
  }
  CHECK(slurp(target) == "abcdef");

  std::string temp;
  {
    tg::AtomicFile f(target.string());
    temp = f.temp_path();
    f.write("never published");
  }  // destroyed without commit, as when an exception unwinds
  CHECK_FALSE(fs::exists(temp));
  CHECK(slurp(target) == "abcdef");
  CHECK(dir.count_files() == 1);
}

TEST_CASE("AtomicFile temporary names are unique", "[atomic_file]") {
  TempDir dir;
  const auto target = (dir.path / "same").string();
  tg::AtomicFile a(target), b(target);
  CHECK(a.temp_path() != b.temp_path());
}
