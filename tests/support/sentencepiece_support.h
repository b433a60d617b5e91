// Tiny SentencePiece models trained in the test itself with the library's trainer
// (libsentencepiece_train, Debian's libsentencepiece-dev), reached through the module
// tests/support/sentencepiece_trainer_module.cpp opened in isolation (why:
// core/text/sentencepiece_module.cpp): no model file is shipped, none is downloaded. Trained as
// Llama 2's tokenizer was (BPE, byte fallback, no normalization, spaces kept as they are, digits
// split), so what a test learns of it holds for Llama 2's file.
//
// Usage (the executable defines DISTILL_SPM_TRAINER_MODULE, the module's path):
//   const std::string model = testing::trainSentencePiece(testing::sampleText(8000), 400);
//   std::ofstream(dir.file("tokenizer.model"), std::ios::binary) << model;
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/tasks/lm/corpus.h"
#include "core/text/isolated_library.h"

namespace distill::testing {

// The first documents of Debian's fortunes up to about `bytes` bytes, joined; empty when the
// corpus is not installed.
inline std::string sampleText(size_t bytes) {
  if (!std::filesystem::exists(kFortunesFolder)) return "";
  std::string text;
  for (const auto& document : readDocuments(kFortunesFolder).texts) {
    if (text.size() >= bytes) break;
    text += document;
  }
  return text;
}

// Whether models can be trained here, and why not (an AddressSanitizer build cannot open the
// modules: core/text/isolated_library.h); empty when they can.
inline std::string sentencePieceUnavailable() {
  return isolatedLibrariesSupported() ? "" : "SentencePiece needs RTLD_DEEPBIND, which AddressSanitizer refuses";
}

#define REQUIRE_SENTENCEPIECE()                                                                               \
  do {                                                                                                        \
    if (!::distill::testing::sentencePieceUnavailable().empty()) GTEST_SKIP() << ::distill::testing::sentencePieceUnavailable(); \
  } while (false)

// A serialized BPE model of `vocab` pieces (at most: the trainer stops when no pair is left)
// learned from the lines of `text`. Throws std::runtime_error with the trainer's message.
// A function of the trainer module.
template <typename Function>
Function trainerFunction(const char* name) {
  static void* module = [] {
    std::string error;
    void* opened = openIsolatedLibrary(DISTILL_SPM_TRAINER_MODULE, error);
    if (!opened) throw std::runtime_error(std::string(DISTILL_SPM_TRAINER_MODULE) + ": " + error);
    return opened;
  }();
  auto function = reinterpret_cast<Function>(isolatedSymbol(module, name));
  if (!function) throw std::runtime_error(std::string(DISTILL_SPM_TRAINER_MODULE) + ": no " + name);
  return function;
}

inline std::string trainSentencePiece(const std::string& text, int vocab, const std::string& model_type = "bpe") {
  using Train = int (*)(const char* const*, const char* const*, size_t, const char* const*, size_t, char*, size_t,
                        size_t*, char*, size_t);
  static const Train train = trainerFunction<Train>("distill_spm_train");
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  const std::vector<std::pair<std::string, std::string>> options = {
      {"model_type", model_type},         {"vocab_size", std::to_string(vocab)},
      {"byte_fallback", "true"},          {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"}, {"remove_extra_whitespaces", "false"},
      {"split_digits", "true"},           {"hard_vocab_limit", "false"},
      {"num_threads", "1"},               {"minloglevel", "2"}};
  std::vector<const char*> keys, values, sentences;
  for (const auto& [key, value] : options) keys.push_back(key.c_str()), values.push_back(value.c_str());
  for (const auto& line : lines) sentences.push_back(line.c_str());
  std::string model(8 << 20, '\0');
  size_t size = 0;
  char error[512] = "";
  if (!train(keys.data(), values.data(), keys.size(), sentences.data(), sentences.size(), model.data(), model.size(),
             &size, error, sizeof error))
    throw std::runtime_error(std::string("SentencePiece training failed: ") + error);
  model.resize(size);
  return model;
}

// The ids of `text` under the serialized `model` from the library's own processor, loaded
// afresh in the trainer module (not through core's module). Throws std::runtime_error when it
// refuses.
inline std::vector<int32_t> referenceEncode(const std::string& model, const std::string& text) {
  using Encode = int (*)(const char*, size_t, const char*, size_t, int32_t*, size_t, size_t*);
  static const Encode encode = trainerFunction<Encode>("distill_spm_reference_encode");
  std::vector<int32_t> ids(text.size() + 16);
  size_t count = 0;
  if (!encode(model.data(), model.size(), text.data(), text.size(), ids.data(), ids.size(), &count))
    throw std::runtime_error("the library's processor refused the model or the text");
  ids.resize(count);
  return ids;
}

}  // namespace distill::testing
