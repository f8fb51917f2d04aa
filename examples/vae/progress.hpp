// Terminal output of the VAE example: one progress bar at a time on stderr (label, bar, count,
// rate, ETA and a running metric) and the lines printed under it. print_line() clears the bar
// before the line and redraws it after, so a line is never glued onto a bar. The bar is drawn only
// when stdout and stderr are both terminals; otherwise (a log file, a pipe, CI) there are only the
// plain lines, without a single control character.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace vae {

// True when bars are drawn (both stdout and stderr are terminals). Decided once per process.
bool progress_enabled();

// Prints `line` and a newline on stdout, clearing the active bar first and redrawing it after.
void print_line(const std::string& line);

class ProgressBar {
 public:
  // `enabled` false draws nothing (e.g. a quiet mode); it is also off when progress_enabled() is.
  ProgressBar(std::string label, std::int64_t total, bool enabled = true);
  ~ProgressBar();  // clears the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // Step `done` of `total`; `metric` is shown as e.g. "loss 132.40" when named.
  void update(std::int64_t done, const std::string& metric_name = {}, double metric = 0);

  // The bar's text for `done` of `total` after `seconds` (no control codes); exposed for tests.
  static std::string render(const std::string& label, std::int64_t done, std::int64_t total,
                            double seconds, const std::string& metric_name, double metric);

 private:
  friend void print_line(const std::string& line);
  void draw();
  std::string label_, text_;
  std::int64_t total_;
  bool enabled_;
  ProgressBar* outer_ =
      nullptr;  // the bar this one replaced (e.g. the epoch's, during its evaluation)
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vae
