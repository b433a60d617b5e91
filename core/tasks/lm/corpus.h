// The language-model task's text: documents read from a corpus, split by whole documents
// (every 10th held out for validation, so no document is on both sides), turned into tokens
// and packed into fixed blocks. A block of `context + 1` tokens gives the inputs (its first
// `context`) and the next-token targets (its last `context`); blocks are cut at fixed
// offsets, so the same block is the same tokens at every epoch (a frozen teacher's outputs on
// it can be cached).
//
// Corpora: Debian's `fortunes` (a folder of files whose documents are separated by lines
// holding only `%`, the default), any UTF-8 text file or folder of them (documents: `%`-line
// separated when the file has such lines, else separated by blank lines).
//
// Tokenizers: `byte` (the 256 byte values; the separator between documents is byte 0, which
// text does not contain) and `char` (the corpus's distinct Unicode characters, in code-point
// order, after the separator id 0; needs UTF-8).
//
// Thread contract: plain values and functions; any thread.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace distill {

inline constexpr char kFortunesFolder[] = "/usr/share/games/fortunes";

struct Documents {
  std::vector<std::string> texts;
  std::string origin;  // the folder or file they came from
};

// Reads every document under `path` (a folder or a file). Throws DataError naming the path
// when it does not exist, holds no text, or (for a folder) no readable file.
Documents readDocuments(const std::string& path);

class Tokenizer {
 public:
  // `kind`: byte | char. `documents`: the corpus, for the char alphabet. Throws DataError
  // naming the document's file when `char` meets text that is not UTF-8.
  static Tokenizer build(const std::string& kind, const Documents& documents);
  const std::string& kind() const { return kind_; }
  int64_t vocabSize() const;
  static constexpr int64_t kSeparator = 0;  // between documents
  std::vector<int64_t> encode(const std::string& text) const;
  // Tokens back to text (the separator as "\n\n"; ids outside the vocabulary as U+FFFD).
  std::string decode(const std::vector<int64_t>& tokens) const;

 private:
  std::string kind_ = "byte";
  std::vector<char32_t> alphabet_;  // char: id i + 1 is alphabet_[i]
};

struct TokenBlocks {
  torch::Tensor inputs;   // int64 [N, context]
  torch::Tensor targets;  // int64 [N, context]: inputs shifted by one token
  int64_t tokens = 0;     // in the stream the blocks were cut from
};

// The documents' tokens, each followed by the separator, cut into blocks of context + 1
// tokens at a stride of `context` (the last partial block dropped). `limit` > 0 keeps that many
// blocks, evenly spaced over the stream. Throws DataError (naming `what`) when the stream is
// shorter than one block.
TokenBlocks packBlocks(const std::vector<std::string>& documents, const Tokenizer& tokenizer, int64_t context,
                       int64_t limit, const std::string& what);

// Every 10th document (the 10th, 20th, ...) is validation, the rest training: whole documents.
void splitDocuments(const Documents& all, std::vector<std::string>& train, std::vector<std::string>& validation);

}  // namespace distill
