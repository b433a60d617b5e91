// Reading and writing safetensors checkpoints, the weight format of Hugging Face models: one
// file (`model.safetensors`) or several shards named by `model.safetensors.index.json`.
//
//   auto checkpoint = SafetensorsCheckpoint::open("/models/SmolLM2-135M");  // folder or file
//   for (const auto& name : checkpoint.names()) ...
//   torch::Tensor w = checkpoint.tensor("model.embed_tokens.weight");      // stored dtype
//
//   writeSafetensorsSharded(out_dir, named_tensors, {{"format", "pt"}}, /*max_shard_bytes=*/5'000'000'000);
//
// Files are memory-mapped: tensor() borrows the mapping (which stays alive while any tensor
// does) rather than reading the file. The mapping is private copy-on-write: writing into a
// returned tensor changes neither the file nor other tensors read from it, and never faults.
// A file that another process shortens while it is mapped can still end the process with
// SIGBUS, as with any mapped file (the Python library behaves the same way).
// The header is validated before anything is read (core/hf/safetensors_header.h); every
// refusal is a DataError naming the file and the tensor.
//
// Thread contract: SafetensorsFile and SafetensorsCheckpoint are immutable after open(); their
// const methods may be called from any thread at once. The writers share nothing.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/hf/safetensors_header.h"

namespace distill {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The LibTorch type of a safetensors dtype; nullopt for the format's types that LibTorch 1.13
// lacks (U16, U32, U64, F8_E4M3, F8_E5M2) and for unknown names.
std::optional<torch::ScalarType> torchTypeOfSafetensors(const std::string& dtype);

// One .safetensors file, mapped. Cheap to copy (the mapping is shared).
class SafetensorsFile {
 public:
  // Maps the file read-only and validates its header; DataError when it is missing, unreadable
  // or not a valid safetensors file.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const;
  const std::vector<SafetensorsEntry>& entries() const;  // in the order of their offsets
  const std::map<std::string, std::string>& metadata() const;
  bool contains(const std::string& name) const;
  // DataError naming the tensor and the file when it is not there.
  const SafetensorsEntry& entry(const std::string& name) const;

  // The tensor with its stored dtype and shape, on the CPU, borrowing the mapping (a copy when
  // its bytes are not aligned for its dtype). DataError for a dtype LibTorch 1.13 lacks, and for
  // a BOOL tensor holding a byte other than 0 or 1.
  torch::Tensor tensor(const std::string& name) const;
  // The tensor converted to float32: contiguous, owning its memory (never the mapping).
  torch::Tensor tensorAsFloat(const std::string& name) const;

 private:
  struct State;
  explicit SafetensorsFile(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

// A model's weights: one safetensors file, or the shards of an index.
class SafetensorsCheckpoint {
 public:
  // `folder_or_file`: a folder holding model.safetensors or model.safetensors.index.json (the
  // single file wins when both are there, as in transformers), a .safetensors file, or an index
  // file. The index's weight_map (tensor -> shard file in the index's folder) is checked whole:
  // a shard path that leaves the folder, a missing or invalid shard, or a tensor its shard lacks
  // is a DataError naming the index, the shard and the tensor. Tensors a shard holds beyond
  // those its index names are not part of the checkpoint.
  static SafetensorsCheckpoint open(const std::string& folder_or_file);

  const std::string& path() const { return path_; }  // as given to open()
  std::vector<std::string> names() const;            // sorted
  bool contains(const std::string& name) const;
  // DataError naming the tensor and the checkpoint when it has no such tensor.
  const SafetensorsEntry& entry(const std::string& name) const;
  torch::Tensor tensor(const std::string& name) const;
  torch::Tensor tensorAsFloat(const std::string& name) const;
  const std::string& fileOf(const std::string& name) const;  // the path of the shard holding it
  // The metadata of the single file, or of the first shard.
  const std::map<std::string, std::string>& metadata() const;

 private:
  const SafetensorsFile& fileHolding(const std::string& name) const;

  std::string path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> file_of_;  // tensor name -> index in files_
};

// Writes `tensors` to `path` as one safetensors file, atomically (a temporary file in the same
// folder, flushed, then renamed over `path`). Tensors go in the given order, contiguous and
// little-endian; the header is padded with spaces to a multiple of 8 bytes as the reference
// writer does. `dtype`, when given (float32, float16 or bfloat16), converts the floating-point
// tensors to it; integer and bool tensors keep theirs. metadata "format" is "pt" unless given
// (transformers refuses a checkpoint without it). DataError for a duplicate or reserved name
// or a dtype the format cannot hold; std::runtime_error naming the file when writing fails.
void writeSafetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      std::optional<torch::ScalarType> dtype = std::nullopt);

// Writes a checkpoint into `folder` (created if missing) the way transformers' save_pretrained
// does: `model.safetensors` when everything fits in `max_shard_bytes`, else shards
// `model-00001-of-0000N.safetensors` filled in order (a new shard when the next tensor would
// overflow the current one; a tensor larger than the limit in a shard of its own, placed when it
// comes while the current shard goes on filling, as huggingface_hub splits) and
// `model.safetensors.index.json` with metadata.total_size (the tensors' bytes) and weight_map.
// Files of an earlier save that the new one does not use (model.safetensors, the index, shards
// model-NNNNN-of-NNNNN.safetensors) are removed, so a loader cannot pick a stale one.
// Returns the paths written, the index last.
std::vector<std::string> writeSafetensorsSharded(const std::string& folder, const NamedTensors& tensors,
                                                 const std::map<std::string, std::string>& metadata,
                                                 int64_t max_shard_bytes,
                                                 std::optional<torch::ScalarType> dtype = std::nullopt);

}  // namespace distill
