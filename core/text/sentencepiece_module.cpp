// The SentencePiece module: libsentencepiece behind a C interface, built as a loadable module
// of its own (libdistill_sentencepiece.so) that core/text/sentencepiece_tokenizer.cpp opens in
// isolation (core/text/isolated_library.h).
//
// Why not link libsentencepiece into the programs: Debian's libsentencepiece carries its own
// protobuf-lite and exports its ~1,600 google::protobuf symbols, while LibTorch loads Debian's
// libprotobuf (another version). Linked side by side, libprotobuf's start-up code binds to
// libsentencepiece's copies and the program crashes before main() (seen: SIGSEGV in
// ReflectionOps::FindInitializationErrors called from libsentencepiece's MergeFromImpl). Opened
// with RTLD_LOCAL | RTLD_DEEPBIND, the module and its libsentencepiece see their own protobuf
// and nobody else does.
//
// Only plain C types cross the boundary; no exception leaves a function. Buffers are the
// caller's: a call that needs more room says how much (*needed) and the caller calls again.
#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#define DISTILL_SPM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

struct Model {
  sentencepiece::SentencePieceProcessor processor;
};

void setError(char* error, size_t size, const std::string& text) {
  if (!error || size == 0) return;
  const size_t n = std::min(size - 1, text.size());
  std::memcpy(error, text.data(), n);
  error[n] = '\0';
}

}  // namespace

// A model from its serialized bytes; null with `error` set when the library refuses them.
DISTILL_SPM_EXPORT void* distill_spm_load(const char* bytes, size_t size, char* error, size_t error_size) {
  try {
    auto* model = new Model;
    const auto status = model->processor.LoadFromSerializedProto(std::string(bytes, size));
    if (!status.ok()) {
      setError(error, error_size, status.message());
      delete model;
      return nullptr;
    }
    return model;
  } catch (const std::exception& e) {
    setError(error, error_size, e.what());
    return nullptr;
  }
}

DISTILL_SPM_EXPORT void distill_spm_free(void* model) { delete static_cast<Model*>(model); }

DISTILL_SPM_EXPORT int distill_spm_size(const void* model) {
  return static_cast<const Model*>(model)->processor.GetPieceSize();
}

// The piece of `id` (valid while the model lives), its score, and its type as bits: 1 control,
// 2 unknown, 4 unused, 8 byte.
DISTILL_SPM_EXPORT const char* distill_spm_piece(const void* model, int id, size_t* length) {
  const std::string& piece = static_cast<const Model*>(model)->processor.IdToPiece(id);
  *length = piece.size();
  return piece.data();
}
DISTILL_SPM_EXPORT float distill_spm_score(const void* model, int id) {
  return static_cast<const Model*>(model)->processor.GetScore(id);
}
DISTILL_SPM_EXPORT int distill_spm_flags(const void* model, int id) {
  const auto& p = static_cast<const Model*>(model)->processor;
  return (p.IsControl(id) ? 1 : 0) | (p.IsUnknown(id) ? 2 : 0) | (p.IsUnused(id) ? 4 : 0) | (p.IsByte(id) ? 8 : 0);
}
// 0: unk, 1: bos, 2: eos, 3: pad; -1 where the model has none.
DISTILL_SPM_EXPORT int distill_spm_special(const void* model, int which) {
  const auto& p = static_cast<const Model*>(model)->processor;
  switch (which) {
    case 0: return p.unk_id();
    case 1: return p.bos_id();
    case 2: return p.eos_id();
    case 3: return p.pad_id();
    default: return -1;
  }
}

// Encodes `text` into `ids` (room for `capacity`); *needed: the count. Returns 0 on an error.
DISTILL_SPM_EXPORT int distill_spm_encode(const void* model, const char* text, size_t size, int32_t* ids,
                                          size_t capacity, size_t* needed, char* error, size_t error_size) {
  try {
    std::vector<int> out;
    const auto status = static_cast<const Model*>(model)->processor.Encode(std::string_view(text, size), &out);
    if (!status.ok()) {
      setError(error, error_size, status.message());
      return 0;
    }
    *needed = out.size();
    for (size_t i = 0; i < out.size() && i < capacity; ++i) ids[i] = out[i];
    return 1;
  } catch (const std::exception& e) {
    setError(error, error_size, e.what());
    return 0;
  }
}

// Decodes `ids` (all inside the vocabulary) into `text` (room for `capacity` bytes); *needed:
// the length. Returns 0 on an error.
DISTILL_SPM_EXPORT int distill_spm_decode(const void* model, const int32_t* ids, size_t count, char* text,
                                          size_t capacity, size_t* needed, char* error, size_t error_size) {
  try {
    std::string out;
    const auto status = static_cast<const Model*>(model)->processor.Decode(std::vector<int>(ids, ids + count), &out);
    if (!status.ok()) {
      setError(error, error_size, status.message());
      return 0;
    }
    *needed = out.size();
    std::memcpy(text, out.data(), std::min(capacity, out.size()));
    return 1;
  } catch (const std::exception& e) {
    setError(error, error_size, e.what());
    return 0;
  }
}
