#include "core/train/batch_sampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace distill {

BatchSampler::BatchSampler(int64_t dataset_size, int64_t batch_size, uint64_t seed)
    : size_(dataset_size),
      batch_size_(batch_size),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)),
      permutation_(torch::arange(dataset_size, torch::kInt64)) {}

void BatchSampler::reshuffle() {
  permutation_ = torch::randperm(size_, generator_, torch::TensorOptions().dtype(torch::kInt64));
}

int64_t BatchSampler::batchesPerEpoch() const { return (size_ + batch_size_ - 1) / batch_size_; }

torch::Tensor BatchSampler::batch(int64_t i) const {
  const int64_t begin = i * batch_size_;
  return permutation_.slice(0, begin, std::min(begin + batch_size_, size_));
}

}  // namespace distill
