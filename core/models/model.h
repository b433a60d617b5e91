// The model contract of the workbench: anything that maps a batch of inputs to logits whose
// last dimension is the number of classes. Built-in architectures (MLP, CNN, ResNet) and
// TorchScript modules exported from Python both implement it, so the trainer, the losses and
// the checkpoints never care which one they handle.
// Thread contract: a model is used by one thread at a time (the training thread).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

namespace distill {

class ModelImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor inputs) = 0;
  // Logits together with hidden representation `index` (0-based; -1 = the last), for
  // feature-based distillation (FitNet hints). Throws ModelError when the model has none.
  virtual std::pair<torch::Tensor, torch::Tensor> forwardWithFeature(torch::Tensor inputs, int64_t index);
  // Number of hidden representations forwardWithFeature() can return.
  virtual int64_t hiddenCount() const { return 0; }
  // One line, e.g. "MLP 1200 1200 -> 10, relu, dropout 0.2; 2395210 parameters".
  virtual std::string summary() const = 0;
  // Multiply-accumulates of one forward pass for one sample (0 when unknown).
  virtual int64_t forwardMacsPerSample() const { return 0; }
  // Values in the widest tensor one sample's forward pass makes (input, hidden or output;
  // 0 when unknown): what sizes the chunks of an evaluation (evaluationChunk()).
  virtual int64_t widestActivationPerSample() const { return 0; }
  // Writes the model so that loadCheckpoint() on a model built the same way restores it.
  virtual void saveCheckpoint(const std::string& path);
  virtual void loadCheckpoint(const std::string& path);
  int64_t parameterCount() const;
};
using Model = std::shared_ptr<ModelImpl>;

}  // namespace distill
