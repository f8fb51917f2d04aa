// PNG grids (encoded by stb_image_write, deflated by zlib), hand-laid-out SVG charts, 2-D PCA by
// Jacobi's eigenvalue method, and the inverse normal CDF. See plot.hpp for what each one promises.
#include "examples/vae/plot.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <numbers>
#include <numeric>

#include "tapegrad/tensor/atomic_file.hpp"
#include "tapegrad/tensor/error.hpp"

// stb's own deflate is simple and makes larger files than zlib; stb lets us plug zlib in. It frees
// the result with free(), so it must come from malloc().
static unsigned char* zlib_compress_for_stb(unsigned char* data, int len, int* out_len,
                                            int quality) {
  uLongf size = compressBound(static_cast<uLong>(len));
  auto* out = static_cast<unsigned char*>(std::malloc(size));
  if (!out) return nullptr;
  if (compress2(out, &size, data, static_cast<uLong>(len), std::clamp(quality, 1, 9)) != Z_OK) {
    std::free(out);
    return nullptr;
  }
  *out_len = static_cast<int>(size);
  return out;
}
#define STBIW_ZLIB_COMPRESS zlib_compress_for_stb
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC  // private to this file: no clash with another copy of stb in the
                                // program
#define STBI_WRITE_NO_STDIO     // we write files ourselves, atomically
#include <stb_easy_font.h>
#include <stb_image_write.h>

namespace vae {
namespace {

// ---------------------------------------------------------------------------------------------------
// PNG

std::uint8_t to_byte(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  if (v >= 1.0f) return 255;
  return static_cast<std::uint8_t>(std::lround(v * 255.0f));
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<std::size_t>(size));
}

void write_png_rows(const char* fn, const std::string& path,
                    const std::vector<std::vector<const float*>>& tile_rows, int rows, int cols,
                    int scale, int pad, float pad_value) {
  if (rows < 1 || cols < 1 || scale < 1 || pad < 0)
    throw tg::ValueError(
        fmt::format("{}: expected rows, cols, scale >= 1 and pad >= 0, got rows={} cols={} "
                    "scale={} pad={}",
                    fn, rows, cols, scale, pad));
  std::size_t grid_cols = 0;
  for (const auto& r : tile_rows) grid_cols = std::max(grid_cols, r.size());
  if (tile_rows.empty() || grid_cols == 0)
    throw tg::ValueError(fmt::format("{}: no images to draw ({})", fn, path));

  const std::int64_t tile_w = std::int64_t{cols} * scale, tile_h = std::int64_t{rows} * scale;
  const std::int64_t width = static_cast<std::int64_t>(grid_cols) * (tile_w + pad) + pad;
  const std::int64_t height = static_cast<std::int64_t>(tile_rows.size()) * (tile_h + pad) + pad;
  // stb takes int sizes and PNG caps each side at 2^31; a picture this large is a caller's mistake
  // anyway.
  if (width > 30000 || height > 30000)
    throw tg::ValueError(
        fmt::format("{}: a {}x{} picture is too large (at most 30000 pixels a side); "
                    "draw fewer tiles or a smaller scale",
                    fn, width, height));

  std::vector<std::uint8_t> canvas(static_cast<std::size_t>(width * height), to_byte(pad_value));
  for (std::size_t gr = 0; gr < tile_rows.size(); ++gr) {
    for (std::size_t gc = 0; gc < tile_rows[gr].size(); ++gc) {
      const float* img = tile_rows[gr][gc];
      const std::int64_t x0 = pad + static_cast<std::int64_t>(gc) * (tile_w + pad);
      const std::int64_t y0 = pad + static_cast<std::int64_t>(gr) * (tile_h + pad);
      for (std::int64_t y = 0; y < tile_h; ++y) {
        std::uint8_t* line = canvas.data() + (y0 + y) * width + x0;
        for (std::int64_t x = 0; x < tile_w; ++x)
          line[x] = img ? to_byte(img[(y / scale) * cols + x / scale]) : 0;
      }
    }
  }
  std::string png;
  if (!stbi_write_png_to_func(append_to_string, &png, static_cast<int>(width),
                              static_cast<int>(height), 1, canvas.data(), static_cast<int>(width)))
    throw tg::Error(fmt::format("{}: cannot write {}: PNG encoding failed", fn, path));
  tg::write_file_atomic(path, png);
}

// Draws `text` with its top-left corner at (x, y) into an 8-bit canvas, each font pixel a
// `scale` x `scale` block of value `ink`. stb_easy_font gives the glyphs as axis-aligned quads.
void draw_text(std::vector<std::uint8_t>& canvas, std::int64_t width, std::int64_t height, double x,
               double y, const std::string& text, int scale, std::uint8_t ink) {
  if (text.empty()) return;
  std::string t = text;
  std::vector<char> buffer(t.size() * 1600 + 64);  // up to ~25 quads a glyph, 64 bytes a quad
  const int quads =
      stb_easy_font_print(0, 0, t.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    float v[4][4];  // x, y, z, colour for the quad's four corners
    std::memcpy(v, buffer.data() + static_cast<std::size_t>(q) * sizeof v, sizeof v);
    const float x0 = std::min({v[0][0], v[1][0], v[2][0], v[3][0]}),
                x1 = std::max({v[0][0], v[1][0], v[2][0], v[3][0]});
    const float y0 = std::min({v[0][1], v[1][1], v[2][1], v[3][1]}),
                y1 = std::max({v[0][1], v[1][1], v[2][1], v[3][1]});
    for (std::int64_t py = std::llround(y + y0 * scale); py < std::llround(y + y1 * scale); ++py)
      for (std::int64_t px = std::llround(x + x0 * scale); px < std::llround(x + x1 * scale); ++px)
        if (px >= 0 && py >= 0 && px < width && py < height)
          canvas[static_cast<std::size_t>(py * width + px)] = ink;
  }
}

int text_width(const std::string& text) {
  std::string t = text;
  return text.empty() ? 0 : stb_easy_font_width(t.data());
}

// ---------------------------------------------------------------------------------------------------
// SVG

// Matplotlib's tab10: ten colours that stay distinguishable for most colour-vision deficiencies.
constexpr const char* kPalette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // A little air around the data, and a non-empty range even for one point (or none).
  Range padded() const {
    if (!(lo <= hi)) return {0.0, 1.0};
    double a = lo, b = hi;
    if (b - a < 1e-12 * std::max(1.0, std::abs(a))) {
      const double half = std::max(0.5, std::abs(a) * 0.1);
      a -= half;
      b += half;
    }
    const double margin = 0.04 * (b - a);
    return {a - margin, b + margin};
  }
};

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them inside [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6) {
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
  std::vector<double> ticks;
  // Integer multiples of the step: no accumulated rounding (0.30000000000000004).
  for (double k = std::ceil(lo / step); k * step <= hi; k += 1.0) ticks.push_back(k * step);
  return ticks;
}

std::string tick_label(double v, double span) {
  if (std::abs(v) < 1e-9 * span) v = 0.0;  // not "-0" or "1.2e-17"
  return fmt::format("{:.6g}", v);
}

struct LegendEntry {
  std::string name;
  std::string colour;
  int style = 0;  // 0: the chart's swatch (a dot or a line); 1: a solid line; 2: a dashed line
};

// The parts of every chart: canvas, title, ticked axes with grid lines, axis labels, legend.
class Chart {
 public:
  Chart(const std::string& title, const std::string& xlabel, const std::string& ylabel, Range xr,
        Range yr, const std::vector<LegendEntry>& legend)
      : xr_(xr.padded()), yr_(yr.padded()) {
    std::size_t longest = 0;
    for (const auto& e : legend) longest = std::max(longest, e.name.size());
    // About 7 px per character at font-size 12, plus the swatch.
    const double legend_w =
        legend.empty() ? 24.0 : std::clamp(44.0 + 7.0 * static_cast<double>(longest), 70.0, 260.0);
    left_ = 76;
    top_ = 44;
    right_ = left_ + 560;
    bottom_ = top_ + 400;
    const double width = right_ + legend_w, height = bottom_ + 56;

    fmt::format_to(
        out(),
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
        R"(font-family="DejaVu Sans, Arial, sans-serif" font-size="12">)"
        "\n",
        width, height);
    fmt::format_to(out(),
                   R"(<rect x="0" y="0" width="{}" height="{}" fill="white"/>)"
                   "\n",
                   width, height);
    fmt::format_to(
        out(),
        R"(<text x="{}" y="26" text-anchor="middle" font-size="15" font-weight="bold">{}</text>)"
        "\n",
        (left_ + right_) / 2, xml_escape(title));

    const double xspan = xr_.hi - xr_.lo, yspan = yr_.hi - yr_.lo;
    svg_ += R"(<g stroke="#e6e6e6" stroke-width="1">)"
            "\n";
    for (double t : nice_ticks(xr_.lo, xr_.hi))
      fmt::format_to(out(),
                     R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}"/>)"
                     "\n",
                     sx(t), top_, bottom_);
    for (double t : nice_ticks(yr_.lo, yr_.hi))
      fmt::format_to(out(),
                     R"(<line x1="{1}" y1="{0:.1f}" x2="{2}" y2="{0:.1f}"/>)"
                     "\n",
                     sy(t), left_, right_);
    svg_ += "</g>\n";
    svg_ += R"(<g stroke="#333333" stroke-width="1">)"
            "\n";
    for (double t : nice_ticks(xr_.lo, xr_.hi))
      fmt::format_to(out(),
                     R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}"/>)"
                     "\n",
                     sx(t), bottom_, bottom_ + 5);
    for (double t : nice_ticks(yr_.lo, yr_.hi))
      fmt::format_to(out(),
                     R"(<line x1="{1}" y1="{0:.1f}" x2="{2}" y2="{0:.1f}"/>)"
                     "\n",
                     sy(t), left_ - 5, left_);
    svg_ += "</g>\n";
    svg_ += R"(<g fill="#333333">)"
            "\n";
    for (double t : nice_ticks(xr_.lo, xr_.hi))
      fmt::format_to(out(),
                     R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)"
                     "\n",
                     sx(t), bottom_ + 19, tick_label(t, xspan));
    for (double t : nice_ticks(yr_.lo, yr_.hi))
      fmt::format_to(out(),
                     R"(<text x="{}" y="{:.1f}" text-anchor="end">{}</text>)"
                     "\n",
                     left_ - 8, sy(t) + 4, tick_label(t, yspan));
    svg_ += "</g>\n";
    fmt::format_to(out(),
                   R"(<text x="{}" y="{}" text-anchor="middle" font-size="13">{}</text>)"
                   "\n",
                   (left_ + right_) / 2, bottom_ + 42, xml_escape(xlabel));
    fmt::format_to(
        out(),
        R"~(<text transform="translate(20 {}) rotate(-90)" text-anchor="middle" font-size="13">{}</text>)~"
        "\n",
        (top_ + bottom_) / 2, xml_escape(ylabel));
    legend_ = legend;
  }

  double sx(double v) const { return left_ + (v - xr_.lo) / (xr_.hi - xr_.lo) * (right_ - left_); }
  double sy(double v) const {
    return bottom_ - (v - yr_.lo) / (yr_.hi - yr_.lo) * (bottom_ - top_);
  }
  std::back_insert_iterator<std::string> out() { return std::back_inserter(svg_); }
  std::string& svg() { return svg_; }

  // Frame and legend go last, on top of the data. `line` chooses line swatches over dots.
  std::string finish(bool line) {
    fmt::format_to(out(),
                   R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#333333"/>)"
                   "\n",
                   left_, top_, right_ - left_, bottom_ - top_);
    if (!legend_.empty()) {
      svg_ += "<g>\n";
      for (std::size_t i = 0; i < legend_.size(); ++i) {
        const double x = right_ + 14, y = top_ + 10 + 20.0 * static_cast<double>(i);
        if (line || legend_[i].style > 0)
          fmt::format_to(
              out(),
              R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2.5"{}/>)"
              "\n",
              x, y, x + 20, y, xml_escape(legend_[i].colour),
              legend_[i].style == 2 ? R"( stroke-dasharray="6 4")" : "");
        else
          fmt::format_to(out(),
                         R"(<circle cx="{}" cy="{}" r="5" fill="{}"/>)"
                         "\n",
                         x + 8, y, legend_[i].colour);
        fmt::format_to(out(),
                       R"(<text x="{}" y="{}">{}</text>)"
                       "\n",
                       x + 28, y + 4, xml_escape(legend_[i].name));
      }
      svg_ += "</g>\n";
    }
    svg_ += "</svg>\n";
    return std::move(svg_);
  }

 private:
  Range xr_, yr_;
  double left_, top_, right_, bottom_;
  std::vector<LegendEntry> legend_;
  std::string svg_;
};

// ---------------------------------------------------------------------------------------------------
// PCA

// Eigen-decomposition of a symmetric d x d matrix (row-major) by cyclic Jacobi rotations: each
// rotation zeroes one off-diagonal pair; sweeps repeat until the off-diagonal mass is negligible.
// Simple, stable and plenty fast for d <= 64. On return a holds the eigenvalues on its diagonal and
// v (d x d) the eigenvectors as columns.
void jacobi_eigen(std::vector<double>& a, std::vector<double>& v, int d) {
  auto A = [&](int i, int j) -> double& { return a[static_cast<std::size_t>(i) * d + j]; };
  auto V = [&](int i, int j) -> double& { return v[static_cast<std::size_t>(i) * d + j]; };
  v.assign(static_cast<std::size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i) V(i, i) = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (int i = 0; i < d; ++i) {
      diag += A(i, i) * A(i, i);
      for (int j = i + 1; j < d; ++j) off += A(i, j) * A(i, j);
    }
    if (off <= 1e-30 * diag || off == 0.0) return;
    for (int p = 0; p < d; ++p) {
      for (int q = p + 1; q < d; ++q) {
        if (A(p, q) == 0.0) continue;
        // Rotation J (c at pp and qq, s at pq, -s at qp) with (J^T A J)_pq = 0:
        // (c^2 - s^2) a_pq + c s (a_pp - a_qq) = 0, so t = tan(phi) solves t^2 + 2 theta t - 1 = 0;
        // the smaller root keeps the rotation below 45 degrees (NR 11.1).
        const double theta = (A(q, q) - A(p, p)) / (2.0 * A(p, q));
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < d; ++k) {  // A J: columns p and q
          const double kp = A(k, p), kq = A(k, q);
          A(k, p) = c * kp - s * kq;
          A(k, q) = s * kp + c * kq;
        }
        for (int k = 0; k < d; ++k) {  // J^T (A J): rows p and q
          const double pk = A(p, k), qk = A(q, k);
          A(p, k) = c * pk - s * qk;
          A(q, k) = s * pk + c * qk;
        }
        for (int k = 0; k < d; ++k) {  // V J
          const double kp = V(k, p), kq = V(k, q);
          V(k, p) = c * kp - s * kq;
          V(k, q) = s * kp + c * kq;
        }
      }
    }
  }
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters even when escaped.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

void write_png_grid(const std::string& path, const std::vector<const float*>& images, int rows,
                    int cols, int grid_cols, int scale, int pad, float pad_value) {
  if (grid_cols < 1)
    throw tg::ValueError(fmt::format("write_png_grid: grid_cols must be >= 1, got {}", grid_cols));
  std::vector<std::vector<const float*>> tile_rows;
  for (std::size_t i = 0; i < images.size(); i += static_cast<std::size_t>(grid_cols))
    tile_rows.emplace_back(
        images.begin() + static_cast<std::ptrdiff_t>(i),
        images.begin() + static_cast<std::ptrdiff_t>(std::min(images.size(), i + grid_cols)));
  // A partial last row still spans the full grid width, so the picture is as wide as asked.
  if (!tile_rows.empty())
    tile_rows.back().resize(std::min<std::size_t>(grid_cols, images.size()), nullptr);
  write_png_rows("write_png_grid", path, tile_rows, rows, cols, scale, pad, pad_value);
}

void write_png_grid(const std::string& path,
                    const std::vector<std::vector<const float*>>& tile_rows, int rows, int cols,
                    int scale, int pad, float pad_value) {
  write_png_rows("write_png_grid", path, tile_rows, rows, cols, scale, pad, pad_value);
}

void write_png_grid(const std::string& path,
                    const std::vector<std::vector<const float*>>& tile_rows, int rows, int cols,
                    const GridText& text, int scale, int pad, float pad_value) {
  if (text.empty()) return write_png_grid(path, tile_rows, rows, cols, scale, pad, pad_value);
  if (rows < 1 || cols < 1 || scale < 1 || pad < 0)
    throw tg::ValueError(
        fmt::format("write_png_grid: expected rows, cols, scale >= 1 and pad >= 0, got rows={} "
                    "cols={} scale={} pad={}",
                    rows, cols, scale, pad));
  std::size_t grid_cols = 0;
  for (const auto& r : tile_rows) grid_cols = std::max(grid_cols, r.size());
  if (tile_rows.empty() || grid_cols == 0)
    throw tg::ValueError(fmt::format("write_png_grid: no images to draw ({})", path));
  constexpr int kLine = 12;  // a line of stb_easy_font text (7 px glyphs plus descenders and air)
  int left = 0;
  for (const auto& r : text.rows) left = std::max(left, text_width(r) + 8);
  const int top = (text.title.empty() ? 0 : kLine + 2) + (text.columns.empty() ? 0 : kLine);
  bool any_caption = false;
  for (const auto& r : text.captions)
    for (const auto& c : r) any_caption = any_caption || !c.empty();
  const int caption_h = any_caption ? kLine : 0;
  const std::int64_t tile_w = std::int64_t{cols} * scale, tile_h = std::int64_t{rows} * scale;
  const std::int64_t cell_h = tile_h + caption_h + pad;
  // As wide as the tiles, or as the title if that is wider.
  const std::int64_t width =
      std::max<std::int64_t>(left + static_cast<std::int64_t>(grid_cols) * (tile_w + pad) + pad,
                             text_width(text.title) + 8);
  const std::int64_t height = top + static_cast<std::int64_t>(tile_rows.size()) * cell_h + pad;
  if (width > 30000 || height > 30000)
    throw tg::ValueError(
        fmt::format("write_png_grid: a {}x{} picture is too large (at most 30000 pixels a side); "
                    "draw fewer tiles or a smaller scale",
                    width, height));
  std::vector<std::uint8_t> canvas(static_cast<std::size_t>(width * height), 255);
  // The grid's own area (below the headers, right of the row labels) is grey, as in the plain grid.
  for (std::int64_t y = top; y < height; ++y)
    for (std::int64_t x = left; x < width; ++x)
      canvas[static_cast<std::size_t>(y * width + x)] = to_byte(pad_value);
  if (!text.title.empty()) draw_text(canvas, width, height, 4, 3, text.title, 1, 0);
  for (std::size_t c = 0; c < text.columns.size() && c < grid_cols; ++c) {
    const double x0 = left + pad + static_cast<double>(c) * (tile_w + pad);
    draw_text(canvas, width, height, x0 + (tile_w - text_width(text.columns[c])) / 2.0,
              top - kLine + 2, text.columns[c], 1, 0);
  }
  for (std::size_t r = 0; r < tile_rows.size(); ++r) {
    const std::int64_t y0 = top + pad + static_cast<std::int64_t>(r) * cell_h;
    if (r < text.rows.size())
      draw_text(canvas, width, height, 3, y0 + (tile_h - 7) / 2.0, text.rows[r], 1, 0);
    for (std::size_t c = 0; c < tile_rows[r].size(); ++c) {
      const float* img = tile_rows[r][c];
      const std::int64_t x0 = left + pad + static_cast<std::int64_t>(c) * (tile_w + pad);
      for (std::int64_t y = 0; y < tile_h; ++y) {
        std::uint8_t* line = canvas.data() + (y0 + y) * width + x0;
        for (std::int64_t x = 0; x < tile_w; ++x)
          line[x] = img ? to_byte(img[(y / scale) * cols + x / scale]) : 0;
      }
      if (r < text.captions.size() && c < text.captions[r].size() && !text.captions[r][c].empty()) {
        for (std::int64_t y = y0 + tile_h; y < y0 + tile_h + caption_h; ++y)
          for (std::int64_t x = x0; x < x0 + tile_w; ++x)
            canvas[static_cast<std::size_t>(y * width + x)] = 255;
        draw_text(canvas, width, height, x0 + (tile_w - text_width(text.captions[r][c])) / 2.0,
                  y0 + tile_h + 2, text.captions[r][c], 1, 0);
      }
    }
  }
  std::string png;
  if (!stbi_write_png_to_func(append_to_string, &png, static_cast<int>(width),
                              static_cast<int>(height), 1, canvas.data(), static_cast<int>(width)))
    throw tg::Error(fmt::format("write_png_grid: cannot write {}: PNG encoding failed", path));
  tg::write_file_atomic(path, png);
}

void write_scatter_svg(const std::string& path, const std::vector<float>& x,
                       const std::vector<float>& y, const std::vector<int>& label,
                       const std::string& title, const std::string& xlabel,
                       const std::string& ylabel, const ScatterExtras& extras) {
  if (x.size() != y.size() || (!label.empty() && label.size() != x.size()))
    throw tg::ValueError(
        fmt::format("write_scatter_svg: x, y and label differ in length: {}, {}, {}", x.size(),
                    y.size(), label.size()));
  bool present[10] = {};
  for (std::size_t i = 0; i < label.size(); ++i) {
    if (label[i] < 0 || label[i] > 9)
      throw tg::ValueError(
          fmt::format("write_scatter_svg: label[{}] = {} is outside 0..9", i, label[i]));
    present[label[i]] = true;
  }
  Range xr, yr;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) {
      xr.add(x[i]);
      yr.add(y[i]);
    }
  if (!extras.class_names.empty() && extras.class_names.size() != 10)
    throw tg::ValueError(
        fmt::format("write_scatter_svg: {} class names; expected 10", extras.class_names.size()));
  std::vector<LegendEntry> legend;
  for (int k = 0; k < 10; ++k)
    if (present[k])
      legend.push_back(
          {extras.class_names.empty() ? std::to_string(k) : extras.class_names[k], kPalette[k]});
  // Each ellipse as a closed polyline: c + k L (cos t, sin t), L L^T = S (Cholesky).
  std::vector<std::vector<std::pair<double, double>>> outlines;
  for (const Ellipse& e : extras.ellipses) {
    if (!(e.sxx > 0) || !(e.syy > 0) || e.sxx * e.syy - e.sxy * e.sxy <= 0 || !(e.k > 0))
      throw tg::ValueError(fmt::format(
          "write_scatter_svg: ellipse '{}' has no positive-definite covariance", e.name));
    const double l11 = std::sqrt(e.sxx), l21 = e.sxy / l11, l22 = std::sqrt(e.syy - l21 * l21);
    std::vector<std::pair<double, double>> pts;
    for (int i = 0; i <= 96; ++i) {
      const double t = 2 * std::numbers::pi * i / 96, a = std::cos(t), b = std::sin(t);
      pts.emplace_back(e.cx + e.k * l11 * a, e.cy + e.k * (l21 * a + l22 * b));
      xr.add(pts.back().first);
      yr.add(pts.back().second);
    }
    outlines.push_back(std::move(pts));
    if (!e.name.empty()) legend.push_back({e.name, e.colour, e.dashed ? 2 : 1});
  }

  Chart chart(title, xlabel, ylabel, xr, yr, legend);
  // Points in the order given (not grouped by class), so no class is always painted over the
  // others.
  const double r = x.size() > 2000 ? 1.8 : 2.8;
  fmt::format_to(chart.out(), R"(<g fill-opacity="0.7" stroke="none">)"
                              "\n");
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    fmt::format_to(chart.out(),
                   R"(<circle cx="{:.1f}" cy="{:.1f}" r="{}" fill="{}"/>)"
                   "\n",
                   chart.sx(x[i]), chart.sy(y[i]), r,
                   label.empty() ? kPalette[0] : kPalette[label[i]]);
  }
  chart.svg() += "</g>\n";
  for (std::size_t i = 0; i < outlines.size(); ++i) {
    std::string points;
    for (const auto& [px, py] : outlines[i])
      fmt::format_to(std::back_inserter(points), "{}{:.1f},{:.1f}", points.empty() ? "" : " ",
                     chart.sx(px), chart.sy(py));
    const Ellipse& e = extras.ellipses[i];
    fmt::format_to(chart.out(),
                   R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>)"
                   "\n",
                   points, xml_escape(e.colour), e.dashed ? R"( stroke-dasharray="6 4")" : "");
  }
  tg::write_file_atomic(path, chart.finish(false));
}

void write_line_svg(const std::string& path, const std::vector<Series>& series,
                    const std::string& title, const std::string& xlabel,
                    const std::string& ylabel) {
  Range xr, yr;
  for (const auto& [name, pts] : series)
    for (const auto& [px, py] : pts)
      if (std::isfinite(px) && std::isfinite(py)) {
        xr.add(px);
        yr.add(py);
      }
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < series.size(); ++i)
    legend.push_back({series[i].first, kPalette[i % 10]});

  Chart chart(title, xlabel, ylabel, xr, yr, legend);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* colour = kPalette[i % 10];
    std::string points;
    std::size_t count = 0;
    for (const auto& [px, py] : series[i].second)
      if (std::isfinite(px) && std::isfinite(py)) {
        fmt::format_to(std::back_inserter(points), "{}{:.1f},{:.1f}", count ? " " : "",
                       chart.sx(px), chart.sy(py));
        ++count;
      }
    if (count > 1)
      fmt::format_to(chart.out(),
                     R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>)"
                     "\n",
                     points, colour);
    // Markers show where the measurements are; with many points they would only blur the line.
    if (count <= 60) {
      fmt::format_to(chart.out(),
                     R"(<g fill="{}">)"
                     "\n",
                     colour);
      for (const auto& [px, py] : series[i].second)
        if (std::isfinite(px) && std::isfinite(py))
          fmt::format_to(chart.out(),
                         R"(<circle cx="{:.1f}" cy="{:.1f}" r="3"/>)"
                         "\n",
                         chart.sx(px), chart.sy(py));
      chart.svg() += "</g>\n";
    }
  }
  tg::write_file_atomic(path, chart.finish(true));
}

std::vector<float> pca_2d(const std::vector<float>& data, int n, int d, Pca2d* info) {
  if (n < 0 || d < 1)
    throw tg::ValueError(fmt::format("pca_2d: expected n >= 0 and d >= 1, got n={} d={}", n, d));
  if (data.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(d))
    throw tg::ValueError(fmt::format("pca_2d: data has {} values, expected n * d = {} * {} = {}",
                                     data.size(), n, d,
                                     static_cast<std::size_t>(n) * static_cast<std::size_t>(d)));
  for (std::size_t i = 0; i < data.size(); ++i)
    if (!std::isfinite(data[i]))
      throw tg::ValueError(fmt::format("pca_2d: data[{}] (point {}, coordinate {}) is {}", i, i / d,
                                       i % d, data[i]));

  const auto at = [&](int i, int j) {
    return static_cast<double>(data[static_cast<std::size_t>(i) * d + j]);
  };
  std::vector<double> mean(d, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) mean[j] += at(i, j);
  for (auto& m : mean) m /= std::max(n, 1);
  // Sample covariance (n - 1), accumulated in double on centred data.
  std::vector<double> cov(static_cast<std::size_t>(d) * d, 0.0);
  std::vector<double> row(d);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) row[j] = at(i, j) - mean[j];
    for (int j = 0; j < d; ++j)
      for (int k = j; k < d; ++k) cov[static_cast<std::size_t>(j) * d + k] += row[j] * row[k];
  }
  const double denom = n > 1 ? n - 1.0 : 1.0;
  for (int j = 0; j < d; ++j)
    for (int k = j; k < d; ++k) {
      cov[static_cast<std::size_t>(j) * d + k] /= denom;
      cov[static_cast<std::size_t>(k) * d + j] = cov[static_cast<std::size_t>(j) * d + k];
    }
  double total = 0.0;
  for (int j = 0; j < d; ++j) total += cov[static_cast<std::size_t>(j) * d + j];

  std::vector<double> vecs;
  jacobi_eigen(cov, vecs, d);
  std::vector<int> order(d);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return cov[static_cast<std::size_t>(a) * d + a] > cov[static_cast<std::size_t>(b) * d + b];
  });

  std::array<std::vector<double>, 2> comp{std::vector<double>(d, 0.0), std::vector<double>(d, 0.0)};
  std::array<double, 2> var{0.0, 0.0};
  for (int c = 0; c < std::min(d, 2); ++c) {
    const int e = order[c];
    for (int j = 0; j < d; ++j) comp[c][j] = vecs[static_cast<std::size_t>(j) * d + e];
    // An eigenvector's sign is arbitrary; fix it so the same data always gives the same picture.
    int big = 0;
    for (int j = 1; j < d; ++j)
      if (std::abs(comp[c][j]) > std::abs(comp[c][big]) + 1e-12) big = j;
    if (comp[c][big] < 0)
      for (auto& v : comp[c]) v = -v;
    var[c] = std::max(0.0, cov[static_cast<std::size_t>(e) * d + e]);
  }

  std::vector<float> out(static_cast<std::size_t>(n) * 2);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 2; ++c) {
      double s = 0.0;
      for (int j = 0; j < d; ++j) s += (at(i, j) - mean[j]) * comp[c][j];
      out[static_cast<std::size_t>(i) * 2 + c] = static_cast<float>(s);
    }
  if (info) *info = Pca2d{std::move(mean), std::move(comp), var, total};
  return out;
}

double inverse_normal_cdf(double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw tg::ValueError(fmt::format("inverse_normal_cdf: p = {} is outside [0, 1]", p));
  if (p == 0.0) return -std::numeric_limits<double>::infinity();
  if (p == 1.0) return std::numeric_limits<double>::infinity();
  // Phi^-1(p) = -Phi^-1(1 - p); 1 - p is exact for p >= 0.5, and working in the lower half keeps
  // the refinement's erfc accurate (no cancellation against a p close to 1).
  if (p > 0.5) return -inverse_normal_cdf(1.0 - p);

  // Acklam's coefficients (relative error < 1.15e-9 before refinement).
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double p_low = 0.02425;

  double x;
  if (p < p_low) {  // lower tail
    const double q = std::sqrt(-2.0 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  } else {  // central region
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  // One Halley step on f(x) = Phi(x) - p, with Phi(x) = erfc(-x / sqrt 2) / 2: cubic convergence
  // takes the 1e-9 approximation to full double precision.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2.0 * std::numbers::pi) * std::exp(x * x / 2.0);
  // Deep in the denormal tail exp(x^2 / 2) overflows; the unrefined value is the best we have
  // there.
  if (!std::isfinite(u)) return x;
  return x - u / (1.0 + x * u / 2.0);
}

}  // namespace vae
