// A one-line progress bar on stderr when stderr is a terminal (steps/s and a running loss), and
// nothing otherwise: logs and CI output get only the plain per-epoch lines.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace vae {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::int64_t total, bool enabled = true);
  ~ProgressBar();  // clears the line
  // Step `done` of `total`; `metric` is shown as e.g. "loss 132.4" when named.
  void update(std::int64_t done, const std::string& metric_name = {}, double metric = 0);

 private:
  std::string label_;
  std::int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vae
