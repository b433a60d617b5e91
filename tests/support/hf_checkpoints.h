// Tiny Hugging Face model folders for the tests: the checkpoints tests/hf/tiny_checkpoints.py
// writes (gpt2, gpt2_bf16_sharded, llama, llama_linear_bias_bf16, qwen2_sharded, mistral_bf16: 2
// layers, width 64, a 128-token vocabulary), and a tokenizer.json of 128 ids to put beside them.
//
// The checkpoints are written once per version of the script into DISTILL_HF_CHECKPOINT_DIR/<FNV-1a
// of the script> (ctest runs each test in a process of its own; the script takes seconds),
// atomically: into a folder of this process, then renamed into place, so that tests running at
// once never read a half-written one. They need /usr/bin/python3 with torch (python3-torch);
// without it the tests that use them skip.
//
// Usage (the test executable defines DISTILL_SOURCE_DIR and DISTILL_HF_CHECKPOINT_DIR):
//   REQUIRE_HF_CHECKPOINTS();
//   const std::string gpt2 = testing::hfCheckpoint("gpt2");  // read-only: copy it to change it
//   testing::writeTinyTokenizer(copy);                       // tokenizer.json with ids 0..127
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/test_support.h"

namespace distill::testing {

inline std::string tinyCheckpointScript() { return std::string(DISTILL_SOURCE_DIR) + "/tests/hf/tiny_checkpoints.py"; }

inline bool pythonHasTorch() {
  static const bool available = runCommand("/usr/bin/python3 -c 'import torch'").exit_code == 0;
  return available;
}

inline std::string shellQuote(const std::string& text) { return "'" + text + "'"; }

// FNV-1a of the script's text: the name of the folder its checkpoints are kept in.
inline std::string tinyCheckpointFingerprint() {
  std::ifstream in(tinyCheckpointScript(), std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  uint64_t hash = 1469598103934665603ull;
  for (const unsigned char byte : text.str()) hash = (hash ^ byte) * 1099511628211ull;
  std::ostringstream name;
  name << std::hex << hash;
  return name.str();
}

struct TinyCheckpoints {
  std::string folder;  // holding one folder per variant
  std::string skip;    // why the tests skip (no torch in /usr/bin/python3)
  std::string error;   // why they fail (the script failed)
};

inline const TinyCheckpoints& tinyCheckpoints() {
  static const TinyCheckpoints written = [] {
    namespace fs = std::filesystem;
    TinyCheckpoints result;
    const fs::path cache = fs::path(DISTILL_HF_CHECKPOINT_DIR) / tinyCheckpointFingerprint();
    result.folder = cache.string();
    // Checking for torch costs a Python start (a second): only when the files must be written.
    if (fs::exists(cache / "mistral_bf16" / "expected.json")) return result;
    if (!pythonHasTorch()) {
      result.skip = "/usr/bin/python3 cannot import torch (install python3-torch)";
      return result;
    }
    const fs::path partial = cache.string() + ".partial-" + std::to_string(::getpid());
    fs::create_directories(partial);
    const auto run = runCommand("/usr/bin/python3 " + shellQuote(tinyCheckpointScript()) + " write " +
                                shellQuote(partial.string()));
    if (run.exit_code != 0) {
      result.error = "tiny_checkpoints.py write failed: " + run.out + run.err;
      return result;
    }
    std::error_code error;
    fs::rename(partial, cache, error);
    if (error) fs::remove_all(partial);  // another process put its copy there first
    if (!fs::exists(cache / "mistral_bf16" / "expected.json")) result.error = "no checkpoints in " + cache.string();
    return result;
  }();
  return written;
}

#define REQUIRE_HF_CHECKPOINTS()                                                                                   \
  do {                                                                                                             \
    if (!::distill::testing::tinyCheckpoints().skip.empty()) GTEST_SKIP() << ::distill::testing::tinyCheckpoints().skip; \
    ASSERT_TRUE(::distill::testing::tinyCheckpoints().error.empty()) << ::distill::testing::tinyCheckpoints().error; \
  } while (false)

// The folder of one variant (call REQUIRE_HF_CHECKPOINTS() first).
inline std::string hfCheckpoint(const std::string& variant) {
  return (std::filesystem::path(tinyCheckpoints().folder) / variant).string();
}

// A copy of a variant's folder, to add to or change.
inline std::string copyHfCheckpoint(const std::string& variant, const std::filesystem::path& into) {
  const auto target = into / variant;
  std::filesystem::copy(hfCheckpoint(variant), target, std::filesystem::copy_options::recursive);
  return target.string();
}

// The script's logits file ({"tokens": [[...]], "logits": [[[...]]]}) as int64 [B, T] and
// float [B, T, V].
inline std::pair<torch::Tensor, torch::Tensor> readLogits(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  const nlohmann::json data = nlohmann::json::parse(in);
  std::vector<int64_t> tokens;
  const int64_t batch = static_cast<int64_t>(data["tokens"].size());
  const int64_t time = static_cast<int64_t>(data["tokens"][0].size());
  for (const auto& row : data["tokens"])
    for (const auto& id : row) tokens.push_back(id.get<int64_t>());
  std::vector<float> logits;
  int64_t vocab = 0;
  for (const auto& row : data["logits"])
    for (const auto& position : row) {
      vocab = static_cast<int64_t>(position.size());
      for (const auto& value : position) logits.push_back(value.get<float>());
    }
  return {torch::tensor(tokens, torch::kLong).view({batch, time}),
          torch::tensor(logits, torch::kFloat).view({batch, time, vocab})};
}

// The logits of any model folder (config.json + safetensors, one the workbench wrote too) by the
// script's own reader and implementation, for its fixed token ids (all below 128).
inline std::pair<torch::Tensor, torch::Tensor> pythonLogits(const std::string& folder) {
  namespace fs = std::filesystem;
  const std::string out = (fs::path(folder).parent_path() / (fs::path(folder).filename().string() + ".json")).string();
  const auto result = runCommand("/usr/bin/python3 " + shellQuote(tinyCheckpointScript()) + " logits " +
                                 shellQuote(folder) + " " + shellQuote(out));
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  return readLogits(out);
}

// A byte-level BPE tokenizer.json (GPT-2's pre-tokenizer) with exactly 128 ids, the tiny
// checkpoints' vocabulary: the printable ASCII bytes (ids 0..93), space "Ġ" (94) and newline "Ċ"
// (95), 31 merges of common English pairs (96..126) and <|endoftext|> (127), also an added
// special token, the separator between documents. Bytes outside that alphabet are dropped when
// encoding, as Hugging Face drops them without an unk_token: write ASCII corpora.
inline void writeTinyTokenizer(const std::filesystem::path& folder) {
  std::ostringstream vocab, merges;
  int id = 0;
  auto add = [&](const std::string& token) {
    vocab << (id ? ", " : "") << "\"" << (token == "\"" ? "\\\"" : token == "\\" ? "\\\\" : token) << "\": " << id;
    ++id;
  };
  for (int byte = 33; byte <= 126; ++byte) add(std::string(1, static_cast<char>(byte)));
  add("\xC4\xA0");  // Ġ, the space
  add("\xC4\x8A");  // Ċ, the newline
  const char* pairs[][2] = {{"\xC4\xA0", "t"}, {"h", "e"}, {"\xC4\xA0", "a"}, {"i", "n"}, {"\xC4\xA0" "t", "he"},
                            {"e", "r"}, {"o", "n"}, {"\xC4\xA0", "s"}, {"r", "e"}, {"a", "t"},
                            {"e", "n"}, {"o", "u"}, {"\xC4\xA0", "w"}, {"i", "s"}, {"\xC4\xA0", "o"},
                            {"n", "d"}, {"i", "t"}, {"\xC4\xA0", "b"}, {"e", "s"}, {"\xC4\xA0", "c"},
                            {"\xC4\xA0", "f"}, {"o", "r"}, {"a", "n"}, {"\xC4\xA0", "m"}, {"\xC4\xA0", "i"},
                            {"l", "l"}, {"\xC4\xA0", "h"}, {"in", "g"}, {"\xC4\xA0" "a", "nd"}, {"\xC4\xA0", "l"},
                            {"e", "d"}};
  bool first = true;
  for (const auto& pair : pairs) {
    merges << (first ? "" : ", ") << "\"" << pair[0] << " " << pair[1] << "\"";
    first = false;
    add(std::string(pair[0]) + pair[1]);
  }
  add("<|endoftext|>");
  std::ofstream out(folder / "tokenizer.json");
  out << "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,\n"
         " \"added_tokens\": [{\"id\": 127, \"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false,"
         " \"rstrip\": false, \"normalized\": true, \"special\": true}],\n"
         " \"normalizer\": null,\n"
         " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true,"
         " \"use_regex\": true},\n"
         " \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false,"
         " \"use_regex\": true},\n"
         " \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true,"
         " \"use_regex\": true},\n"
         " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": \"\","
         " \"end_of_word_suffix\": \"\", \"fuse_unk\": false, \"byte_fallback\": false,\n"
         "  \"vocab\": {"
      << vocab.str() << "},\n  \"merges\": [" << merges.str() << "]}}\n";
}

// A corpus of `documents` short ASCII documents separated by "%" lines, as fortunes files are.
inline void writeTinyAsciiCorpus(const std::filesystem::path& file, int documents = 40) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "it", "ran", "into", "the",
                         "garden", "where", "birds", "sing", "in", "spring", "or", "so", "they", "said"};
  std::ofstream out(file);
  for (int d = 0; d < documents; ++d) {
    for (int w = 0; w < 12 + d % 7; ++w) out << (w ? " " : "") << words[(d * 7 + w * 3) % 22];
    out << ".\n%\n";
  }
}

}  // namespace distill::testing
