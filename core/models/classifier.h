// Built-in classifiers for teacher and student: a configurable MLP, a small CNN, or a small
// ResNet, each one module type (ClassifierImpl) holding a Sequential.
// Thread contract: a model is used by one thread at a time (the training thread).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/models/model.h"

namespace distill {

class ClassifierImpl : public ModelImpl {
 public:
  // `input_shape` is one sample's shape ({1, 28, 28} for MNIST-like images, {F} for tables).
  ClassifierImpl(const ModelConfig& config, const std::vector<int64_t>& input_shape, int64_t num_classes);

  torch::Tensor forward(torch::Tensor inputs) override;
  std::pair<torch::Tensor, torch::Tensor> forwardWithFeature(torch::Tensor inputs, int64_t index) override;
  int64_t hiddenCount() const override { return static_cast<int64_t>(hidden_ends_.size()); }
  std::string summary() const override;
  int64_t forwardMacsPerSample() const override { return macs_per_sample_; }
  int64_t widestActivationPerSample() const override { return widest_; }

  const ModelConfig& config() const { return config_; }
  int64_t numClasses() const { return num_classes_; }
  // The layers in order, read-only (for the TorchScript exporter, core/models/torchscript_export.h).
  const torch::nn::Sequential& layers() const { return layers_; }

 private:
  void addHidden() { hidden_ends_.push_back(layers_->size()); }

  ModelConfig config_;
  int64_t num_classes_;
  int64_t macs_per_sample_ = 0;
  int64_t widest_ = 0;
  torch::nn::Sequential layers_;
  // Layer counts after which a hidden representation is complete (for forwardWithFeature).
  std::vector<size_t> hidden_ends_;
};
TORCH_MODULE(Classifier);

// ResNet basic block (He et al. 2016, "Deep Residual Learning for Image Recognition"):
// conv3x3-BN-ReLU-conv3x3-BN plus the input (through a 1x1 projection when the shape
// changes), then ReLU.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

  // Read-only views for the TorchScript exporter; `shortcut()` is empty for the identity.
  const torch::nn::Conv2d& conv1() const { return conv1_; }
  const torch::nn::BatchNorm2d& bn1() const { return bn1_; }
  const torch::nn::Conv2d& conv2() const { return conv2_; }
  const torch::nn::BatchNorm2d& bn2() const { return bn2_; }
  const torch::nn::Sequential& shortcut() const { return shortcut_; }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Sequential shortcut_;
};
TORCH_MODULE(ResidualBlock);

// Saves / loads a built-in classifier's weights (throws ModelError naming the file when it is
// missing, corrupt, or of another architecture).
void saveWeights(Classifier& model, const std::string& path);
void loadWeights(Classifier& model, const std::string& path);

}  // namespace distill
