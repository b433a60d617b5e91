#include "core/tasks/lm/attention.h"

#include <cmath>
#include <limits>

namespace distill {

torch::Tensor causalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& mask, FastDropoutImpl& dropout) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const int64_t heads = q.size(1), kv_heads = k.size(1);
  if (heads == kv_heads) {
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;            // (B, h, T_q, T_k)
    scores = scores + mask;                                                 // (B, h, T_q, T_k)
    const auto probabilities = dropout.forward(torch::softmax(scores, -1));  // (B, h, T_q, T_k)
    return torch::matmul(probabilities, v);                                 // (B, h, T_q, d_head)
  }
  // Query heads grouped by the key/value head they read: head i = group i / r, member i % r.
  const int64_t batch = q.size(0), queries = q.size(2), head_size = q.size(3), group = heads / kv_heads;
  const auto grouped_q = q.reshape({batch, kv_heads, group, queries, head_size});  // (B, h_kv, r, T_q, d_head)
  const auto grouped_k = k.unsqueeze(2);                                            // (B, h_kv, 1, T_k, d_head)
  const auto grouped_v = v.unsqueeze(2);                                            // (B, h_kv, 1, T_k, d_head)
  auto scores = torch::matmul(grouped_q, grouped_k.transpose(-2, -1)) * scale;     // (B, h_kv, r, T_q, T_k)
  scores = scores + mask;
  const auto probabilities = dropout.forward(torch::softmax(scores, -1));  // (B, h_kv, r, T_q, T_k)
  return torch::matmul(probabilities, grouped_v).reshape({batch, heads, queries, head_size});  // (B, h, T_q, d_head)
}

torch::Tensor causalMask(int64_t start, int64_t queries, const torch::TensorOptions& options) {
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  // Row i is the query at position start + i: keys after it (columns > start + i) are hidden.
  return torch::triu(torch::full({queries, start + queries}, minus_infinity, options), /*diagonal=*/start + 1);
}

}  // namespace distill
