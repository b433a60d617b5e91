// The language-model task's tokenizer: what `lm.tokenizer` names, turned into ids and back.
//
//   byte             the 256 byte values; the separator between documents is byte 0, which
//                    text does not contain
//   char             the corpus's distinct Unicode characters in code-point order, after the
//                    separator id 0 (needs UTF-8)
//   hf:<path>        a model's own tokenizer: a folder holding tokenizer.model (SentencePiece:
//   <path>           Llama 2, Mistral), else tokenizer.json or vocab.json + merges.txt
//                    (byte-level BPE: GPT-2, Qwen2, Llama 3, SmolLM2); or one of those files.
//                    The separator is the model's end-of-text token: a SentencePiece model's
//                    eos; for BPE the eos_token of a tokenizer_config.json beside the file, else
//                    the first of <|endoftext|>, <|end_of_text|>, </s> the vocabulary has.
//                    A model without one is refused (the corpus cannot be packed without it).
//
// A folder with both tokenizer.model and tokenizer.json (Llama 2 ships both) is read through
// tokenizer.model: its tokenizer.json is the SentencePiece-style BPE (byte_fallback, Metaspace)
// that core/text/bpe refuses. If tokenizer.model is no SentencePiece model (Llama 3's original
// tiktoken file), the folder's tokenizer.json is read instead.
//
// Encoding: byte and char as ever; BPE as Hugging Face's tokenizer(text, add_special_tokens=
// False) (added tokens in the text are found: a chat template's markers become their ids);
// SentencePiece as the library's Encode (a dummy-prefix "▁" before each text encoded). No BOS
// is added. Text that is not UTF-8 is repaired first (U+FFFD) for all but byte; a corpus that
// is not UTF-8 is refused at build() by document.
//
// Decoding is a concatenation: decode(a + b) == decode(a) + decode(b), so a prompt and its
// completion decoded apart read as the whole (the separator as "\n\n"; SentencePiece pieces by
// their surface, the dummy prefix's space kept; ids outside the vocabulary as U+FFFD). The text
// is repaired to UTF-8 (a cut inside a character shows U+FFFD).
//
// Identity: describe() says in words what was read ("byte-level BPE from models/gpt2/
// tokenizer.json: 50257 ids ...; separator <|endoftext|> (50256)"); fingerprint() is
// "<kind>:<16 hex digits>" over what decides the ids (vocabulary, merges or pieces, added
// tokens, the separator; for char the alphabet), not over file names. A run records both; a
// teacher exported or trained with another fingerprint is refused naming both tokenizers.
//
// Usage:
//   Tokenizer tokenizer = Tokenizer::build("hf:models/gpt2", documents);
//   Tokenizer::Session session = tokenizer.session();  // one thread's encoder with its caches
//   for (const auto& text : documents.texts) append(session.encode(text));
//
// Thread contract: a Tokenizer is immutable once built and cheap to copy (copies share the
// loaded model); its const methods may be called from any thread. A Session belongs to one
// thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace distill {

struct Documents;
class BpeTokenizer;
class BpeEncoder;
class SentencePieceTokenizer;

class Tokenizer {
 public:
  // `spec`: an lm.tokenizer value. `documents`: the corpus (char takes its alphabet from it;
  // the model tokenizers check that it is UTF-8). Throws DataError starting "lm.tokenizer: "
  // and naming the folder or file: missing, a folder without a tokenizer (what it holds
  // named), a file the loaders refuse (their words), a model without an end-of-text token; and
  // naming the document when char or a model tokenizer meets text that is not UTF-8.
  static Tokenizer build(const std::string& spec, const Documents& documents);
  // The tokenizer of a config: the corpus is read only when `char` needs it.
  static Tokenizer forConfig(const LmConfig& lm);

  // The lm.tokenizer value it was built from ("byte", "hf:models/gpt2").
  const std::string& spec() const { return spec_; }
  // byte | char | bpe | sentencepiece
  const std::string& kind() const { return kind_; }
  // A model's tokenizer (bpe, sentencepiece) rather than byte or char.
  bool isModel() const { return bpe_ || sentencepiece_; }
  int64_t vocabSize() const;
  // The id between documents (byte, char: 0; a model's: its end-of-text id).
  int64_t separator() const { return separator_; }
  // byte and char's separator; generate()'s start for an empty prompt. A model's tokenizer
  // uses separator().
  static constexpr int64_t kSeparator = 0;

  std::vector<int64_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int64_t>& tokens) const;
  // char: the characters of ids 1, 2, ... in id order, as UTF-8 text; others: empty.
  std::string alphabet() const;
  std::string describe() const;
  std::string fingerprint() const { return fingerprint_; }

  // Encodes many texts on one thread (BPE keeps its word cache from text to text). The
  // tokenizer must outlive its sessions.
  class Session {
   public:
    explicit Session(const Tokenizer& tokenizer);
    ~Session();
    Session(Session&&) noexcept;
    Session& operator=(Session&&) = delete;
    std::vector<int64_t> encode(const std::string& text);

   private:
    const Tokenizer* tokenizer_;
    std::unique_ptr<BpeEncoder> bpe_;
  };
  Session session() const { return Session(*this); }

 private:
  std::string spec_ = "byte";
  std::string kind_ = "byte";
  int64_t separator_ = kSeparator;
  std::string fingerprint_ = "byte";
  std::vector<char32_t> alphabet_;  // char: id i + 1 is alphabet_[i]
  std::shared_ptr<const BpeTokenizer> bpe_;
  std::shared_ptr<const SentencePieceTokenizer> sentencepiece_;
};

// Whether `spec` names a model's tokenizer (hf:<path> or a path) rather than byte or char.
bool isModelTokenizer(const std::string& spec);

// Why a model recorded with a run (`recorded`: the run's environment, as LmTask::describe()
// wrote it: tokenizer, tokenizer_description, tokenizer_fingerprint, vocab_size) does not read
// `tokenizer`'s ids, naming both tokenizers; empty when it does or the run recorded too little
// to tell. Runs from before fingerprints are compared by lm.tokenizer kind and vocabulary size.
std::string tokenizerMismatch(const Tokenizer& tokenizer, const std::map<std::string, std::string>& recorded);

}  // namespace distill
