// The language-model task's text: documents read from a corpus, split by whole documents
// (every 10th held out for validation, so no document is on both sides), turned into tokens
// and packed into fixed blocks. A block of `context + 1` tokens gives the inputs (its first
// `context`) and the next-token targets (its last `context`); blocks are cut at fixed
// offsets, so the same block is the same tokens at every epoch (a frozen teacher's outputs on
// it can be cached).
//
// Corpora: Debian's `fortunes` (a folder of files whose documents are separated by lines
// holding only `%`, the default), any UTF-8 text file or folder of them (documents: `%`-line
// separated when the file has such lines, else separated by blank lines), and JSON Lines (a
// `.jsonl` file, or `.jsonl` files in a folder: one JSON object a line, each a document).
//
// Instruction documents (a JSON line with a prompt and a response field) are stored as
// `prompt + "\n" + response + "\n"`, and the document remembers the length of its prompt part
// (the prompt and the joining "\n", in bytes). Packed blocks then carry a mask: a target inside a
// prompt part does not count (nothing is learned about predicting the prompt), the response,
// the "\n" that ends it and the document separator after it do (TRL masks prompt labels the
// same way). The prompt part is what a generator is given to write a response.
//
// Tokenizers: core/tasks/lm/tokenizer.h (byte, char, a model's BPE or SentencePiece).
//
// Thread contract: plain values and functions; any thread.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tasks/lm/tokenizer.h"

namespace distill {

inline constexpr char kFortunesFolder[] = "/usr/share/games/fortunes";

struct Documents {
  std::vector<std::string> texts;
  std::string origin;  // the folder or file they came from
  // Per document, the bytes of texts[i] that are its prompt part (0: plain text, every token
  // counts). Empty when no document has a prompt; else one entry per text.
  std::vector<size_t> prompt_bytes;
  // Where each file's documents begin (first document index, file), for messages; may be empty.
  std::vector<std::pair<size_t, std::string>> files;

  size_t promptBytes(size_t i) const { return i < prompt_bytes.size() ? prompt_bytes[i] : 0; }
  // "file: document k" (k counted within its file) or "origin: document i + 1".
  std::string where(size_t i) const;
};

// The prompt parts of the documents that have one, in document order (what sequence-level
// distillation gives the teacher to complete).
std::vector<std::string> prompts(const Documents& documents);

// The JSON Lines fields a document is read from (lm.text_field, lm.prompt_field,
// lm.response_field). A line with both prompt and response fields is an instruction; else its
// text field is the document.
struct JsonFields {
  std::string text = "text";
  std::string prompt = "prompt";
  std::string response = "response";
};

// Reads every document under `path` (a folder or a file; files ending in `.jsonl` as JSON
// Lines, others as text). Throws DataError naming the path when it does not exist, holds no
// text, or (for a folder) no readable file; and naming the file and line of a JSON line that
// is not an object or lacks a string field (empty lines are skipped).
Documents readDocuments(const std::string& path, const JsonFields& fields = {});

struct TokenBlocks {
  torch::Tensor inputs;   // int64 [N, context]
  torch::Tensor targets;  // int64 [N, context]: inputs shifted by one token
  // bool [N, context]: true where the target counts (response or plain text), false where it
  // lies in a prompt part. Undefined when no document has a prompt: every target counts.
  torch::Tensor mask;
  int64_t tokens = 0;     // in the stream the blocks were cut from
};

// The documents' tokens, each followed by the tokenizer's separator, cut into blocks of context + 1
// tokens at a stride of `context` (the last partial block dropped). `limit` > 0 keeps that many
// blocks, evenly spaced over the stream. Throws DataError (naming `what`) when the stream is
// shorter than one block.
//
// With prompts, a block none of whose targets counts (a prompt longer than the block covers
// it) is dropped before `limit` picks, so that no batch is all prompt; DataError (naming `what`)
// when no block is left. A prompt's tokens are those of its prompt part encoded alone and the
// response's those of the rest encoded alone (bytes 1:1, for `char` its characters; a model's
// tokenizer merges nothing across the cut, and SentencePiece puts its dummy-prefix "▁" before
// the response as before any text it encodes), so the mask falls exactly where the response
// begins.
TokenBlocks packBlocks(const Documents& documents, const Tokenizer& tokenizer, int64_t context, int64_t limit,
                       const std::string& what);
// Plain texts: no prompts, no mask.
TokenBlocks packBlocks(const std::vector<std::string>& documents, const Tokenizer& tokenizer, int64_t context,
                       int64_t limit, const std::string& what);

// Every 10th document (the 10th, 20th, ...) is validation, the rest training: whole documents,
// each with its prompt length.
struct DocumentSplit {
  Documents train, validation;
};
DocumentSplit splitDocuments(const Documents& all);
// The texts alone.
void splitDocuments(const Documents& all, std::vector<std::string>& train, std::vector<std::string>& validation);

}  // namespace distill
