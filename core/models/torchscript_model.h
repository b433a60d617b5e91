// A TorchScript module exported from Python PyTorch (torch.jit.script or torch.jit.trace,
// saved with .save()) used as a teacher or as a trainable student.
//
// What it receives: a float32 batch of shape [N, C, H, W] for images ([N, F] for tables),
// pixels scaled to [0, 1] and then normalised with the dataset's mean/std
// ((x / 255 - dataset.mean) / dataset.std). What it must return: one tensor of logits of
// shape [N, num_classes]. Both are checked with a two-sample forward pass when it is loaded.
// Another task probes with its own inputs (the lm task: int64 tokens [N, T] in, logits
// [N, T, V] out; core/tasks/lm/torchscript_lm.h).
// Thread contract: like any model, one thread at a time.
#pragma once

#include <torch/script.h>

#include <functional>
#include <string>
#include <vector>

#include "core/models/model.h"

namespace distill {

// How a module is checked when it is loaded: `inspect` (when set) looks at the module first
// (its attributes) and throws ModelError naming the file; then one forward pass on `inputs`
// (eval mode, no gradients), whose output `check` judges: an empty string when it fits, else
// what was expected ("expected [N, 10] logits for this dataset's 10 classes").
struct TorchScriptProbe {
  std::function<void(const torch::jit::script::Module& module)> inspect;
  torch::Tensor inputs;
  std::string inputs_words;  // what the inputs should be, for the message when forward() fails
  std::function<std::string(const torch::Tensor& output)> check;
};

class TorchScriptModelImpl : public ModelImpl {
 public:
  // Throws ModelError naming the file: not TorchScript, no forward(), or output not
  // [N, num_classes] logits for inputs of `input_shape`.
  TorchScriptModelImpl(const std::string& path, const std::vector<int64_t>& input_shape, int64_t num_classes);
  // The same with a task's own probe. Throws ModelError naming the file and the shapes.
  TorchScriptModelImpl(const std::string& path, const TorchScriptProbe& probe);

  torch::Tensor forward(torch::Tensor inputs) override;
  std::string summary() const override;
  // The probe's output per sample (its logits): a lower bound of the widest activation, which
  // a TorchScript module does not declare; it sizes evaluation chunks (evaluationChunk()).
  int64_t widestActivationPerSample() const override { return probe_output_per_sample_; }
  void train(bool on = true) override;
  // A TorchScript checkpoint is the module itself (loadable from Python with torch.jit.load).
  void saveCheckpoint(const std::string& path) override;
  void loadCheckpoint(const std::string& path) override;

  // The loaded module, for a task that reads its attributes (the lm task's tokenizer facts).
  const torch::jit::script::Module& module() const { return module_; }

 private:
  std::string path_;
  torch::jit::script::Module module_;
  int64_t probe_output_per_sample_ = 0;
};

}  // namespace distill
