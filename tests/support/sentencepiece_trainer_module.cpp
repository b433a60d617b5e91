// The tests' SentencePiece trainer: libsentencepiece_train behind a C function, built as a
// module that tests/support/sentencepiece_support.h opens in isolation, for the reason
// core/text/sentencepiece_module.cpp gives (the library's private protobuf beside LibTorch's).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

class Lines : public sentencepiece::SentenceIterator {
 public:
  Lines(const char* const* lines, size_t count) : lines_(lines, lines + count) {}
  bool done() const override { return next_ >= lines_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return lines_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
};

void setError(char* error, size_t size, const std::string& text) {
  const size_t n = std::min(size - 1, text.size());
  std::memcpy(error, text.data(), n);
  error[n] = '\0';
}

}  // namespace

// Trains a model on `sentences` with the trainer's options (`keys[i]` = `values[i]`); writes the
// serialized model into `model` (room for `capacity` bytes), its size into *size. Returns 0
// with `error` set when training fails or the model does not fit.
extern "C" __attribute__((visibility("default"))) int distill_spm_train(
    const char* const* keys, const char* const* values, size_t options, const char* const* sentences, size_t count,
    char* model, size_t capacity, size_t* size, char* error, size_t error_size) {
  try {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < options; ++i) kwargs[keys[i]] = values[i];
    Lines lines(sentences, count);
    std::string trained;
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &lines, &trained);
    if (!status.ok()) {
      setError(error, error_size, status.message());
      return 0;
    }
    *size = trained.size();
    if (trained.size() > capacity) {
      setError(error, error_size, "the model has " + std::to_string(trained.size()) + " bytes, more than the buffer");
      return 0;
    }
    std::memcpy(model, trained.data(), trained.size());
    return 1;
  } catch (const std::exception& e) {
    setError(error, error_size, e.what());
    return 0;
  }
}

// The library's own encoder, straight from a fresh SentencePieceProcessor: the reference the
// workbench's path through core/text/sentencepiece_module.cpp is compared with. Writes the ids
// of `text` under the serialized `model` into `ids` (room for `capacity`), the count into
// *count. Returns 0 when the model does not load or the ids do not fit.
extern "C" __attribute__((visibility("default"))) int distill_spm_reference_encode(
    const char* model, size_t model_size, const char* text, size_t size, int32_t* ids, size_t capacity, size_t* count) {
  try {
    sentencepiece::SentencePieceProcessor processor;
    if (!processor.LoadFromSerializedProto(std::string(model, model_size)).ok()) return 0;
    std::vector<int> out;
    if (!processor.Encode(std::string(text, size), &out).ok() || out.size() > capacity) return 0;
    *count = out.size();
    std::copy(out.begin(), out.end(), ids);
    return 1;
  } catch (const std::exception&) {
    return 0;
  }
}
