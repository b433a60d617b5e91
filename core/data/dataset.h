// In-memory datasets: a whole split held as two tensors, batches taken by index.
//
// The contract the trainer relies on is deliberately small, so that image sets (IDX, later
// CIFAR) and token sequences can share it: `inputs` has the sample index as dimension 0,
// `targets` holds class indices (shape [N] for images, [N, L] for sequences), and a model
// maps a batch of inputs to logits whose last dimension is `num_classes`.
// Thread contract: a loaded Splits is immutable; read it from any thread.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/config/config.h"

namespace distill {

struct TensorDataset {
  torch::Tensor inputs;   // float32, normalised; [N, C, H, W] for images, [N, F] for tables
  torch::Tensor targets;  // int64 class indices
  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
  TensorDataset to(const torch::Device& device) const { return {inputs.to(device), targets.to(device)}; }
};

struct DatasetSplits {
  TensorDataset train;
  TensorDataset test;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  std::vector<int64_t> input_shape;  // per sample, e.g. {1, 28, 28}
  std::string folder;                // where the files came from
};

// Loads the dataset the config names (Fashion-MNIST by default): IDX folders for
// fashion-mnist, mnist and idx, CIFAR binary folders (core/data/cifar.h), CSV tables
// (core/data/csv.h). `split_seed` only seeds the train/test split of a single CSV file; keep
// it fixed across runs that should be compared on the same test rows. Throws DataError
// naming the missing or corrupt file.
DatasetSplits loadDataset(const DatasetConfig& config, uint64_t split_seed = 0);

}  // namespace distill
