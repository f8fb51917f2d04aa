// The progress bar: redrawn at most ten times a second, with "\r" and an erase-line escape.
#include "examples/vae/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace vae {

ProgressBar::ProgressBar(std::string label, std::int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

ProgressBar::~ProgressBar() {
  if (enabled_) std::fputs("\r\033[2K", stderr);
}

void ProgressBar::update(std::int64_t done, const std::string& metric_name, double metric) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  constexpr int width = 30;
  const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::string line = fmt::format("\r\033[2K{} [{}] {}/{}  {:.1f} steps/s", label_, bar, done, total_,
                                 secs > 0 ? done / secs : 0.0);
  if (!metric_name.empty()) line += fmt::format("  {} {:.2f}", metric_name, metric);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace vae
