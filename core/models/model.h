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
  // Whether forward() computes in the dtype of the model's weights and still returns float32
  // logits, so that freezeInDtype() may cast it to bfloat16 (the language-model decoders do; the
  // image models and TorchScript modules compute in float32 only).
  virtual bool computesInWeightDtype() const { return false; }
};
using Model = std::shared_ptr<ModelImpl>;

// A frozen model (teacher.dtype): no gradients, eval mode, and its floating-point weights and
// buffers in `dtype` (kBFloat16 halves their memory); forward() still returns float32 logits.
// Throws ModelError for a model that does not compute in its weights' dtype, or a dtype that is
// not floating point.
void freezeInDtype(ModelImpl& model, torch::ScalarType dtype);
// Bytes held by the model's parameters (what freezeInDtype(kBFloat16) halves).
int64_t parameterBytes(const ModelImpl& model);

}  // namespace distill
