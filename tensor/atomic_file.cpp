// Whole-file reading and atomic file writing with POSIX calls (open/read/write/fsync/rename): the
// C++ streams cannot fsync, and errno is the only way to say *why* a read or a write failed
// (libstdc++'s ifstream opens a folder without complaint and then throws its own text on the first
// read).
#include "tapegrad/tensor/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "tapegrad/tensor/error.hpp"

namespace tg {
namespace {

std::string error_text(int err) { return std::generic_category().message(err); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes the rename durable. Some file systems cannot fsync a directory (EINVAL); the rename has
// already happened there, so that is not an error worth failing a finished write for.
void sync_dir(const std::string& path) {
  const std::string dir = parent_dir(path);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw Error("cannot write " + path + ": cannot open its folder " + dir + ": " +
                error_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != ENOTSUP)
    throw Error("cannot write " + path + ": fsync of folder " + dir + ": " + error_text(err));
}

// "<pid>-<8 hex digits>", the tail of a temporary name; the pid, or -1 when `tail` is not one.
long temp_owner(std::string_view tail) {
  const auto dash = tail.find('-');
  if (dash == 0 || dash == std::string_view::npos || tail.size() - dash - 1 != 8) return -1;
  long pid = 0;
  for (char c : tail.substr(0, dash)) {
    if (c < '0' || c > '9' || pid > 100'000'000) return -1;
    pid = pid * 10 + (c - '0');
  }
  for (char c : tail.substr(dash + 1))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
  return pid;
}

// Removes the temporary files of `path` ("<name>.tmp-<pid>-<hex>") that a writer killed before its
// commit left behind (kill -9, a power cut, an abort). One is removed only when its process no
// longer exists and no one holds its lock (every writer flocks its temporary file while it is
// open), so a live writer's file is never touched, even if its pid was reused or lives in another
// pid namespace. Best effort: any failure leaves the file where it is, harmlessly (nothing reads
// temporary names).
void remove_stale_temps(const std::string& path) {
  const std::string dir = parent_dir(path);
  const auto slash = path.find_last_of('/');
  const std::string prefix = path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (!name.starts_with(prefix)) continue;
    const long pid = temp_owner(name.substr(prefix.size()));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
      continue;  // alive (EPERM: alive, not ours)
    const int fd = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlinkat(::dirfd(d), e->d_name, 0);
    ::close(fd);
  }
  ::closedir(d);
}

}  // namespace

std::string read_file(const std::string& path) {
  const auto fail = [&](int err) { return Error("cannot read " + path + ": " + error_text(err)); };
  int fd;
  do fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) throw fail(errno);
  std::string bytes;
  int err = 0;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (S_ISDIR(st.st_mode)) {
    err = EISDIR;  // open() accepts a folder; say so now rather than fail the first read
  } else {
    if (S_ISREG(st.st_mode) && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {  // until end of file: the size from fstat is only a hint (pipes, /proc, growing
                // files)
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      if (n == 0) break;
      bytes.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (err != 0) throw fail(err);
  return bytes;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw Error("cannot write an empty path");
  // pid + a random suffix: two processes (or two writers in one process) never share a temporary
  // name. O_EXCL makes a collision an error instead of a shared file; retry a few times with fresh
  // suffixes.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  int err = 0;
  for (int attempt = 0; attempt < 16; ++attempt) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%08llx", static_cast<long>(::getpid()),
                  static_cast<unsigned long long>(rng() & 0xffffffffULL));
    temp_path_ = path_ + suffix;
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_EX);  // held until close: tells remove_stale_temps this file is in use
      remove_stale_temps(path_);
      return;
    }
    err = errno;
    if (err != EEXIST) break;
  }
  temp_path_.clear();
  throw Error("cannot write " + path_ + ": " + error_text(err));
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

void AtomicFile::fail(int err) {
  discard();
  throw Error("cannot write " + path_ + ": " + error_text(err));
}

void AtomicFile::write(std::string_view bytes) {
  if (fd_ < 0)
    throw Error("cannot write " + path_ + ": the file was already committed or discarded");
  // write() may write less than asked (signals, pipes, quotas): loop until everything is out.
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void AtomicFile::commit() {
  if (fd_ < 0)
    throw Error("cannot write " + path_ + ": the file was already committed or discarded");
  // fsync before rename: otherwise a crash can leave the new name pointing at an empty file.
  if (::fsync(fd_) != 0) fail(errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(errno);  // NFS reports some write errors only at close
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail(errno);
  temp_path_.clear();
  committed_ = true;
  sync_dir(path_);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

}  // namespace tg
