#include "core/tasks/lm/causal_lm.h"

#include <filesystem>
#include <string>

#include "core/errors.h"
#include "core/hf/hf_weights.h"

namespace distill {

void CausalLmImpl::loadCheckpoint(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return loadHfWeights(*this, path);
  ModelImpl::loadCheckpoint(path);
}

void checkTokenShape(const torch::Tensor& tokens) {
  if (tokens.scalar_type() != torch::kLong)
    throw ModelError(std::string("tokens must be int64 token ids, got ") + c10::toString(tokens.scalar_type()));
  if (tokens.dim() != 2)
    throw ModelError("tokens must be [batch, sequence], got " + std::to_string(tokens.dim()) + " dimensions");
}

void checkTokenIds(const torch::Tensor& tokens, int64_t vocab) {
  if (tokens.size(1) < 1 || tokens.size(0) < 1) throw ModelError("tokens: the batch is empty");
  // Checked here: the embedding's own error would be an index error deep in ATen.
  const int64_t low = tokens.min().item<int64_t>(), high = tokens.max().item<int64_t>();
  if (low < 0 || high >= vocab)
    throw ModelError("tokens: id " + std::to_string(low < 0 ? low : high) + " is outside the vocabulary [0, " +
                     std::to_string(vocab) + ")");
}

void checkSequenceLength(const torch::Tensor& tokens, int64_t context) {
  if (tokens.size(1) > context)
    throw ModelError("the sequence has " + std::to_string(tokens.size(1)) + " tokens; the model's context is " +
                     std::to_string(context));
}

void checkCachedCall(const torch::Tensor& tokens, const KvCache& cache, int64_t layers, int64_t context) {
  if (cache.layers() != layers)
    throw ModelError("the KV cache has " + std::to_string(cache.layers()) + " layers; the model has " +
                     std::to_string(layers) + " (build it with newCache())");
  const int64_t start = cache.length(), time = tokens.size(1);
  if (start + time > context)
    throw ModelError("positions " + std::to_string(start) + ".." + std::to_string(start + time - 1) +
                     " reach beyond the model's context of " + std::to_string(context) + " (positions 0.." +
                     std::to_string(context - 1) + ")");
  if (start > 0 && tokens.size(0) != cache.batch())
    throw ModelError("tokens: a batch of " + std::to_string(tokens.size(0)) + " sequences; the KV cache holds " +
                     std::to_string(cache.batch()));
}

}  // namespace distill
