// Fidelity metrics: how closely a student's predictions follow its teacher's, beyond the one
// number of top-1 agreement. Logits are [N, C] (or [N, L, C], flattened to positions);
// targets are class indices. All probabilities are softmax at T = 1, computed in float64.
// Thread contract: pure functions.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/fidelity/fidelity_report.h"

namespace distill {

// Confusion-style counts [C, C] (int64): rows the teacher's top-1, columns the student's.
torch::Tensor agreementMatrix(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);
// Mean over positions of |top-k(teacher) ∩ top-k(student)| / k, with k capped at the class count.
double topKOverlap(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits, int64_t k = 5);
// Mean Jensen-Shannon divergence 0.5 KL(P || M) + 0.5 KL(Q || M), M = (P + Q) / 2, in nats.
double jsDivergence(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);
// Reliability bins and the expected calibration error of one model (equal-width bins).
Calibration calibration(const torch::Tensor& logits, const torch::Tensor& targets, int bins = kCalibrationBins);
double expectedCalibrationError(const torch::Tensor& logits, const torch::Tensor& targets,
                                int bins = kCalibrationBins);
// Indices (ascending) where the teacher's and the student's top-1 predictions differ.
std::vector<int64_t> disagreementIndices(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits);

// The whole analysis. `class_names` may be empty (classes are then named by their index).
// Throws std::invalid_argument when the shapes do not match.
FidelityAnalysis analyzeFidelity(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                                 const torch::Tensor& targets, const std::vector<std::string>& class_names = {},
                                 int bins = kCalibrationBins);

}  // namespace distill
