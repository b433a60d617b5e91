// Evaluation metrics accumulated chunk by chunk, so that an evaluation never holds a split's
// logits at once: each chunk's contribution is summed on the device (float64) and read back
// once, when the values are asked for. Positions are the rows of the flattened logits ([N, C]
// for images, [N * L, V] for token sequences); a mask drops positions (padding, prompts).
//
// The values equal core/metrics/metrics.h and core/fidelity/fidelity.h on the whole split
// (up to the order of float64 sums): accuracy, cross-entropy, expected calibration error,
// top-1 agreement, KL(teacher || student) at T = 1, top-k overlap, Jensen-Shannon divergence.
//
// Thread contract: one thread at a time (the training thread).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace distill {

// One model against the labels.
class PredictionSums {
 public:
  explicit PredictionSums(int calibration_bins);
  // `logits` [..., C], `targets` the leading shape, `mask` (bool, the leading shape) or undefined.
  void add(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& mask = {});
  int64_t positions() const;
  double accuracy() const;
  double crossEntropy() const;  // mean, nats
  double calibrationError() const;
  // Adds every rank's sums into this one's (a data-parallel run's sharded evaluation):
  // `sum_over_ranks` sums a float64 CPU tensor over the ranks in place. A rank that saw no
  // positions takes part with zeros.
  void reduce(const std::function<void(torch::Tensor&)>& sum_over_ranks);

 private:
  int bins_;
  torch::Tensor count_, correct_, cross_entropy_;        // float64 scalars
  torch::Tensor bin_count_, bin_confidence_, bin_correct_;  // float64 [bins]
};

// A student against its teacher, position by position.
class AgreementSums {
 public:
  explicit AgreementSums(int64_t top_k);
  void add(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits, const torch::Tensor& mask = {});
  int64_t positions() const;
  double agreement() const;    // fraction of positions with the same arg-max
  double kl() const;           // mean KL(teacher || student) at T = 1, nats
  double topKOverlap() const;  // mean |top-k(t) ∩ top-k(s)| / k
  double js() const;           // mean Jensen-Shannon divergence, nats
  void reduce(const std::function<void(torch::Tensor&)>& sum_over_ranks);  // as PredictionSums'

 private:
  int64_t k_;
  torch::Tensor count_, agree_, kl_, overlap_, js_;
};

// Rows of `tensor` ([..., C] flattened to [M, C], or the leading shape flattened to [M]) at
// the positions `mask` keeps (all when undefined).
torch::Tensor keptRows(const torch::Tensor& tensor, const torch::Tensor& mask, bool has_class_dim);

}  // namespace distill
