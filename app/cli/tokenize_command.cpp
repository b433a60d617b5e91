#include "app/cli/tokenize_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>

#include "app/cli/cli_common.h"
#include "core/errors.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/sentencepiece_tokenizer.h"
#include "core/text/utf8.h"

namespace distill::cli {

namespace {

namespace fs = std::filesystem;

// What the command shows of a tokenizer, whichever library reads it.
struct TokenizerView {
  std::string source;       // the file read
  std::string description;  // its describe()
  int64_t vocab_size = 0;
  std::function<std::vector<int32_t>(const std::string&)> encode;
  std::function<std::string(const std::vector<int32_t>&)> decode;
  std::function<std::string(int32_t)> token;  // the vocabulary string ("Ġt", "▁the", "<0x0A>")
  std::function<std::string(int32_t)> piece;  // the bytes it stands for (may be part of a character)
  std::function<std::string(int32_t)> mark;   // "special", "control", "byte", "unknown" or empty
};

TokenizerView viewOf(std::shared_ptr<const BpeTokenizer> bpe, bool ordinary) {
  TokenizerView view;
  view.source = bpe->source();
  view.description = bpe->describe();
  view.vocab_size = bpe->vocabSize();
  view.encode = [bpe, ordinary](const std::string& text) { return ordinary ? bpe->encodeOrdinary(text) : bpe->encode(text); };
  view.decode = [bpe](const std::vector<int32_t>& ids) { return bpe->decode(ids); };
  view.token = [bpe](int32_t id) { return std::string(bpe->token(id)); };
  view.piece = [bpe](int32_t id) { return bpe->tokenBytes(id); };
  view.mark = [bpe](int32_t id) { return bpe->isSpecial(id) ? std::string("special") : std::string(); };
  return view;
}

// The library's Encode reads control pieces (<s>, </s>) in a text as text, with --ordinary or without.
TokenizerView viewOf(std::shared_ptr<const SentencePieceTokenizer> sp) {
  TokenizerView view;
  view.source = sp->source();
  view.description = sp->describe();
  view.vocab_size = sp->vocabSize();
  view.encode = [sp](const std::string& text) { return sp->encode(text); };
  view.decode = [sp](const std::vector<int32_t>& ids) { return sp->decode(ids); };
  view.token = [sp](int32_t id) { return sp->piece(id); };
  view.piece = [sp](int32_t id) { return sp->pieceText(id); };
  view.mark = [sp](int32_t id) {
    if (sp->isControl(id)) return std::string("control");
    if (sp->isByte(id)) return std::string("byte");
    return sp->unkId() == id ? std::string("unknown") : std::string();
  };
  return view;
}

// The tokenizer `path` names, chosen as the lm task's Tokenizer::build() chooses
// (core/tasks/lm/tokenizer.h): a folder's tokenizer.model (SentencePiece) before its
// tokenizer.json or vocab.json + merges.txt (byte-level BPE), unless tokenizer.model is no
// SentencePiece model and the BPE files are there (Llama 3 ships a tiktoken tokenizer.model);
// a file ending .model is SentencePiece, any other file BPE. Throws DataError naming the file.
TokenizerView openTokenizer(const std::string& path, bool ordinary) {
  std::error_code ec;
  const fs::path given(path);
  const bool folder = fs::is_directory(given, ec);
  const bool sentencepiece = folder ? fs::is_regular_file(given / "tokenizer.model", ec) : given.extension() == ".model";
  if (!sentencepiece) return viewOf(std::make_shared<const BpeTokenizer>(BpeTokenizer::load(path)), ordinary);
  try {
    return viewOf(std::make_shared<const SentencePieceTokenizer>(SentencePieceTokenizer::load(path)));
  } catch (const DataError& problem) {
    const bool bpe_files = folder && (fs::is_regular_file(given / "tokenizer.json", ec) ||
                                      (fs::is_regular_file(given / "vocab.json", ec) &&
                                       fs::is_regular_file(given / "merges.txt", ec)));
    if (!bpe_files) throw;
    try {
      return viewOf(std::make_shared<const BpeTokenizer>(BpeTokenizer::load(path)), ordinary);
    } catch (const DataError& e) {
      throw DataError(std::string(e.what()) + "; and its tokenizer.model: " + problem.what());
    }
  }
}

}  // namespace

CLI::App* addTokenizeCommand(CLI::App& app, TokenizeArgs& args) {
  auto* command = app.add_subcommand(
      "tokenize", "encode a text with a model's tokenizer: Hugging Face byte-level BPE (tokenizer.json, or vocab.json + "
                  "merges.txt) or SentencePiece (tokenizer.model)");
  command->add_option("-k,--tokenizer", args.tokenizer,
                      "a model folder, a tokenizer.json, a vocab.json (merges.txt beside it) or a tokenizer.model")
      ->required()
      ->type_name("FILE_OR_DIR");
  command->add_option("-t,--text", args.text, "the text to encode")->type_name("TEXT");
  command->add_option("-d,--decode", args.decode, "token ids to decode instead")->type_name("ID...");
  command->add_flag("--ordinary", args.ordinary,
                    "read special tokens in the text as plain text (SentencePiece always reads them so)");
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
    const TokenizerView tokenizer = openTokenizer(args.tokenizer, args.ordinary);
    if (decoding) {
      std::vector<int32_t> ids;
      for (int64_t id : args.decode) {
        if (id < 0 || id >= tokenizer.vocab_size) {
          fmt::print(stderr, "error: tokenize: --decode {}: ids of this tokenizer are 0 to {}\n", id, tokenizer.vocab_size - 1);
          return kExitBadInput;
        }
        ids.push_back(static_cast<int32_t>(id));
      }
      const std::string text = tokenizer.decode(ids);
      if (args.json) {
        fmt::print("{}\n", nlohmann::json{{"tokenizer", tokenizer.source}, {"ids", ids}, {"text", repairUtf8(text)}}.dump());
      } else {
        fmt::print("{}\n", text);
      }
      return kExitOk;
    }

    const std::vector<int32_t> ids = tokenizer.encode(args.text);
    if (args.json) {
      nlohmann::json tokens = nlohmann::json::array(), pieces = nlohmann::json::array();
      for (int32_t id : ids) {
        tokens.push_back(repairUtf8(tokenizer.token(id)));
        pieces.push_back(repairUtf8(tokenizer.piece(id)));  // a piece may be part of a character
      }
      fmt::print("{}\n", nlohmann::json{{"tokenizer", tokenizer.source}, {"ids", ids}, {"tokens", tokens}, {"pieces", pieces}}.dump());
      return kExitOk;
    }
    fmt::print(stderr, "{}\n", tokenizer.description);
    fmt::print("{} tokens\n", ids.size());
    for (int32_t id : ids) {
      // The piece quoted, with control characters escaped and bytes of a split character as U+FFFD.
      const std::string mark = tokenizer.mark(id);
      fmt::print("{:>8}  {:<20}  \"{}\"{}\n", id, escapeControlChars(repairUtf8(tokenizer.token(id))),
                 escapeControlChars(repairUtf8(tokenizer.piece(id))), mark.empty() ? "" : "  (" + mark + ")");
    }
    return kExitOk;
  } catch (const DataError& e) {
    fmt::print(stderr, "error: tokenizer: {}\n", e.what());
    return kExitBadInput;
  }
}

}  // namespace distill::cli
