// The attention product shared by the decoder families (gpt.h, llama.h), written out because
// LibTorch 1.13 has no scaled_dot_product_attention: softmax(q k^T / sqrt(d_head) + mask) v, the
// mask a float tensor of 0 (visible) and -inf (hidden) added to the scores, so that a masked key
// gets exactly zero probability.
//
// Grouped-query attention (Ainslie et al. 2023, "GQA"): q has h heads and k, v have h_kv heads,
// h a multiple of h_kv; query head i reads key/value head i / (h / h_kv), as Hugging Face's
// repeat_kv does, without copying the keys and values h / h_kv times.
//
// Shapes: B batch, h query heads, h_kv key/value heads, T_q queries, T_k keys, d_head.
//
// Thread contract: plain functions, any thread.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "core/models/dropout.h"

namespace distill {

// q (B, h, T_q, d_head); k, v (B, h_kv, T_k, d_head); mask (T_q, T_k) of 0 and -inf. The
// probabilities go through `dropout` (identity in eval mode). Returns (B, h, T_q, d_head).
torch::Tensor causalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& mask, FastDropoutImpl& dropout);

// The mask of queries at positions start .. start + T_q - 1 over keys at 0 .. start + T_q - 1:
// (T_q, start + T_q) float, 0 where the key's position is at most the query's, -inf after.
torch::Tensor causalMask(int64_t start, int64_t queries, const torch::TensorOptions& options);

}  // namespace distill
