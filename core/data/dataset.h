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

// Seeded shuffling into index batches; the last partial batch is kept.
// One sampler per training phase, used from the training thread only.
class BatchSampler {
 public:
  BatchSampler(int64_t dataset_size, int64_t batch_size, uint64_t seed);
  // Starts a new epoch with a fresh permutation.
  void reshuffle();
  int64_t batchesPerEpoch() const;
  // Indices of batch `i` of the current epoch (a view into the permutation).
  torch::Tensor batch(int64_t i) const;
  // The current epoch's whole order (batch i is elements [i * batch_size, (i + 1) * batch_size)).
  const torch::Tensor& permutation() const { return permutation_; }

 private:
  int64_t size_;
  int64_t batch_size_;
  torch::Generator generator_;
  torch::Tensor permutation_;
};

}  // namespace distill
