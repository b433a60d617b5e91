// `distill tokenize --tokenizer FILE_OR_DIR --text TEXT`: what a model's tokenizer makes of a
// text: the tokenizer read (to standard error), then one line per token with its id, its
// vocabulary string and the text it stands for; --json for scripts; --decode ID... turns ids
// back into text. The tokenizer is the one the lm task reads from the same path
// (core/tasks/lm/tokenizer.h): a SentencePiece tokenizer.model (core/text/sentencepiece_tokenizer.h:
// Llama 2, Mistral) where the folder has one, else Hugging Face byte-level BPE (core/text/bpe).
// SentencePiece tokens are marked (control), (byte) or (unknown); BPE's added tokens (special).
// Thread contract: main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace distill::cli {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text;
  std::vector<int64_t> decode;
  bool ordinary = false;  // special tokens in the text are text
  bool json = false;
};

// Registers the subcommand and its options on `app`.
CLI::App* addTokenizeCommand(CLI::App& app, TokenizeArgs& args);
// Runs it; returns the exit code. Tokenizer files that cannot be read, text that is not UTF-8
// and neither or both of --text and --decode exit 2 with a message naming them.
int tokenizeCommand(const TokenizeArgs& args);

}  // namespace distill::cli
