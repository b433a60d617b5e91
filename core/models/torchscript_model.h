// A TorchScript module exported from Python PyTorch (torch.jit.script or torch.jit.trace,
// saved with .save()) used as a teacher or as a trainable student.
//
// What it receives: a float32 batch of shape [N, C, H, W] for images ([N, F] for tables),
// pixels scaled to [0, 1] and then normalised with the dataset's mean/std
// ((x / 255 - dataset.mean) / dataset.std). What it must return: one tensor of logits of
// shape [N, num_classes]. Both are checked with a two-sample forward pass when it is loaded.
// Thread contract: like any model, one thread at a time.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "core/models/model.h"

namespace distill {

class TorchScriptModelImpl : public ModelImpl {
 public:
  // Throws ModelError naming the file: not TorchScript, no forward(), or output not
  // [N, num_classes] logits for inputs of `input_shape`.
  TorchScriptModelImpl(const std::string& path, const std::vector<int64_t>& input_shape, int64_t num_classes);

  torch::Tensor forward(torch::Tensor inputs) override;
  std::string summary() const override;
  void train(bool on = true) override;
  // A TorchScript checkpoint is the module itself (loadable from Python with torch.jit.load).
  void saveCheckpoint(const std::string& path) override;
  void loadCheckpoint(const std::string& path) override;

 private:
  std::string path_;
  torch::jit::script::Module module_;
};

}  // namespace distill
