// The frozen teacher's top-k cache on disk (issue 21): for every position of every training
// row, the teacher's K largest log-probabilities at T = 1 and their classes, written once and
// then memory-mapped read-only, so that the operating system pages it in and out instead of
// the process holding [rows x positions x classes] logits (524 MB for lm-fortunes' 4,000
// blocks of 128 byte tokens; 103 GB at a 50,257-token vocabulary). Any task's outputs fit:
// [rows, positions..., C], with no positions for a classifier. The trainer's policy around it
// (when, where, which k) is core/train/teacher_cache.h.
//
// The file, little-endian, version 1:
//   bytes 0-127   header: magic "DWTOPKC" and a 0 byte, version, header size, rows N,
//                 classes C, kept K, the position rank R (at most 4) and sizes P_1..P_R, the
//                 teacher's and the inputs' fingerprints, what the top K leave out (the mean
//                 mass outside them, and the mean KL of the spread approximation, float64),
//                 8 bytes reserved, and a fingerprint of the header itself
//   then          classes     int32   [N, P_1..P_R, K]
//   then          log-probs   float32 [N, P_1..P_R, K]   (descending along K)
// 8 bytes per kept value: 160 bytes a position at K = 20, where the position's float32 logits
// take 4C (1,024 bytes at C = 256, 201,028 at C = 50,257). Float32, not float16, so that topk
// access reads exactly the numbers it computes from the logits (the loss is the same with the
// cache and without). The file is written as <name>.partial and renamed into place, so the name
// only ever holds a complete file; one whose size, header or fingerprints do not match is not
// opened (the trainer rebuilds it).
//
// Thread contract: built and read by one thread at a time (the training thread); rows()
// returns copies, so nothing handed out points into the mapping.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace distill {

// A 64-bit fingerprint of bytes (FNV-1a over 64-bit words, each mixed by splitmix64's
// finaliser): what tells one teacher, or one split's inputs, from another. It guards against a
// stale file, not against an adversary.
class Fingerprint {
 public:
  void add(const void* data, size_t bytes);
  void add(const std::string& text);
  void add(int64_t value);
  // dtype, shape and values (through a contiguous CPU copy when needed).
  void add(const torch::Tensor& tensor);
  uint64_t value() const { return hash_; }

 private:
  void word(uint64_t w);
  uint64_t hash_ = 14695981039346656037ull;
};

// What a cache file was made from: a resumed run reuses the file only when both match.
struct TopkCacheSource {
  uint64_t teacher = 0;  // the teacher's weights and the precision it ran in
  uint64_t inputs = 0;   // the split's inputs, in row order
};

class TeacherTopkCache {
 public:
  // The teacher's logits [end - begin, positions..., C] on rows [begin, end).
  using TeacherLogits = std::function<torch::Tensor(int64_t begin, int64_t end)>;

  // The file at `path`, mapped read-only, when it is a complete cache of `rows` rows keeping
  // min(k, C) log-probabilities per position, made from `source`. Otherwise null, with why in
  // `reason` (e.g. "there is none yet", "it was made by another teacher", "it is cut short:
  // 1000 of 8192128 bytes").
  static std::unique_ptr<TeacherTopkCache> open(const std::string& path, int64_t rows, int64_t k,
                                                const TopkCacheSource& source, std::string& reason);

  // Writes the cache of `rows` rows, keeping min(k, C), then maps it. `teacher_logits` is
  // called for consecutive chunks of `chunk_rows` rows, in order. `path` empty: an unnamed
  // temporary file (removed once mapped; the mapping keeps it until the cache is gone). Throws
  // std::runtime_error naming the file when it cannot be written (a full disk, a read-only
  // folder); no file is left then.
  static std::unique_ptr<TeacherTopkCache> build(const std::string& path, int64_t rows, int64_t k,
                                                 const TopkCacheSource& source, int64_t chunk_rows,
                                                 const TeacherLogits& teacher_logits);

  ~TeacherTopkCache();
  TeacherTopkCache(const TeacherTopkCache&) = delete;
  TeacherTopkCache& operator=(const TeacherTopkCache&) = delete;

  // The rows `indices` (int64, on any device) as {log-probabilities float32, classes int64},
  // each [B, positions..., K], on the CPU.
  std::pair<torch::Tensor, torch::Tensor> rows(const torch::Tensor& indices) const;

  int64_t k() const { return k_; }
  int64_t classes() const { return classes_; }
  int64_t positionsPerRow() const;
  int64_t fileBytes() const { return static_cast<int64_t>(bytes_); }
  // Over every position: the teacher's mean probability outside its top K, and the mean
  // KL(teacher || the top K with the rest spread evenly over the other classes) at T = 1 in
  // nats, what logits access from the cache gives up (both 0 when K = C).
  double meanTailMass() const { return tail_mass_; }
  double meanSpreadKl() const { return tail_kl_; }

 private:
  TeacherTopkCache() = default;
  void* mapping_ = nullptr;
  size_t bytes_ = 0;
  int64_t k_ = 0;
  int64_t classes_ = 0;
  std::vector<int64_t> positions_;  // P_1..P_R
  double tail_mass_ = 0.0;
  double tail_kl_ = 0.0;
  torch::Tensor classes_table_;     // int32 [N, P, K] over the mapping
  torch::Tensor log_probs_table_;   // float32 [N, P, K] over the mapping
};

}  // namespace distill
