#include "core/tasks/lm/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/tasks/lm/corpus.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/fingerprint.h"
#include "core/text/sentencepiece_tokenizer.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

namespace fs = std::filesystem;

const std::string kKey = "lm.tokenizer: ";
const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
const char kSeparatorText[] = "\n\n";
// A BPE model's end-of-text token when no tokenizer_config.json names one: GPT-2, Qwen2 and
// SmolLM2; Llama 3; most others.
const char* const kEndOfTextTokens[] = {"<|endoftext|>", "<|end_of_text|>", "</s>"};

// Code points of valid UTF-8 text.
std::vector<char32_t> codePoints(const std::string& text) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const int length = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t value = length == 1 ? c : length == 2 ? (c & 0x1F) : length == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < length; ++k) value = (value << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    out.push_back(value);
    i += static_cast<size_t>(length);
  }
  return out;
}

void appendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Every document UTF-8, or DataError naming the first that is not and what reads it.
void requireUtf8(const Documents& documents, const std::string& why) {
  for (size_t i = 0; i < documents.texts.size(); ++i)
    if (!isValidUtf8(documents.texts[i]))
      throw DataError(documents.where(i) + " is " + describeInvalidUtf8(documents.texts[i]) + "; " + why +
                      " (lm.tokenizer: byte reads any bytes)");
}

// "a, b, c" of a folder's entries (at most 12), for "it holds ...".
std::string folderListing(const fs::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty()) return "nothing";
  std::string text;
  for (size_t i = 0; i < names.size() && i < 12; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 12) text += ", ... (" + std::to_string(names.size()) + " entries)";
  return text;
}

// The eos_token of a tokenizer_config.json ("<|endoftext|>" or {"content": "<|endoftext|>"}),
// empty when the file is missing or names none.
std::string configuredEndOfText(const fs::path& config_file) {
  std::error_code ec;
  if (!fs::is_regular_file(config_file, ec)) return "";
  std::ifstream in(config_file, std::ios::binary);
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(kKey + config_file.string() + ": not JSON (" + e.what() + ")");
  }
  if (!config.is_object() || !config.contains("eos_token")) return "";
  const auto& eos = config.at("eos_token");
  if (eos.is_string()) return eos.get<std::string>();
  if (eos.is_object() && eos.contains("content") && eos.at("content").is_string())
    return eos.at("content").get<std::string>();
  if (eos.is_null()) return "";
  throw DataError(kKey + config_file.string() + ": eos_token is a " + std::string(eos.type_name()) +
                  ", expected a string or an object with a string 'content'");
}

// The files a model path names: SentencePiece's tokenizer.model, else the BPE files.
struct TokenizerFiles {
  fs::path sentencepiece;  // tokenizer.model, when there is one
  fs::path bpe;            // the folder or file BpeTokenizer::load reads, when there is one
  fs::path folder;         // where tokenizer_config.json would be
};

TokenizerFiles findFiles(const std::string& spec, const std::string& path) {
  std::error_code ec;
  const fs::path given(path);
  if (path.empty()) throw DataError(kKey + "'" + spec + "' names no path; expected hf:<folder> or a tokenizer file");
  if (!fs::exists(given, ec))
    throw DataError(kKey + path + ": no such folder or file (expected a model's folder with tokenizer.json, "
                                  "vocab.json + merges.txt or tokenizer.model, or one of those files)");
  TokenizerFiles files;
  if (fs::is_directory(given, ec)) {
    files.folder = given;
    if (fs::is_regular_file(given / "tokenizer.model", ec)) files.sentencepiece = given / "tokenizer.model";
    if (fs::is_regular_file(given / "tokenizer.json", ec) ||
        (fs::is_regular_file(given / "vocab.json", ec) && fs::is_regular_file(given / "merges.txt", ec)))
      files.bpe = given;
    if (files.sentencepiece.empty() && files.bpe.empty())
      throw DataError(kKey + path + ": the folder holds no tokenizer (expected tokenizer.json, vocab.json + "
                                    "merges.txt, or tokenizer.model); it holds " + folderListing(given));
    return files;
  }
  files.folder = given.parent_path();
  (given.extension() == ".model" ? files.sentencepiece : files.bpe) = given;
  return files;
}

}  // namespace

bool isModelTokenizer(const std::string& spec) { return spec != "byte" && spec != "char"; }

Tokenizer Tokenizer::build(const std::string& spec, const Documents& documents) {
  Tokenizer tokenizer;
  tokenizer.spec_ = spec;
  tokenizer.kind_ = spec;
  if (spec == "byte") return tokenizer;
  if (spec == "char") {
    requireUtf8(documents, "the char tokenizer needs UTF-8 text");
    std::set<char32_t> seen;
    for (const auto& text : documents.texts)
      for (char32_t c : codePoints(text)) seen.insert(c);
    tokenizer.alphabet_.assign(seen.begin(), seen.end());
    Fingerprint f;
    f.add("char");
    for (char32_t c : tokenizer.alphabet_) f.add(static_cast<int64_t>(c));
    tokenizer.fingerprint_ = "char:" + f.hex();
    return tokenizer;
  }

  const std::string path = spec.rfind("hf:", 0) == 0 ? spec.substr(3) : spec;
  const TokenizerFiles files = findFiles(spec, path);
  std::string model_fingerprint, sentencepiece_problem;
  if (!files.sentencepiece.empty()) {
    try {
      tokenizer.sentencepiece_ =
          std::make_shared<const SentencePieceTokenizer>(SentencePieceTokenizer::load(files.sentencepiece.string()));
    } catch (const DataError& e) {
      if (files.bpe.empty()) throw DataError(kKey + std::string(e.what()));
      sentencepiece_problem = e.what();  // a tiktoken tokenizer.model beside a tokenizer.json
    }
  }
  if (tokenizer.sentencepiece_) {
    const SentencePieceTokenizer& sp = *tokenizer.sentencepiece_;
    tokenizer.kind_ = "sentencepiece";
    const auto eos = sp.eosId();
    if (!eos)
      throw DataError(kKey + sp.source() +
                      ": the SentencePiece model has no end-of-text piece (eos_id -1); the lm task separates "
                      "documents with it");
    tokenizer.separator_ = *eos;
    model_fingerprint = sp.fingerprint();
  } else {
    try {
      tokenizer.bpe_ = std::make_shared<const BpeTokenizer>(BpeTokenizer::load(files.bpe.string()));
    } catch (const DataError& e) {
      throw DataError(kKey + std::string(e.what()) +
                      (sentencepiece_problem.empty() ? "" : "; and its tokenizer.model: " + sentencepiece_problem));
    }
    const BpeTokenizer& bpe = *tokenizer.bpe_;
    tokenizer.kind_ = "bpe";
    const fs::path config_file = files.folder / "tokenizer_config.json";
    std::string separator_name = configuredEndOfText(config_file);
    if (!separator_name.empty()) {
      const auto id = bpe.tokenId(separator_name);
      if (!id)
        throw DataError(kKey + config_file.string() + ": eos_token '" + separator_name + "' is not a token of " +
                        bpe.source());
      tokenizer.separator_ = *id;
    } else {
      for (const char* name : kEndOfTextTokens)
        if (const auto id = bpe.tokenId(name)) {
          tokenizer.separator_ = *id;
          separator_name = name;
          break;
        }
      if (separator_name.empty())
        throw DataError(kKey + bpe.source() +
                        ": no end-of-text token (no eos_token in a tokenizer_config.json beside it, and none of "
                        "<|endoftext|>, <|end_of_text|>, </s> in the vocabulary); the lm task separates documents "
                        "with it");
    }
    model_fingerprint = bpe.fingerprint();
  }
  requireUtf8(documents, "the " + tokenizer.kind_ + " tokenizer of " + spec + " reads UTF-8 text");
  Fingerprint f;
  f.add(tokenizer.kind_).add(model_fingerprint).add(tokenizer.separator_);
  tokenizer.fingerprint_ = tokenizer.kind_ + ":" + f.hex();
  return tokenizer;
}

Tokenizer Tokenizer::forConfig(const LmConfig& lm) {
  if (lm.tokenizer != "char") return build(lm.tokenizer, Documents{});
  return build(lm.tokenizer, readDocuments(lm.corpus.empty() ? std::string(kFortunesFolder) : lm.corpus,
                                           {lm.text_field, lm.prompt_field, lm.response_field}));
}

int64_t Tokenizer::vocabSize() const {
  if (bpe_) return bpe_->vocabSize();
  if (sentencepiece_) return sentencepiece_->vocabSize();
  return kind_ == "byte" ? 256 : static_cast<int64_t>(alphabet_.size()) + 1;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const { return Session(*this).encode(text); }

Tokenizer::Session::Session(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {
  if (tokenizer.bpe_) bpe_ = std::make_unique<BpeEncoder>(*tokenizer.bpe_);
}
Tokenizer::Session::~Session() = default;
Tokenizer::Session::Session(Session&&) noexcept = default;

std::vector<int64_t> Tokenizer::Session::encode(const std::string& text) {
  const Tokenizer& t = *tokenizer_;
  std::vector<int64_t> tokens;
  if (t.kind_ == "byte") {
    tokens.reserve(text.size());
    for (unsigned char c : text) tokens.push_back(c);
    return tokens;
  }
  const std::string repaired = isValidUtf8(text) ? std::string() : repairUtf8(text);
  const std::string& valid = repaired.empty() ? text : repaired;
  if (bpe_ || t.sentencepiece_) {
    std::vector<int32_t> ids;
    if (bpe_)
      bpe_->encode(valid, ids);
    else
      ids = t.sentencepiece_->encode(valid);
    return std::vector<int64_t>(ids.begin(), ids.end());
  }
  for (char32_t c : codePoints(valid)) {
    const auto it = std::lower_bound(t.alphabet_.begin(), t.alphabet_.end(), c);
    // A character the corpus never had: the nearest the model knows is none; skip it.
    if (it != t.alphabet_.end() && *it == c) tokens.push_back(1 + (it - t.alphabet_.begin()));
  }
  return tokens;
}

std::string Tokenizer::decode(const std::vector<int64_t>& tokens) const {
  std::string text;
  const int64_t vocab = vocabSize();
  for (int64_t t : tokens) {
    if (t == separator_) {
      text += kSeparatorText;
    } else if (t < 0 || t >= vocab) {
      text += kReplacement;
    } else if (kind_ == "byte") {
      text += static_cast<char>(t);
    } else if (kind_ == "char") {
      appendUtf8(text, alphabet_[static_cast<size_t>(t - 1)]);
    } else if (bpe_) {
      text += bpe_->decode({static_cast<int32_t>(t)});  // an id without a token: U+FFFD
    } else {
      text += sentencepiece_->pieceText(static_cast<int32_t>(t));
    }
  }
  return kind_ == "char" ? text : repairUtf8(text);
}

std::string Tokenizer::alphabet() const {
  std::string text;
  for (char32_t c : alphabet_) appendUtf8(text, c);
  return text;
}

std::string Tokenizer::describe() const {
  const std::string separator = " (" + std::to_string(separator_) + ")";
  if (bpe_) return bpe_->describe() + "; separator " + std::string(bpe_->token(static_cast<int32_t>(separator_))) + separator;
  if (sentencepiece_) return sentencepiece_->describe() + "; separator " + sentencepiece_->piece(static_cast<int32_t>(separator_)) + separator;
  if (kind_ == "char")
    return "char: the corpus's " + std::to_string(alphabet_.size()) + " characters after the separator (0)";
  return "byte: the 256 byte values, byte 0 the separator";
}

std::string tokenizerMismatch(const Tokenizer& tokenizer, const std::map<std::string, std::string>& recorded) {
  auto value = [&](const char* key) {
    const auto it = recorded.find(key);
    return it == recorded.end() ? std::string() : it->second;
  };
  const std::string spec = value("tokenizer"), fingerprint = value("tokenizer_fingerprint"), vocab = value("vocab_size");
  const std::string ours = "this run's lm.tokenizer " + tokenizer.spec() + " is " + tokenizer.describe() +
                           " (fingerprint " + tokenizer.fingerprint() + ")";
  const std::string limitation =
      ". Teacher and student must tokenize alike: distilling across tokenizers is not supported";
  if (!fingerprint.empty()) {
    if (fingerprint == tokenizer.fingerprint()) return "";
    const std::string described = value("tokenizer_description");
    return "was tokenized with lm.tokenizer " + spec + ": " + (described.empty() ? spec : described) +
           " (fingerprint " + fingerprint + "); " + ours + limitation;
  }
  // Before fingerprints: byte and char runs only.
  if (!spec.empty() && spec != tokenizer.spec() && !isModelTokenizer(spec))
    return "was tokenized with lm.tokenizer " + spec + "; " + ours + limitation;
  if (!vocab.empty() && vocab != std::to_string(tokenizer.vocabSize()))
    return "has a vocabulary of " + vocab + " tokens; " + ours + ", of " + std::to_string(tokenizer.vocabSize()) +
           " tokens" + limitation;
  return "";
}

}  // namespace distill
