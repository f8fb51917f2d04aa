// Tests for tg::read_file, tg::write_file_atomic and tg::AtomicFile: the target is replaced whole,
// failures leave no temporary file behind, and every failure says which path failed and why.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "support.hpp"
#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

namespace fs = std::filesystem;

using tgtest::TempDir;

TEST_CASE("write_file_atomic creates a file with exactly the bytes given", "[atomic_file]") {
  TempDir dir("atomic");
  const auto target = dir.path / "out.bin";
  std::string bytes = "hello";
  bytes.push_back('\0');
  bytes += "world\n";
  tg::write_file_atomic(target.string(), bytes);
  CHECK(tg::read_file(target) == bytes);
  CHECK(dir.count_files() == 1);  // no temporary file left next to it
}

TEST_CASE("write_file_atomic replaces an existing file", "[atomic_file]") {
  TempDir dir("atomic");
  const auto target = dir.path / "model.safetensors";
  tg::write_file_atomic(target.string(), std::string(10000, 'a'));
  tg::write_file_atomic(target.string(), "short");
  CHECK(tg::read_file(target) == "short");
  CHECK(dir.count_files() == 1);
}

TEST_CASE("write_file_atomic writes an empty file", "[atomic_file]") {
  TempDir dir("atomic");
  const auto target = dir.path / "empty";
  tg::write_file_atomic(target.string(), "");
  CHECK(fs::exists(target));
  CHECK(fs::file_size(target) == 0);
}

TEST_CASE("write_file_atomic into a missing folder fails cleanly", "[atomic_file]") {
  TempDir dir("atomic");
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
  TempDir dir("atomic");
  const auto target = dir.path / "a-folder";
  fs::create_directories(target / "inside");
  CHECK_THROWS_AS(tg::write_file_atomic(target.string(), "data"), tg::Error);
  CHECK(dir.count_files() == 1);  // just the folder itself
  CHECK(fs::is_directory(target));
}

TEST_CASE("write_file_atomic in a read-only folder names the path and the reason",
          "[atomic_file]") {
  if (::geteuid() == 0) return;  // root ignores permissions, so there is nothing to observe
  TempDir dir("atomic");
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

TEST_CASE("AtomicFile publishes on commit and removes the temporary file otherwise",
          "[atomic_file]") {
  TempDir dir("atomic");
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
  CHECK(tg::read_file(target) == "abcdef");

  std::string temp;
  {
    tg::AtomicFile f(target.string());
    temp = f.temp_path();
    f.write("never published");
  }  // destroyed without commit, as when an exception unwinds
  CHECK_FALSE(fs::exists(temp));
  CHECK(tg::read_file(target) == "abcdef");
  CHECK(dir.count_files() == 1);
}

TEST_CASE("AtomicFile temporary names are unique", "[atomic_file]") {
  TempDir dir("atomic");
  const auto target = (dir.path / "same").string();
  tg::AtomicFile a(target), b(target);
  CHECK(a.temp_path() != b.temp_path());
}

TEST_CASE("read_file returns every byte of a file", "[atomic_file][read_file]") {
  TempDir dir("atomic");
  std::string bytes(200000, '\0');  // several read() calls' worth, with NULs and every byte value
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 % 256);
  tg::write_file_atomic(dir / "big.bin", bytes);
  CHECK(tg::read_file(dir / "big.bin") == bytes);
  tg::write_file_atomic(dir / "empty", "");
  CHECK(tg::read_file(dir / "empty").empty());
}

TEST_CASE("read_file failures are tg::Errors naming the path and the reason",
          "[atomic_file][read_file]") {
  TempDir dir("atomic");
  const std::string missing = dir / "missing.bin";
  CHECK_THROWS_AS(tg::read_file(missing), tg::Error);
  CHECK_THROWS_WITH(tg::read_file(missing),
                    "cannot read " + missing + ": No such file or directory");
  // A folder opens like a file on Linux; it must still be a clear tg::Error, not a stream's
  // exception.
  CHECK_THROWS_AS(tg::read_file(dir.path.string()), tg::Error);
  CHECK_THROWS_WITH(tg::read_file(dir.path.string()),
                    "cannot read " + dir.path.string() + ": Is a directory");
  if (::geteuid() != 0) {  // root ignores permissions
    tg::write_file_atomic(dir / "secret", "x");
    fs::permissions(dir / "secret", fs::perms::none);
    CHECK_THROWS_WITH(tg::read_file(dir / "secret"),
                      "cannot read " + (dir / "secret") + ": Permission denied");
  }
}
