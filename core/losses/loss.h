// Distillation losses. Each method lives in its own file in core/losses/ with a test beside
// it in tests/core/losses/, and is selected by `distill.method` through makeLoss() in
// registry.cpp (one line per method).
//
// Logits may carry leading dimensions ([B, C] for images, [B, L, C] for sequences): losses
// average over every position. Thread contract: stateless after construction; used from the
// training thread.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace distill {

// The total to minimise and its parts, as logged under train/student_loss, train/kd_loss and
// train/ce_loss.
struct LossTerms {
  torch::Tensor total;
  torch::Tensor kd;
  torch::Tensor ce;
};

class DistillationLoss {
 public:
  virtual ~DistillationLoss() = default;
  // `teacher_logits` is undefined when the loss does not need the teacher (needsTeacher()).
  virtual LossTerms compute(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                            const torch::Tensor& targets) const = 0;
  // False when the teacher's output does not enter the loss (e.g. alpha = 0), so the trainer
  // can skip the teacher's forward pass.
  virtual bool needsTeacher() const = 0;
};

std::unique_ptr<DistillationLoss> makeLoss(const DistillConfig& config);
// The methods makeLoss() knows.
std::vector<std::string> lossMethods();

// Hinton, Vinyals & Dean (2015), "Distilling the Knowledge in a Neural Network":
//   loss = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)
// The T^2 factor keeps the soft term's gradient scale independent of T.
class HintonKdLoss : public DistillationLoss {
 public:
  HintonKdLoss(double temperature, double alpha) : temperature_(temperature), alpha_(alpha) {}
  LossTerms compute(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                    const torch::Tensor& targets) const override;
  bool needsTeacher() const override { return alpha_ > 0.0; }

 private:
  double temperature_;
  double alpha_;
};

// Mean over positions of KL(softmax(teacher/T) || softmax(student/T)) (no T^2 factor).
torch::Tensor softKlDivergence(const torch::Tensor& teacher_logits, const torch::Tensor& student_logits,
                               double temperature);

}  // namespace distill
