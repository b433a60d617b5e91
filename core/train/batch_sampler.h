// The order of a training phase's rows: a seeded permutation per epoch, cut into index
// batches. The trainer owns it for every task (a task owns what a row becomes); a resumed
// run replays the permutations of its done epochs to draw the same batches.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace distill {

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
