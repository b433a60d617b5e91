// The standard training augmentation for small images (CIFAR's since He et al., "Deep Residual
// Learning", 2016): pad each side by 4 pixels, take a random crop of the original size, and
// flip horizontally with probability 0.5.
//
// It runs on normalised batches, once per training batch, so the padding value is in
// normalised units: 0 (the default) pads with the dataset mean. torchvision pads the raw
// image with black before normalising; pass fill = (0 - mean) / std to match it exactly.
// Thread contract: plain functions; the generator must not be used by two threads at once.
#pragma once

#include <torch/torch.h>

namespace distill {

struct AugmentOptions {
  int64_t padding = 4;      // pixels added to each side before cropping
  double fill = 0.0;        // value of the padding, in the batch's (normalised) units
  bool flip = true;         // random horizontal flip with p = 0.5
};

// Randomly crops and flips each image of an [N, C, H, W] float batch (per-sample crop offsets
// and flips, drawn from `generator`, a CPU generator, in a fixed order). Returns a new
// [N, C, H, W] tensor on the batch's device; the same generator state gives the same result
// on any device. Throws std::invalid_argument for a batch that is not [N, C, H, W] (tabular
// data cannot be augmented this way).
torch::Tensor augmentImages(const torch::Tensor& batch, torch::Generator& generator,
                            const AugmentOptions& options = {});

// The deterministic core of augmentImages: sample i is the H x W window at (offset_y[i],
// offset_x[i]) of the image padded by `padding`, mirrored left-right where flip[i] is
// nonzero. offset_y, offset_x, flip: int64 [N]; offsets in [0, 2 * padding].
torch::Tensor cropAndFlip(const torch::Tensor& batch, const torch::Tensor& offset_y, const torch::Tensor& offset_x,
                          const torch::Tensor& flip, int64_t padding, double fill = 0.0);

}  // namespace distill
