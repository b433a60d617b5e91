// Classifiers for teacher and student: a configurable MLP or small CNN that maps a batch of
// inputs to logits. Both are one module type (ClassifierImpl) holding a Sequential, so that
// checkpoints, the trainer and the losses never care which architecture they handle.
// Thread contract: a model is used by one thread at a time (the training thread).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/config/config.h"

namespace distill {

class ClassifierImpl : public torch::nn::Module {
 public:
  // `input_shape` is one sample's shape ({1, 28, 28} for MNIST-like images).
  ClassifierImpl(const ModelConfig& config, const std::vector<int64_t>& input_shape, int64_t num_classes);

  torch::Tensor forward(torch::Tensor inputs);

  const ModelConfig& config() const { return config_; }
  int64_t numClasses() const { return num_classes_; }
  int64_t parameterCount() const;
  // Multiply-accumulates of one forward pass for one sample (for FLOP accounting).
  int64_t forwardMacsPerSample() const { return macs_per_sample_; }
  // Human-readable layer summary, e.g. "Linear(784->1200) ReLU Dropout(0.2) ...".
  std::string summary() const;  // e.g. "MLP 1200 1200 -> 10, relu, dropout 0.2; 2395210 parameters"

 private:
  ModelConfig config_;
  int64_t num_classes_;
  int64_t macs_per_sample_ = 0;
  torch::nn::Sequential layers_;
};
TORCH_MODULE(Classifier);

// Saves the weights; loads them into a model built with the same config (throws ModelError
// naming the file when it is missing, corrupt, or of another architecture).
void saveWeights(Classifier& model, const std::string& path);
void loadWeights(Classifier& model, const std::string& path);

}  // namespace distill
