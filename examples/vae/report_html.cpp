// The run page (index.html) of a training run.
#include "examples/vae/report_html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "examples/vae/figures.hpp"
#include "examples/vae/plot.hpp"
#include "tapegrad/tensor/atomic_file.hpp"

namespace vae {

namespace fs = std::filesystem;

namespace {

std::string image_tag(const fs::path& file, const std::string& alt) {
  const std::string mime = file.extension() == ".svg" ? "image/svg+xml" : "image/png";
  return fmt::format("<img alt=\"{}\" src=\"data:{};base64,{}\">", xml_escape(alt), mime,
                     base64(tg::read_file(file.string())));
}

// A figure with its caption, when the file exists.
std::string figure(const fs::path& dir, const std::string& file, const std::string& caption) {
  if (!fs::exists(dir / file)) return {};
  return fmt::format("<figure>{}<figcaption>{}</figcaption></figure>\n",
                     image_tag(dir / file, file), xml_escape(caption));
}

}  // namespace

void write_run_page(const std::string& dir_name, const RunPage& page) {
  const fs::path dir(dir_name);
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\">\n<title>{0}</title>\n<style>\n"
      "body {{ font-family: sans-serif; margin: 2em; color: #222; }}\n"
      "figure {{ display: inline-block; margin: 0 2em 2em 0; vertical-align: top; }}\n"
      "figure img {{ max-width: 100%; }} figure img[src^=\"data:image/svg\"] {{ width: 400px; }} "
      "figcaption {{ color: #555; font-size: 0.9em; }}\n"
      "table {{ border-collapse: collapse; margin-bottom: 2em; }}\n"
      "td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }}\n"
      "th {{ background: #eee; }} td.key {{ text-align: left; font-family: monospace; }}\n"
      "tr.best {{ background: #e6f4e6; }} .snapshots img {{ width: 232px; }}\n"
      "</style>\n</head>\n<body>\n<h1>{0}</h1>\n<p class=\"status\">{1}</p>\n",
      xml_escape(page.title), xml_escape(page.status));

  // The numbers first (what a researcher looks for), then the pictures.
  if (!page.history.empty()) {
    const EpochMetrics& last = page.history.back();
    html +=
        fmt::format("<p class=\"summary\">last epoch {}: train {:.3f}, test {:.3f} nats per image",
                    last.epoch, last.train_loss, last.test_loss);
    for (const auto& m : page.history)
      if (m.epoch == page.best_epoch)
        html += fmt::format("; best test {:.3f} at epoch {}", m.test_loss, m.epoch);
    html += "</p>\n";
  }
  html += figure(dir, "loss.svg", "train and test loss per epoch");
  html += figure(dir, "latent.svg", "test codes coloured by label");
  html += "<h2>Pictures</h2>\n";
  html +=
      figure(dir, "reconstructions.png", "test images (top) and their reconstructions (bottom)");
  html += figure(dir, "samples.png", "decoded samples z ~ N(0, I)");
  html += figure(dir, "interpolation.png", "decodings along straight lines between test codes");

  if (fs::is_directory(dir / "snapshots")) {
    std::vector<fs::path> snaps;
    for (const auto& e : fs::directory_iterator(dir / "snapshots"))
      if (e.path().extension() == ".png") snaps.push_back(e.path());
    std::sort(snaps.begin(), snaps.end());
    if (!snaps.empty()) {
      html += "<h2>Samples per epoch</h2>\n<div class=\"snapshots\">\n";
      for (const auto& p : snaps)
        html += fmt::format("<figure>{}<figcaption>{}</figcaption></figure>\n",
                            image_tag(p, p.filename().string()), xml_escape(p.stem().string()));
      html += "</div>\n";
    }
  }

  html +=
      "<h2>Metrics</h2>\n<table class=\"metrics\">\n<tr><th>epoch</th><th>train loss</th><th>test "
      "loss</th>"
      "<th>test recon</th><th>test KL</th><th>seconds</th></tr>\n";
  for (const auto& m : page.history)
    html += fmt::format(
        "<tr{}><td>{}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td><td>{:.3f}</td>"
        "<td>{:.2f}</td></tr>\n",
        m.epoch == page.best_epoch ? " class=\"best\"" : "", m.epoch, m.train_loss, m.test_loss,
        m.test_recon, m.test_kl, m.seconds);
  html += "</table>\n";
  if (page.best_epoch > 0)
    html += fmt::format(
        "<p>The highlighted row is the lowest test loss, saved in best.safetensors.</p>\n");

  html += "<h2>Configuration</h2>\n<table class=\"config\">\n";
  for (const auto& [k, v] : page.config)
    html += fmt::format("<tr><td class=\"key\">{}</td><td class=\"key\">{}</td></tr>\n",
                        xml_escape(k), xml_escape(v));
  html += "</table>\n</body>\n</html>\n";
  tg::write_file_atomic((dir / "index.html").string(), html);
}

}  // namespace vae
