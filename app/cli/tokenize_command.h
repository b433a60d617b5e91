// `distill tokenize --tokenizer FILE_OR_DIR --text TEXT`: what a Hugging Face byte-level BPE
// tokenizer (core/text/bpe) makes of a text: the tokenizer read (to standard error), then one
// line per token with its id, its vocabulary string and the text it stands for; --json for
// scripts; --decode ID... turns ids back into text.
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
