// Hugging Face decoder checkpoints in and out: a model folder (config.json and model.safetensors,
// or shards named by model.safetensors.index.json) becomes a workbench model, and a workbench
// model becomes such a folder that transformers' from_pretrained loads.
//
// GPT2LMHeadModel becomes the task's GPT (gpt.h) with GELU tanh and the file's LayerNorm eps;
// LlamaForCausalLM, Qwen2ForCausalLM and MistralForCausalLM become a Llama (llama.h). The
// model's parameter names are Hugging Face's, so loading is a copy by name, in float32 whatever
// the stored dtype (float32, float16, bfloat16). GPT-2's exceptions, as nanoGPT's
// from_pretrained has them: its names may carry the prefix "transformer." (a GPT2LMHeadModel's
// save) or not (a GPT2Model's, as on the hub); c_attn, c_proj and c_fc are Conv1D layers whose
// weights are stored (in, out), transposed; the causal-mask buffers attn.bias and
// attn.masked_bias of older files are not weights. A tied head (GPT-2 always, the Llama family
// with tie_word_embeddings) is the token embedding: an lm_head.weight in the file is then
// ignored, as transformers ignores it.
//
// Every tensor must be accounted for: a missing tensor, a tensor the architecture does not have,
// or a shape other than the config's is refused with a DataError naming the tensor, the file
// and, for a shape, both shapes.
//
// Usage:
//   Model teacher = loadHfModel("/models/SmolLM2-360M", {/*context=*/256});
//   auto& lm = dynamic_cast<CausalLmImpl&>(*teacher);   // forward, forwardCached, generate
//   ...
//   saveHfModel(*student, "/tmp/student");              // config.json + model.safetensors
//
// Thread contract: plain functions; a model being loaded or saved is used by the calling thread
// only.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "core/hf/hf_config.h"
#include "core/models/model.h"

namespace distill {

struct HfLoadOptions {
  // Positions the model must hold: 0 for the checkpoint's own (max_position_embeddings,
  // n_positions). A Llama's KV cache is sized by it, so a smaller context saves memory with a
  // long-context checkpoint; GPT-2 keeps its learned positions whatever is asked. Larger than
  // the checkpoint's is refused, and so is a context beyond a sliding window.
  int64_t context = 0;
};

// The model a config describes, with fresh weights (transformers' initialisation for the
// Llama family, GPT-2's for GPT-2). Throws DataError naming config.json and the key for a
// context it cannot hold (above max_position_embeddings, or beyond sliding_window: the
// workbench attends to every position, so a model that attends to a window would compute
// other logits).
Model buildHfModel(const HfConfig& config, const HfLoadOptions& options = {});

// The model of `folder` with its weights (eval mode is the caller's choice; the model is in
// training mode as any new module). Throws DataError: config.json's refusals (hf_config.h), the
// safetensors reader's (core/hf/safetensors.h), and
//   ".../model.safetensors: missing tensor model.norm.weight (64) of a LlamaForCausalLM"
//   ".../model.safetensors: tensor model.layers.0.mlp.up_proj.weight has shape (172, 64); the
//    config (.../config.json) makes it (128, 64)"
//   ".../model-00002-of-00002.safetensors: unexpected tensor model.layers.2.mlp.up_proj.weight:
//    a LlamaForCausalLM of .../config.json has no such weight"
Model loadHfModel(const std::string& folder, const HfLoadOptions& options = {});

// The weights of `folder` into a model built for it (buildHfModel of its config.json, or a model
// of the same shapes), on whatever device the model is: what ModelImpl::loadCheckpoint does for
// a language model given a folder (core/tasks/lm/causal_lm.h). Throws DataError as loadHfModel,
// and for a folder of the other family (a GPT-2 into a Llama or back).
void loadHfWeights(ModelImpl& model, const std::string& folder);

// The config.json of a workbench model: a GPT (as GPT2LMHeadModel; its exact GELU becomes
// activation_function "gelu") or a Llama. Throws ModelError for any other model.
HfConfig hfConfigOf(const ModelImpl& model);

struct HfSaveOptions {
  // The config the model came from (its teacher's, or its own source folder's): its token ids
  // and sliding window are written again. Without one, bos/eos are null.
  const HfConfig* source = nullptr;
  // float32, or bfloat16 / float16 to halve the files (torch_dtype says which).
  torch::ScalarType dtype = torch::kFloat;
  // transformers' default shard size; a larger model is written as shards and an index.
  int64_t max_shard_bytes = 5'000'000'000;
};

// Writes `model` into `folder` (created if missing) as transformers' save_pretrained would:
// config.json and model.safetensors (or shards and model.safetensors.index.json) with
// Hugging Face's names, GPT-2's Conv1D weights transposed back and a tied head left out.
// Throws ModelError for a model hfConfigOf() refuses, DataError when a file cannot be written.
void saveHfModel(const ModelImpl& model, const std::string& folder, const HfSaveOptions& options = {});

}  // namespace distill
