// FitNet hints (Romero et al. 2015, "FitNets: Hints for Thin Deep Nets", ICLR): the student's
// hidden representation at a chosen layer is mapped by a learned regressor onto the teacher's
// at a chosen layer, and their squared distance is minimised, either as a first stage alone
// (distill.hint_epochs > 0, then plain KD) or as a weighted extra term beside KD
// (hint_epochs = 0): loss = KD + w * hint_weight * ||r(f_s) - f_t||^2, with w ramping up over
// distill.warmup_epochs. The KD part is Hinton's (distill.temperature, distill.alpha).
// Thread contract: like any module, one thread at a time.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "core/config/config.h"
#include "core/losses/loss.h"

namespace distill {

// Maps student features onto the teacher's shape: a 1x1 convolution when both are feature
// maps of the same height and width (as in the paper), otherwise a linear layer over the
// flattened features.
class HintRegressorImpl : public torch::nn::Module {
 public:
  HintRegressorImpl(const std::vector<int64_t>& student_feature_shape, const std::vector<int64_t>& teacher_feature_shape);
  torch::Tensor forward(const torch::Tensor& student_features);

 private:
  bool convolutional_ = false;
  std::vector<int64_t> teacher_shape_;  // per sample
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::Linear linear_{nullptr};
};
TORCH_MODULE(HintRegressor);

// Mean squared distance between the regressed student features and the teacher's.
torch::Tensor hintLoss(const torch::Tensor& regressed, const torch::Tensor& teacher_features);

// The FitNet loss: Hinton KD on the logits plus the hint term on the features the trainer
// passes (featureLayers()), logged as train/hint_loss. Its regressor is built by prepare()
// from the probed feature shapes and trained with the student.
class FitNetLoss : public DistillationLoss {
 public:
  explicit FitNetLoss(const DistillConfig& config);
  LossTerms compute(const LossInputs& inputs) const override;
  bool needsTeacher() const override { return true; }  // the teacher's features, always
  std::optional<FeatureLayers> featureLayers() const override;
  void prepare(const torch::Tensor& student_features, const torch::Tensor& teacher_features) override;
  std::vector<torch::Tensor> parameters() const override;
  void to(const torch::Device& device) override;
  void save(torch::serialize::OutputArchive& state) const override;
  void load(torch::serialize::InputArchive& state) override;

 private:
  HintonKdLoss kd_;
  DistillConfig config_;
  HintRegressor regressor_{nullptr};
};

}  // namespace distill
