#include "app/cli/tokenize_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "core/errors.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/utf8.h"

namespace distill::cli {

CLI::App* addTokenizeCommand(CLI::App& app, TokenizeArgs& args) {
  auto* command = app.add_subcommand(
      "tokenize", "encode a text with a Hugging Face byte-level BPE tokenizer (tokenizer.json, or vocab.json + merges.txt)");
  command->add_option("-k,--tokenizer", args.tokenizer, "a model folder, a tokenizer.json, or a vocab.json (merges.txt beside it)")
      ->required()
      ->type_name("FILE_OR_DIR");
  command->add_option("-t,--text", args.text, "the text to encode")->type_name("TEXT");
  command->add_option("-d,--decode", args.decode, "token ids to decode instead")->type_name("ID...");
  command->add_flag("--ordinary", args.ordinary, "read special tokens in the text as plain text");
  command->add_flag("--json", args.json, "JSON output: {tokenizer, ids, tokens, pieces} (or {tokenizer, ids, text})");
  return command;
}

int tokenizeCommand(const TokenizeArgs& args) {
  const bool decoding = !args.decode.empty();
  if (decoding == !args.text.empty()) {
    fmt::print(stderr, "error: tokenize: give either --text TEXT or --decode ID...\n");
    return kExitBadInput;
  }
  try {
    const BpeTokenizer tokenizer = BpeTokenizer::load(args.tokenizer);
    if (decoding) {
      std::vector<int32_t> ids;
      for (int64_t id : args.decode) {
        if (id < 0 || id >= tokenizer.vocabSize()) {
          fmt::print(stderr, "error: tokenize: --decode {}: ids of this tokenizer are 0 to {}\n", id, tokenizer.vocabSize() - 1);
          return kExitBadInput;
        }
        ids.push_back(static_cast<int32_t>(id));
      }
      const std::string text = tokenizer.decode(ids);
      if (args.json) {
        fmt::print("{}\n", nlohmann::json{{"tokenizer", tokenizer.source()}, {"ids", ids}, {"text", repairUtf8(text)}}.dump());
      } else {
        fmt::print("{}\n", text);
      }
      return kExitOk;
    }

    const std::vector<int32_t> ids = args.ordinary ? tokenizer.encodeOrdinary(args.text) : tokenizer.encode(args.text);
    if (args.json) {
      nlohmann::json tokens = nlohmann::json::array(), pieces = nlohmann::json::array();
      for (int32_t id : ids) {
        tokens.push_back(std::string(tokenizer.token(id)));
        pieces.push_back(repairUtf8(tokenizer.tokenBytes(id)));  // a piece may be part of a character
      }
      fmt::print("{}\n", nlohmann::json{{"tokenizer", tokenizer.source()}, {"ids", ids}, {"tokens", tokens}, {"pieces", pieces}}.dump());
      return kExitOk;
    }
    fmt::print(stderr, "{}\n", tokenizer.describe());
    fmt::print("{} tokens\n", ids.size());
    for (int32_t id : ids) {
      // The piece quoted, with control characters escaped and bytes of a split character as U+FFFD.
      fmt::print("{:>8}  {:<20}  \"{}\"{}\n", id, escapeControlChars(std::string(tokenizer.token(id))),
                 escapeControlChars(repairUtf8(tokenizer.tokenBytes(id))), tokenizer.isSpecial(id) ? "  (special)" : "");
    }
    return kExitOk;
  } catch (const DataError& e) {
    fmt::print(stderr, "error: tokenizer: {}\n", e.what());
    return kExitBadInput;
  }
}

}  // namespace distill::cli
