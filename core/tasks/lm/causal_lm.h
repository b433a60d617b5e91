// What generation and the language-model task need from a decoder-only language model, whatever
// its family: the workbench's GPT (gpt.h), GPT-2 and the Llama family loaded from Hugging Face
// folders (gpt.h, llama.h, core/hf/hf_weights.h). Generation (generate.h) decodes through
// forwardCached() and never names a concrete model.
//
// Shapes: B batch, T positions, V vocabulary.
//
// Thread contract: a model is used by one thread at a time (the thread that runs it).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "core/models/model.h"
#include "core/tasks/lm/kv_cache.h"

namespace distill {

class CausalLmImpl : public ModelImpl {
 public:
  // Incremental decoding: tokens int64 [B, T_new] are the positions cache.length() ...
  // cache.length() + T_new - 1 of sequences whose earlier positions' keys and values are in
  // `cache` (empty for the prompt: the prefill); their keys and values are appended to it.
  // Returns logits [B, T_new, V], equal to forward()'s at those positions (to rounding). Build
  // the cache with newCache(); decode in eval mode (dropout would differ per call). Throws
  // ModelError for bad tokens, a batch other than the cache's, or positions beyond the context.
  virtual torch::Tensor forwardCached(const torch::Tensor& tokens, KvCache& cache) = 0;
  // An empty cache for this model: one layer per attention layer, room for the whole context.
  virtual KvCache newCache() const = 0;
  // V: token ids are in [0, V).
  virtual int64_t vocabSize() const = 0;
  // The most positions one sequence may hold (forward() and the cache refuse more).
  virtual int64_t contextLength() const = 0;
  // Weights from a checkpoint file (ModelImpl's), or from a Hugging Face model folder whose
  // config.json describes this model (core/hf/hf_weights.h's loadHfWeights): a teacher given as
  // teacher.source hf:<folder> is loaded by the trainer through this call. Throws ModelError (a
  // file) or DataError (a folder) naming what does not fit.
  void loadCheckpoint(const std::string& path) override;
  // The device the weights are on (where tokens must be).
  torch::Device device() const {
    const auto weights = parameters();
    return weights.empty() ? torch::Device(torch::kCPU) : weights.front().device();
  }
  // A decoder computes in its weights' dtype: frozen in bfloat16 (teacher.dtype, freezeInDtype()
  // in core/models/model.h), it runs in bfloat16 and returns float32 logits.
  bool computesInWeightDtype() const override { return true; }

  // Gradient checkpointing (student.gradient_checkpointing; core/models/gradient_checkpoint.h):
  // while on, forward() in training mode with gradients on keeps each block's input only and
  // recomputes the block's activations in backward. The same gradients, less memory, a second
  // forward pass of every block.
  void setGradientCheckpointing(bool on) { gradient_checkpointing_ = on; }
  bool gradientCheckpointing() const { return gradient_checkpointing_; }

 protected:
  // Whether forward() checkpoints its blocks now: switched on, in training, gradients on.
  bool checkpointingBlocks() const {
    return gradient_checkpointing_ && is_training() && torch::GradMode::is_enabled();
  }
  // Logits of a model whose weights are in a lower precision, as float32 (the losses' and
  // metrics' dtype); float32 weights' logits as they are (under CUDA autocast they stay in its
  // dtype, unconverted).
  torch::Tensor floatLogits(const torch::Tensor& logits, const torch::Tensor& head_weight) const {
    return head_weight.scalar_type() == torch::kFloat ? logits : logits.to(torch::kFloat);
  }

 private:
  bool gradient_checkpointing_ = false;
};

// A holder of any of them (the task's GPT, a GPT-2, a Llama), as TORCH_MODULE makes for one class.
TORCH_MODULE(CausalLm);

// The checks every CausalLmImpl makes, with one set of messages. Each throws ModelError.
// Tokens that are not int64 [batch, sequence]:
void checkTokenShape(const torch::Tensor& tokens);
// An empty batch, or an id outside [0, vocab) ("tokens: id 300 is outside the vocabulary [0, 256)"):
void checkTokenIds(const torch::Tensor& tokens, int64_t vocab);
// More than `context` positions in one forward() call:
void checkSequenceLength(const torch::Tensor& tokens, int64_t context);
// A forwardCached() call whose cache has another number of layers, whose positions reach beyond
// the context, or whose batch differs from the cached one:
void checkCachedCall(const torch::Tensor& tokens, const KvCache& cache, int64_t layers, int64_t context);

}  // namespace distill
