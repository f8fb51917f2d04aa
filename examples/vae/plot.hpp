// Pictures for the VAE example: PNG grids of digits (reconstructions, samples, the latent
// manifold), SVG scatter plots of the latent space and SVG loss curves, plus the two bits of
// numerics they need (a 2-D PCA for latent spaces wider than 2, and the inverse normal CDF for the
// manifold grid). Every file is written atomically (tg::write_file_atomic): an interrupted run
// leaves no half picture.
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

namespace vae {

// A grid of greyscale tiles, grid_cols tiles per row, filled row by row. Each image is rows x cols
// floats in [0,1] (0 = black), row-major; values outside are clamped, NaN shows as black; a null
// pointer leaves its tile empty. Each pixel becomes a scale x scale block; tiles are separated by
// pad pixels of grey pad_value, with a border of the same width.
void write_png_grid(const std::string& path, const std::vector<const float*>& images, int rows,
                    int cols, int grid_cols, int scale = 2, int pad = 2, float pad_value = 0.5f);

// The same, laid out by the caller: tile_rows[r] is row r of the figure (rows may differ in length;
// the grid is as wide as the longest). E.g. originals above their reconstructions.
void write_png_grid(const std::string& path,
                    const std::vector<std::vector<const float*>>& tile_rows, int rows, int cols,
                    int scale = 2, int pad = 2, float pad_value = 0.5f);

// Text around a grid of tiles, drawn into the PNG with stb_easy_font (a small built-in bitmap font,
// ASCII only): a title line, a label above each column, one left of each row, and a caption under
// each tile (captions[r][c]; missing or empty ones leave no strip). Text is black on white margins.
struct GridText {
  std::string title;
  std::vector<std::string> columns, rows;
  std::vector<std::vector<std::string>> captions;
  bool empty() const {
    return title.empty() && columns.empty() && rows.empty() && captions.empty();
  }
};
void write_png_grid(const std::string& path,
                    const std::vector<std::vector<const float*>>& tile_rows, int rows, int cols,
                    const GridText& text, int scale = 2, int pad = 2, float pad_value = 0.5f);

// What the scatter plot draws on top of the points: ellipses {x : (x - c)^T S^-1 (x - c) = k^2} of
// a Gaussian N(c, S) in the plot's coordinates (e.g. the prior's 1- and 2-sigma contours), and
// names for the labels 0..9 in the legend (Fashion-MNIST's "T-shirt/top", ...).
struct Ellipse {
  double cx = 0, cy = 0;             // centre
  double sxx = 1, sxy = 0, syy = 1;  // covariance
  double k = 1;                      // radius in standard deviations
  std::string name;                  // legend entry; empty: none
  std::string colour = "#000000";
  bool dashed = false;
};
struct ScatterExtras {
  std::vector<Ellipse> ellipses;
  std::vector<std::string> class_names;  // empty: the labels' digits
};

// A scatter plot of (x[i], y[i]) coloured by label[i] in 0..9 (tab10 palette), with a legend of the
// labels present and ticked axes. An empty `label` draws every point in one colour, without a
// legend. Points with a non-finite coordinate are skipped.
void write_scatter_svg(const std::string& path, const std::vector<float>& x,
                       const std::vector<float>& y, const std::vector<int>& label,
                       const std::string& title, const std::string& xlabel,
                       const std::string& ylabel, const ScatterExtras& extras = {});

// A line chart: one line per named series of (x, y) points (e.g. train and test loss per epoch),
// with a legend. Points are drawn in the order given; non-finite points are skipped.
using Series = std::pair<std::string, std::vector<std::pair<double, double>>>;
void write_line_svg(const std::string& path, const std::vector<Series>& series,
                    const std::string& title, const std::string& xlabel, const std::string& ylabel);

// What pca_2d found, for captions ("PC1 explains 41% of the variance").
struct Pca2d {
  std::vector<double> mean;  // d
  std::array<std::vector<double>, 2>
      components;                    // unit vectors of length d, largest variance first
  std::array<double, 2> variance{};  // the variance along each component
  double total_variance = 0;         // the trace of the covariance
};

// Projects n points of dimension d (row-major, n x d) onto their first two principal components
// (eigenvectors of the sample covariance, by Jacobi's method). Returns n x 2 row-major: x0 y0 x1 y1
// ... Deterministic: each component's largest-magnitude entry is made positive. With d == 1 every y
// is 0.
std::vector<float> pca_2d(const std::vector<float>& data, int n, int d, Pca2d* info = nullptr);

// `s` with & < > " ' escaped (and the control characters XML forbids replaced by spaces), for text
// in SVG and HTML.
std::string xml_escape(const std::string& s);

// The standard normal quantile: the z with Phi(z) = p. Acklam's rational approximation, refined by
// one Halley step, accurate to about 1e-15. p = 0 gives -inf and p = 1 gives +inf; p outside [0,1]
// throws.
double inverse_normal_cdf(double p);

}  // namespace vae
