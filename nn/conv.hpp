// The convolution layers, with PyTorch's semantics and default initialisation: Conv2d,
// ConvTranspose2d (groups = 1), and Unflatten (the inverse of Flatten, for a decoder that goes from
// a vector back to feature maps). The ops themselves are autograd/conv.hpp.
#pragma once
#include <array>
#include <cstdint>

#include "tapegrad/nn/module.hpp"
#include "tapegrad/tensor/conv.hpp"
#include "tapegrad/tensor/random.hpp"

namespace tg::nn {

using Size2 = std::array<std::int64_t, 2>;  // (height, width)

// What Conv2d and ConvTranspose2d share (PyTorch's _ConvNd): the parameters, the options, the init
// and the repr. W's shape is given by the layer: (out, in, kh, kw) for Conv2d, (in, out, kh, kw)
// for the transposed one. Both are initialised like PyTorch: W ~ kaiming_uniform(a = sqrt(5)), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = W.size(1) kh kw, and b from the same bound.
class ConvLayer : public Module {
 public:
  // Re-draws the parameters with the default initialisation.
  void reset_parameters(Generator* gen = nullptr);
  const ConvOptions& options() const { return options_; }
  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t out_channels() const { return out_channels_; }
  Size2 kernel_size() const { return kernel_size_; }

  Variable weight;
  Variable bias;  // (out_channels), undefined when built with bias = false

 protected:
  ConvLayer(const char* layer, std::int64_t in_channels, std::int64_t out_channels,
            Size2 kernel_size, const ConvOptions& options, bool bias, const Shape& weight_shape,
            DType dtype, Generator* gen);
  std::string extra_repr() const override;

 private:
  std::int64_t in_channels_, out_channels_;
  Size2 kernel_size_;
  ConvOptions options_;
};

// y = conv2d(x, W) + b for x (N, in_channels, H, W): W is (out_channels, in_channels, kh, kw), b is
// (out_channels); torch.nn.Conv2d (fan_in = in_channels kh kw). options.output_padding must stay
// zero.
class Conv2d : public ConvLayer {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
         const ConvOptions& options = {}, bool bias = true, DType dtype = DType::f32,
         Generator* gen = nullptr);
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         const ConvOptions& options = {}, bool bias = true, DType dtype = DType::f32,
         Generator* gen = nullptr)
      : Conv2d(in_channels, out_channels, Size2{kernel_size, kernel_size}, options, bias, dtype,
               gen) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Conv2d"; }
};

// y = conv_transpose2d(x, W) + b for x (N, in_channels, H, W): W is (in_channels, out_channels, kh,
// kw) (PyTorch's layout), b is (out_channels); torch.nn.ConvTranspose2d, whose fan_in is computed
// from W's shape as for Conv2d, so fan_in = out_channels kh kw. output_padding < stride.
class ConvTranspose2d : public ConvLayer {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size,
                  const ConvOptions& options = {}, bool bias = true, DType dtype = DType::f32,
                  Generator* gen = nullptr);
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  const ConvOptions& options = {}, bool bias = true, DType dtype = DType::f32,
                  Generator* gen = nullptr)
      : ConvTranspose2d(in_channels, out_channels, Size2{kernel_size, kernel_size}, options, bias,
                        dtype, gen) {}
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
};

// Splits dimension `dim` into `sizes` (whose product must be its size): (B, 3136) -> (B, 64, 7, 7)
// with Unflatten(1, {64, 7, 7}). torch.nn.Unflatten.
class Unflatten : public Module {
 public:
  Unflatten(std::int64_t dim, Shape sizes);
  Variable forward(const Variable& x) override;
  std::string type_name() const override { return "Unflatten"; }

 protected:
  std::string extra_repr() const override;

 private:
  std::int64_t dim_;
  Shape sizes_;
};

}  // namespace tg::nn
