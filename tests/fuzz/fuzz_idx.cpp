// libFuzzer target: the IDX reader, raw and gzipped (it tells them apart by the gzip magic), as
// images and as labels. The reader takes a path, so the bytes go into an in-memory file (memfd)
// read through /proc/self/fd: no disk, no temporary files.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "examples/vae/idx.hpp"
#include "fuzz_main.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = [] {
    const int f = ::memfd_create("fuzz.idx", MFD_CLOEXEC);
    if (f < 0) std::abort();
    return f;
  }();
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  tgfuzz::run([&] { vae::read_idx_images(path); });
  tgfuzz::run([&] { vae::read_idx_labels(path); });
  return 0;
}
