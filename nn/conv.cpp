#include "tapegrad/nn/conv.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tapegrad/autograd/conv.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/tensor/error.hpp"

namespace tg::nn {
namespace {

// PyTorch's repr: the defaults (dilation 1, padding 0, output_padding 0, bias) are left out.
std::string conv_repr(std::int64_t in, std::int64_t out, Size2 k, const ConvOptions& o, bool bias) {
  std::string s = fmt::format("{}, {}, kernel_size=({}, {}), stride=({}, {})", in, out, k[0], k[1],
                              o.stride[0], o.stride[1]);
  if (o.padding != Size2{0, 0}) s += fmt::format(", padding=({}, {})", o.padding[0], o.padding[1]);
  if (o.dilation != Size2{1, 1})
    s += fmt::format(", dilation=({}, {})", o.dilation[0], o.dilation[1]);
  if (o.output_padding != Size2{0, 0})
    s += fmt::format(", output_padding=({}, {})", o.output_padding[0], o.output_padding[1]);
  if (!bias) s += ", bias=False";
  return s;
}

}  // namespace

// --- ConvLayer -----------------------------------------------------------------------------------

ConvLayer::ConvLayer(const char* layer, std::int64_t in_channels, std::int64_t out_channels,
                     Size2 kernel_size, const ConvOptions& options, bool bias,
                     const Shape& weight_shape, DType dtype, Generator* gen)
    : in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_size_(kernel_size),
      options_(options) {
  if (in_channels < 1 || out_channels < 1 || kernel_size[0] < 1 || kernel_size[1] < 1)
    throw ValueError(
        fmt::format("{}: in_channels={}, out_channels={} and kernel_size=({}, {}) must be >= 1",
                    layer, in_channels, out_channels, kernel_size[0], kernel_size[1]));
  weight = register_parameter("weight", Tensor::zeros(weight_shape, dtype));
  if (bias) this->bias = register_parameter("bias", Tensor::zeros({out_channels}, dtype));
  reset_parameters(gen);
}

// torch.nn.modules.conv._ConvNd.reset_parameters is Linear's: fan_in from W's shape (for the
// transposed layer too, whose W is (in, out, kh, kw): PyTorch's quirk, kept so the layers match one
// to one).
void ConvLayer::reset_parameters(Generator* gen) { init::default_reset_(weight, bias, gen); }

std::string ConvLayer::extra_repr() const {
  return conv_repr(in_channels_, out_channels_, kernel_size_, options_, bias.defined());
}

// --- Conv2d, ConvTranspose2d ---------------------------------------------------------------------

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
               const ConvOptions& options, bool bias, DType dtype, Generator* gen)
    : ConvLayer("Conv2d", in_channels, out_channels, kernel_size, options, bias,
                {out_channels, in_channels, kernel_size[0], kernel_size[1]}, dtype, gen) {
  if (options.output_padding != Size2{0, 0})
    throw ValueError("Conv2d: output_padding is for ConvTranspose2d only");
  // checks the options, on the smallest image the dilated kernel fits
  conv2d_output_shape({1, in_channels, options.dilation[0] * (kernel_size[0] - 1) + 1,
                       options.dilation[1] * (kernel_size[1] - 1) + 1},
                      weight.shape(), options);
}

Variable Conv2d::forward(const Variable& x) { return tg::conv2d(x, weight, bias, options()); }

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels,
                                 Size2 kernel_size, const ConvOptions& options, bool bias,
                                 DType dtype, Generator* gen)
    : ConvLayer("ConvTranspose2d", in_channels, out_channels, kernel_size, options, bias,
                {in_channels, out_channels, kernel_size[0], kernel_size[1]}, dtype, gen) {
  conv_transpose2d_output_shape({1, in_channels, 1, 1}, weight.shape(),
                                options);  // checks the options
}

Variable ConvTranspose2d::forward(const Variable& x) {
  return tg::conv_transpose2d(x, weight, bias, options());
}

// --- Unflatten -----------------------------------------------------------------------------------

Unflatten::Unflatten(std::int64_t dim, Shape sizes) : dim_(dim), sizes_(std::move(sizes)) {
  if (sizes_.empty()) throw ValueError("Unflatten: the sizes to unflatten into are empty");
  for (auto s : sizes_)
    if (s < 0) throw ValueError(fmt::format("Unflatten: sizes {} must be >= 0", shape_str(sizes_)));
}

Variable Unflatten::forward(const Variable& x) {
  const int d = normalize_axis(dim_, static_cast<std::size_t>(x.dim()), "Unflatten");
  if (numel(sizes_) != x.shape()[d])
    throw ShapeError(
        fmt::format("Unflatten: dimension {} of {} has size {}, which {} does not multiply to",
                    dim_, shape_str(x.shape()), x.shape()[d], shape_str(sizes_)));
  Shape shape(x.shape().begin(), x.shape().begin() + d);
  shape.insert(shape.end(), sizes_.begin(), sizes_.end());
  shape.insert(shape.end(), x.shape().begin() + d + 1, x.shape().end());
  return tg::reshape(x, shape);
}

std::string Unflatten::extra_repr() const {
  return fmt::format("dim={}, unflattened_size=({})", dim_, fmt::join(sizes_, ", "));
}

}  // namespace tg::nn
