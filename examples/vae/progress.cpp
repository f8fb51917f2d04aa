// The progress bar: redrawn at most ten times a second with "\r" and an erase-line escape; the one
// active bar is known to print_line(), which erases it before a line and redraws it after.
#include "examples/vae/progress.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace vae {

namespace {
ProgressBar* g_active = nullptr;  // the bar on screen now, if any
constexpr const char* kClear = "\r\033[2K";

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

bool progress_enabled() {
  static const bool on = isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1;
  return on;
}

void print_line(const std::string& line) {
  if (g_active != nullptr) std::fputs(kClear, stderr), std::fflush(stderr);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (g_active != nullptr) g_active->draw();
}

ProgressBar::ProgressBar(std::string label, std::int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && progress_enabled()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {
  if (!enabled_) return;
  outer_ = g_active;
  g_active = this;
}

ProgressBar::~ProgressBar() {
  if (!enabled_) return;
  std::fputs(kClear, stderr);
  std::fflush(stderr);
  g_active = outer_;
  if (outer_ != nullptr) outer_->draw();
}

std::string ProgressBar::render(const std::string& label, std::int64_t done, std::int64_t total,
                                double seconds, const std::string& metric_name, double metric) {
  constexpr int width = 30;
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string line = fmt::format("{} [{}] {}/{}  {:.1f}/s", label, bar, done, total, rate);
  line += done >= total ? fmt::format("  {}", clock_text(seconds))
          : rate > 0 ? fmt::format("  eta {}", clock_text(static_cast<double>(total - done) / rate))
                     : std::string("  eta ?");
  if (!metric_name.empty()) line += fmt::format("  {} {:.2f}", metric_name, metric);
  return line;
}

void ProgressBar::draw() {
  if (text_.empty()) return;
  // A line wider than the terminal would wrap, and "\r" then erases only its last part: cut it.
  std::string text = text_;
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && text.size() >= ws.ws_col)
    text.resize(ws.ws_col - 1);
  std::fputs(kClear, stderr);
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressBar::update(std::int64_t done, const std::string& metric_name, double metric) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  text_ = render(label_, done, total_, std::chrono::duration<double>(now - start_).count(),
                 metric_name, metric);
  if (g_active == this) draw();
}

}  // namespace vae
