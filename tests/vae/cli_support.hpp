// Helpers for the tests that run the `vae` program as a user would (tests/vae/test_cli.cpp,
// test_runs.cpp): run it with arguments and capture its exit status, stdout and stderr; list a
// folder's files; recognise a PNG.
#pragma once
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

namespace tgtest::cli {

namespace fs = std::filesystem;

inline const std::string kProgram = TG_BINARY_DIR "/examples/vae/vae";

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Every file under `dir`, relative to it (sorted).
inline std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (!e.is_directory()) out.insert(fs::relative(e.path(), dir).string());
  return out;
}

struct Result {
  int status = -1;  // the exit status
  std::string out, err;
};

// Runs the program with `args` (each quoted for the shell), capturing stdout and stderr.
inline Result run(const std::vector<std::string>& args) {
  static tgtest::TempDir logs("cli-logs");
  static int counter = 0;
  if (!fs::exists(kProgram))
    FAIL("the vae program is not built: "
         << kProgram << " does not exist (build it: cmake --build <build dir> --target vae)");
  const std::string out = logs / ("out-" + std::to_string(counter)),
                    err = logs / ("err-" + std::to_string(counter));
  ++counter;
  std::string shown = "vae", cmd = quote(kProgram);
  for (const auto& a : args) {
    shown += ' ';
    shown += a;
    cmd += ' ';
    cmd += quote(a);
  }
  cmd += " </dev/null >" + quote(out) + " 2>" + quote(err);
  const int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = tg::read_file(out);
  r.err = tg::read_file(err);
  UNSCOPED_INFO("$ " << shown << "\nexit " << r.status << "\nstdout: " << r.out
                     << "\nstderr: " << r.err);
  return r;
}

inline bool is_png(const std::string& path) {
  return tg::read_file(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0;
}

}  // namespace tgtest::cli
