// Exports a trained model as TorchScript, so that Python reads it with torch.jit.load(path)
// and no workbench code: the built-in classifiers (MLP, CNN, ResNet) are rebuilt as a
// torch::jit::Module whose forward() is TorchScript generated from the layer list, with the
// weights as its parameters and the batch-norm running statistics as its buffers.
//
// The exported module takes what the workbench model takes (float32 N x C x H x W, or N x F
// for tables, normalised with the dataset's mean/std) and returns N x classes logits. It is
// saved in eval mode, where it gives the native model's eval() logits; after .train() in
// Python, dropout and batch norm behave as in training (batch statistics, running stats
// updated), so the student can be fine-tuned there.
// Thread contract: call it on the thread that owns the model, while nothing trains it.
#pragma once

#include <torch/script.h>

#include <string>

#include "core/models/classifier.h"
#include "core/models/model.h"

namespace distill {

// The TorchScript twin of a built-in classifier (weights copied to the CPU, eval mode).
// Throws ModelError for a layer it has no TorchScript form for.
torch::jit::Module toTorchScript(const ClassifierImpl& model);

// Writes `model` as a TorchScript file: a built-in classifier through toTorchScript(), a
// TorchScript model (student.source torchscript:...) as itself. Throws ModelError naming the
// file when it cannot be written, or for a model type it cannot export.
void exportTorchScript(ModelImpl& model, const std::string& path);

}  // namespace distill
