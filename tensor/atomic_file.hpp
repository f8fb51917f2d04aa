// The project's file I/O helper: reading a whole file, and writing files atomically.
//
// read_file returns a file's bytes or throws tg::Error naming the path and the reason.
//
// Atomic writing: a reader (or a crash) sees either the old file or the complete new one, never a
// partial file. The bytes go to a temporary file in the target's folder (rename is atomic only
// within one file system), which is fsynced and then renamed over the target; the folder is fsynced
// so the rename itself survives a power cut. Checkpoints, pictures and metrics are all written this
// way.
//
// A writer killed before its commit (kill -9, a crash) leaves its temporary file
// ("<target>.tmp-<pid>-<hex>") behind; the next write of the same target removes it once that
// process is gone and nothing holds the file's lock (docs/reliability.md).
#pragma once
#include <string>
#include <string_view>

namespace tg {

// The whole content of the file at `path`, byte for byte. Failures (a missing or unreadable file, a
// folder, a read error) are tg::Error saying which path failed and why ("cannot read
// runs/x/model.safetensors: No such file or directory").
std::string read_file(const std::string& path);

// Writes `bytes` to `path` atomically. On failure the temporary file is removed, the target is left
// as it was, and tg::Error says which path failed and why ("cannot write runs/x/model.safetensors:
// Permission denied").
void write_file_atomic(const std::string& path, std::string_view bytes);

// RAII form, for output produced in pieces: write() as often as needed, then commit() to publish.
// Destroying an AtomicFile that was not committed (an exception on the way) removes the temporary
// file.
class AtomicFile {
 public:
  explicit AtomicFile(
      std::string path);  // creates path + ".tmp-<pid>-<random>", removes stale ones
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  void commit();  // fsync, rename over the target, fsync the folder

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  bool committed() const { return committed_; }

 private:
  [[noreturn]] void fail(int err);  // removes the temporary file and throws
  void discard() noexcept;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace tg
