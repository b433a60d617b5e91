// The keys and values a GPT's attention layers computed for the positions already seen, so that
// decoding one more token costs one position's work instead of the whole sequence's (llama.cpp's
// KV cache as its own unit: append, view, trim, reset).
//
// Storage is allocated once per layer, on the first append, for `capacity` positions (the
// model's context), and positions are written in place: appending never copies what is cached.
//
// Shapes: B batch, h heads, T positions, d_head = d_model / h.
//
// Thread contract: one thread at a time (the thread that runs the model).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace distill {

class KvCache {
 public:
  // `layers` attention layers, room for `capacity` positions each. Throws ModelError when
  // either is below 1.
  KvCache(int64_t layers, int64_t capacity);

  // Stores the keys and values of the next T_new positions of `layer`: keys and values
  // (B, h, T_new, d_head), matching what the layer holds already. Throws ModelError for an
  // unknown layer, a shape that differs from the cached one, or more positions than `capacity`.
  void append(int64_t layer, const torch::Tensor& keys, const torch::Tensor& values);
  // Every cached position of `layer`, oldest first: views (B, h, T, d_head) into the storage
  // (undefined before the first append). Valid until the next append, trim or reset.
  torch::Tensor keys(int64_t layer) const;
  torch::Tensor values(int64_t layer) const;

  // Positions every layer holds (during a forward, earlier layers may hold more for a moment).
  int64_t length() const;
  int64_t layers() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t capacity() const { return capacity_; }
  // The batch size of the cached sequences; 0 before the first append.
  int64_t batch() const { return keys_.empty() || !keys_[0].defined() ? 0 : keys_[0].size(0); }

  // Forgets positions from `length` on (every layer), e.g. to re-decode from an earlier point.
  void trim(int64_t length);
  // Forgets every position; the storage is kept for the next sequence of the same shape.
  void reset();

 private:
  void checkLayer(int64_t layer) const;

  int64_t capacity_;
  std::vector<torch::Tensor> keys_;    // per layer: (B, h, capacity, d_head) storage
  std::vector<torch::Tensor> values_;  // per layer: (B, h, capacity, d_head) storage
  std::vector<int64_t> lengths_;       // per layer: positions written
};

}  // namespace distill
