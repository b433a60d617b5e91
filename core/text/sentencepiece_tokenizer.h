// SentencePiece tokenizers as Llama 2 and Mistral ship them: a `tokenizer.model` (a serialized
// ModelProto), read and run by Debian's libsentencepiece (libsentencepiece-dev), the library
// Google wrote for these files, rather than a re-implementation: its normalizer, its BPE or
// unigram search and its byte fallback are the reference.
//
// The library is reached through a module of our own opened in isolation
// (core/text/sentencepiece_module.cpp says why: its private protobuf would clash with
// LibTorch's): libdistill_sentencepiece.so beside an installed program, in the build tree, or
// where DISTILL_SENTENCEPIECE_MODULE says. Without it (or in an AddressSanitizer build) load()
// refuses every file with a DataError saying so.
//
// Encoding is the library's Encode(): the text normalized as the model says (Llama 2: no change
// but spaces to "▁", a "▁" put before the text: the dummy prefix), then pieces, with bytes the
// vocabulary lacks as <0xNN> pieces where the model has byte fallback (else the unknown id). No
// BOS or EOS is added; a caller that wants them adds bosId()/eosId() itself.
//
// Decoding, two ways:
//   decode(ids)  the library's DecodeIds: the text back as the model wrote it (the dummy
//                prefix's space dropped, control ids such as <s> dropped, byte pieces joined);
//                decode(encode(t)) == t for text the normalizer leaves as it is.
//   pieceText(id) one id's surface alone: "▁" as a space, a byte piece as its byte, a control
//                id as nothing, the unknown id as " ⁇ ". Pieces joined this way decode a
//                fragment the same wherever it was cut (the dummy prefix's space kept), which is
//                what a caller printing a prompt and its continuation apart needs.
//
// Usage:
//   auto tokenizer = SentencePieceTokenizer::load("models/llama2");  // a folder or the file
//   std::vector<int32_t> ids = tokenizer.encode("Hello world");      // {15043, 3186}
//   std::string text = tokenizer.decode(ids);                        // "Hello world"
//
// Thread contract: immutable once loaded; its copies share the loaded processor; every const
// method may be called from any thread at once (the library's encode and decode are const and
// keep no state between calls).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace distill {

class SentencePieceTokenizer {
 public:
  // A `tokenizer.model` file (any name), or a folder holding `tokenizer.model`. Throws
  // DataError naming the file: missing, unreadable, or not a SentencePiece model (the library's
  // words), or a model with no pieces.
  static SentencePieceTokenizer load(const std::string& path);
  // A model's bytes (a serialized ModelProto); `path` names it in messages.
  static SentencePieceTokenizer fromSerialized(const std::string& bytes, const std::string& path);

  // Throws DataError when `text` is not valid UTF-8 (the library would read it as Latin-1
  // bytes, Hugging Face refuses it).
  std::vector<int32_t> encode(std::string_view text) const;
  // Ids outside the vocabulary decode to U+FFFD.
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string pieceText(int32_t id) const;

  int32_t vocabSize() const;
  // The piece of `id` ("▁the", "<0x0A>", "<s>"), empty outside the vocabulary.
  std::string piece(int32_t id) const;
  std::optional<int32_t> pieceId(std::string_view piece) const;
  // The model's special ids; nullopt where the model has none (its id is -1).
  std::optional<int32_t> bosId() const;
  std::optional<int32_t> eosId() const;
  std::optional<int32_t> unkId() const;
  std::optional<int32_t> padId() const;
  bool isControl(int32_t id) const;
  bool isByte(int32_t id) const;

  const std::string& source() const;
  // "SentencePiece from FILE: 32000 pieces (3 control, 256 byte), bos 1 <s>, eos 2 </s>, unk 0
  // <unk>".
  std::string describe() const;
  // 16 hex digits over every piece with its score and type and the special ids
  // (core/text/fingerprint.h); not the file's name.
  std::string fingerprint() const;

 private:
  struct Model;
  explicit SentencePieceTokenizer(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
  std::shared_ptr<const Model> model_;
};

}  // namespace distill
