#include "core/data/augment.h"

#include <stdexcept>
#include <string>

namespace distill {

namespace {

void requireImages(const torch::Tensor& batch) {
  if (batch.dim() != 4)
    throw std::invalid_argument("image augmentation expects an [N, C, H, W] batch, got " + std::to_string(batch.dim()) +
                                " dimensions (dataset.augment applies to image datasets only)");
}

}  // namespace

torch::Tensor cropAndFlip(const torch::Tensor& batch, const torch::Tensor& offset_y, const torch::Tensor& offset_x,
                          const torch::Tensor& flip, int64_t padding, double fill) {
  requireImages(batch);
  const int64_t n = batch.size(0), channels = batch.size(1), height = batch.size(2), width = batch.size(3);
  if (padding < 0) throw std::invalid_argument("augmentation padding must be >= 0, got " + std::to_string(padding));
  for (const auto* offsets : {&offset_y, &offset_x, &flip})
    if (offsets->dim() != 1 || offsets->size(0) != n)
      throw std::invalid_argument("crop offsets and flips must be [N] with N = " + std::to_string(n));
  // Checked where it is cheap (CPU); an out-of-range index on a GPU is a device-side assert.
  if (n > 0 && offset_y.is_cpu() && offset_x.is_cpu()) {
    const auto low = std::min(offset_y.min().item<int64_t>(), offset_x.min().item<int64_t>());
    const auto high = std::max(offset_y.max().item<int64_t>(), offset_x.max().item<int64_t>());
    if (low < 0 || high > 2 * padding)
      throw std::invalid_argument("crop offsets must lie in [0, " + std::to_string(2 * padding) + "]");
  }

  const auto device = batch.device();
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const auto padded = torch::constant_pad_nd(batch, {padding, padding, padding, padding}, fill);
  const int64_t padded_height = height + 2 * padding, padded_width = width + 2 * padding;

  // One gather does crop and flip together: output pixel (i, j) of sample s reads padded pixel
  // (offset_y[s] + i, offset_x[s] + j), or (offset_y[s] + i, offset_x[s] + W - 1 - j) when
  // flipped. No per-sample loop, and the same code runs on CPU and GPU.
  const auto rows = offset_y.to(index_options).unsqueeze(1) + torch::arange(height, index_options);  // [N, H]
  const auto forward = torch::arange(width, index_options);
  const auto mirrored = forward.flip(0);
  const auto flipped = flip.to(device).ne(0).unsqueeze(1);                                        // [N, 1]
  const auto cols = offset_x.to(index_options).unsqueeze(1) + torch::where(flipped, mirrored, forward);  // [N, W]
  const auto flat_index = (rows.unsqueeze(2) * padded_width + cols.unsqueeze(1)).view({n, 1, height * width});
  return padded.reshape({n, channels, padded_height * padded_width})
      .gather(2, flat_index.expand({n, channels, height * width}))
      .view({n, channels, height, width});
}

torch::Tensor augmentImages(const torch::Tensor& batch, torch::Generator& generator, const AugmentOptions& options) {
  requireImages(batch);
  const int64_t n = batch.size(0);
  const auto cpu_long = torch::TensorOptions().dtype(torch::kInt64);
  // Drawn on the CPU in a fixed order (y, x, flip) so a seed gives the same batch anywhere.
  const auto offset_y = torch::randint(0, 2 * options.padding + 1, {n}, generator, cpu_long);
  const auto offset_x = torch::randint(0, 2 * options.padding + 1, {n}, generator, cpu_long);
  const auto flip = options.flip ? torch::randint(0, 2, {n}, generator, cpu_long) : torch::zeros({n}, cpu_long);
  return cropAndFlip(batch, offset_y, offset_x, flip, options.padding, options.fill);
}

}  // namespace distill
