// The tables a loaded BPE tokenizer is made of, shared by the loaders (tokenizer_files.cpp) and
// the encoder (bpe_tokenizer.cpp). Internal to core/text/bpe.
//
// Thread contract: built by one loader, then immutable (BpeTokenizer holds it const).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/bpe/pre_tokenizer.h"
#include "core/text/bpe/regex.h"

namespace distill {

struct BpeTokenizer::Model {
  std::string source;  // the file or files read, for messages

  // Vocabulary strings (byte-level symbols, "Ġthe") and added tokens' contents -> id.
  std::unordered_map<std::string, int32_t> ids;
  // By id: the vocabulary string, the bytes it decodes to, whether an id is used and special.
  std::vector<std::string> tokens;
  std::vector<std::string> bytes;
  std::vector<uint8_t> used, special;
  size_t model_vocab_size = 0;  // entries of the model's own vocabulary

  // The symbol each byte starts as (-1 where the vocabulary lacks it).
  std::array<int32_t, 256> byte_ids{};
  struct Merge {
    int32_t rank;
    int32_t merged;  // the id of the two joined
  };
  // (left id << 32 | right id) -> the merge of that pair.
  std::unordered_map<uint64_t, Merge> merges;
  size_t merge_count = 0;
  bool ignore_merges = false;
  int32_t unk_id = -1;  // stands for a byte the vocabulary lacks; -1: such a byte is dropped

  std::vector<AddedToken> added;
  // Matchers of the added tokens found in the raw text and in the normalized text, and the
  // token each matched string is (index into `added`).
  std::optional<bpe::Regex> raw_matcher, normalized_matcher;
  std::unordered_map<std::string, size_t> raw_contents, normalized_contents;

  bpe::TextPipeline pipeline;

  static uint64_t pairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Merge* merge(int32_t left, int32_t right) const {
    auto it = merges.find(pairKey(left, right));
    return it == merges.end() ? nullptr : &it->second;
  }
  bool hasId(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < used.size() && used[id]; }
};

}  // namespace distill
