// The run page: index.html in a run folder, one self-contained file a person opens in a browser
// (images inline as data URIs, no scripts, no network): the run's status, its pictures, the loss
// curves, the metrics table and the configuration.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "examples/vae/train.hpp"

namespace vae {

struct RunPage {
  std::string title;   // e.g. "vae run: runs/vae-20261203-091500"
  std::string status;  // e.g. "finished: 10 of 10 epochs"
  std::map<std::string, std::string>
      config;  // the checkpoint's metadata (model and training settings)
  std::vector<EpochMetrics> history;
  int best_epoch = 0;  // marked in the table (0: none)
};

// Writes dir/index.html (atomically), embedding the run's pictures that exist in `dir`
// (reconstructions, samples, interpolation, latent space, loss curves, snapshots/*.png).
void write_run_page(const std::string& dir, const RunPage& page);

}  // namespace vae
