// Reading Hugging Face's tokenizer files into BpeTokenizer::Model: tokenizer.json (the
// `tokenizers` library's serialization) and GPT-2's vocab.json + merges.txt.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/text/bpe/bpe_model.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/bpe/byte_level.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string readFile(const std::string& path, const std::string& what) {
  std::error_code error;
  if (!fs::exists(path, error)) throw DataError(what + " " + path + " does not exist");
  if (fs::is_directory(path, error)) throw DataError(what + " " + path + " is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(what + " " + path + " cannot be read");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

json parseJson(const std::string& path, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999999
    throw DataError(path + ": not JSON (" + std::string(e.what()) + ")");
  }
}

// "model.vocab" etc. in messages; `key` quoted when it is a JSON object key.
std::string jsonQuoted(const std::string& key) { return json(key).dump(-1, ' ', false, json::error_handler_t::replace); }

// Builds the tables, checking each entry; every message starts with the file's path.
class ModelBuilder {
 public:
  explicit ModelBuilder(std::string file) : file_(std::move(file)) { model_->byte_ids.fill(-1); }

  [[noreturn]] void fail(const std::string& what) const { throw DataError(file_ + ": " + what); }
  // The file that messages name from now on (merges.txt after vocab.json).
  void setFile(std::string file) { file_ = std::move(file); }

  void addVocab(const std::string& token, const json& value, const std::string& where) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0) {
      fail(where + " (" + jsonQuoted(token) + ") is " + value.dump() + ", not a token id (an integer from 0)");
    }
    checkId(value.get<int64_t>(), where);
    const auto id = value.get<int32_t>();
    if (auto it = model_->ids.find(token); it != model_->ids.end()) {
      fail(where + ": " + jsonQuoted(token) + " is listed twice");
    }
    if (model_->hasId(id)) fail(where + ": id " + std::to_string(id) + " is both " + jsonQuoted(model_->tokens[id]) + " and " + jsonQuoted(token));
    setToken(id, token);
    model_->ids.emplace(token, id);
    ++model_->model_vocab_size;
  }

  // `a` and `b` joined by merge number `rank` (0-based); `where` names it in messages.
  void addMerge(const std::string& a, const std::string& b, int32_t rank, const std::string& where,
                const std::string& vocab_name) {
    const auto left = id(a), right = id(b), merged = id(a + b);
    if (left < 0) fail(where + " names " + jsonQuoted(a) + ", which is not in " + vocab_name);
    if (right < 0) fail(where + " names " + jsonQuoted(b) + ", which is not in " + vocab_name);
    if (merged < 0) fail(where + " makes " + jsonQuoted(a + b) + ", which is not in " + vocab_name);
    // As in Hugging Face's BPE, a pair listed twice keeps its later rank.
    model_->merges[BpeTokenizer::Model::pairKey(left, right)] = {rank, merged};
    ++model_->merge_count;
  }

  void addAddedToken(AddedToken token, const std::string& where) {
    if (token.content.empty()) fail(where + " has an empty content");
    checkId(token.id, where);
    if (auto it = model_->ids.find(token.content); it != model_->ids.end() && it->second != token.id) {
      fail(where + " gives " + jsonQuoted(token.content) + " the id " + std::to_string(token.id) +
           ", but the vocabulary gives it " + std::to_string(it->second));
    }
    if (model_->hasId(token.id) && model_->tokens[token.id] != token.content) {
      fail(where + " gives the id " + std::to_string(token.id) + " to " + jsonQuoted(token.content) + ", which the vocabulary gives to " +
           jsonQuoted(model_->tokens[token.id]));
    }
    for (const auto& other : model_->added) {
      if (other.content == token.content) fail(where + ": " + jsonQuoted(token.content) + " is added twice");
    }
    setToken(token.id, token.content);
    model_->ids.emplace(token.content, token.id);
    model_->special[token.id] = token.special;
    model_->added.push_back(std::move(token));
  }

  void setUnk(const std::string& token, const std::string& where) {
    const auto unk = id(token);
    if (unk < 0) fail(where + " " + jsonQuoted(token) + " is not in the vocabulary");
    model_->unk_id = unk;
  }

  BpeTokenizer::Model& model() { return *model_; }

  // Ids index tables, so they must be dense enough: real vocabularies stay below 300,000.
  static constexpr int64_t kMaxId = (int64_t{1} << 22) - 1;
  void checkId(int64_t id, const std::string& where) const {
    if (id > kMaxId) fail(where + ": the id " + std::to_string(id) + " is above " + std::to_string(kMaxId) + ", the largest read");
  }

  std::shared_ptr<const BpeTokenizer::Model> finish(std::string source) {
    model_->source = std::move(source);
    for (int b = 0; b < 256; ++b) {
      std::string symbol;
      bpe::appendUtf8(symbol, bpe::byteSymbol(static_cast<uint8_t>(b)));
      model_->byte_ids[b] = id(symbol);
    }
    // Added tokens: those matched in the raw text, and those matched after normalization
    // (their contents normalized as the text will be).
    std::vector<std::string> raw, normalized;
    for (size_t i = 0; i < model_->added.size(); ++i) {
      const auto& token = model_->added[i];
      if (token.normalized) {
        const std::string content = model_->pipeline.normalized(token.content);
        normalized.push_back(content);
        model_->normalized_contents.emplace(content, i);
      } else {
        raw.push_back(token.content);
        model_->raw_contents.emplace(token.content, i);
      }
    }
    if (!raw.empty()) model_->raw_matcher.emplace(bpe::Regex::anyOf(raw));
    if (!normalized.empty()) model_->normalized_matcher.emplace(bpe::Regex::anyOf(normalized));
    return model_;
  }

 private:
  int32_t id(const std::string& token) const {
    auto it = model_->ids.find(token);
    return it == model_->ids.end() ? -1 : it->second;
  }

  void setToken(int32_t id, const std::string& token) {
    if (static_cast<size_t>(id) >= model_->used.size()) {
      model_->tokens.resize(id + 1);
      model_->bytes.resize(id + 1);
      model_->used.resize(id + 1, 0);
      model_->special.resize(id + 1, 0);
    }
    model_->tokens[id] = token;
    model_->bytes[id] = bpe::decodedBytes(token);
    model_->used[id] = 1;
  }

  std::string file_;
  std::shared_ptr<BpeTokenizer::Model> model_ = std::make_shared<BpeTokenizer::Model>();
};

// GPT-2's pre-tokenizer: ByteLevel with its own pattern, no prefix space.
void addByteLevel(bpe::TextPipeline& pipeline, bool add_prefix_space, bool use_regex) {
  if (add_prefix_space) {
    bpe::PreTokenizerStep step;
    step.kind = bpe::PreTokenizerStep::Kind::PrefixSpace;
    pipeline.steps.push_back(std::move(step));
  }
  if (use_regex) {
    bpe::PreTokenizerStep step;
    step.regex = bpe::Regex(bpe::kGpt2Pattern);
    pipeline.steps.push_back(std::move(step));
  }
  std::string details = add_prefix_space ? "prefix space" : "";
  if (use_regex) details += std::string(details.empty() ? "" : ", ") + "gpt2 pattern";
  pipeline.labels.push_back("ByteLevel" + (details.empty() ? "" : " (" + details + ")"));
}

const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool boolMember(const ModelBuilder& builder, const json& object, const char* key, bool fallback,
                const std::string& where) {
  const json* value = member(object, key);
  if (!value) return fallback;
  if (!value->is_boolean()) builder.fail(where + "." + key + " is " + value->dump() + ", not true or false");
  return value->get<bool>();
}

std::string typeOf(const ModelBuilder& builder, const json& object, const std::string& where) {
  if (!object.is_object()) builder.fail(where + " is not an object");
  const json* type = member(object, "type");
  if (!type || !type->is_string()) builder.fail(where + " has no \"type\"");
  return type->get<std::string>();
}

// Sequences within sequences: a hostile file must not run the reader out of stack.
constexpr int kMaxNesting = 16;

void readNormalizer(ModelBuilder& builder, const json& normalizer, const std::string& where, int depth = 0) {
  if (depth > kMaxNesting) builder.fail(where + " is nested more than " + std::to_string(kMaxNesting) + " Sequences deep");
  const std::string type = typeOf(builder, normalizer, where);
  auto& forms = builder.model().pipeline.normalizers;
  if (type == "NFC") {
    forms.push_back(bpe::NormalizationForm::NFC);
  } else if (type == "NFD") {
    forms.push_back(bpe::NormalizationForm::NFD);
  } else if (type == "NFKC") {
    forms.push_back(bpe::NormalizationForm::NFKC);
  } else if (type == "NFKD") {
    forms.push_back(bpe::NormalizationForm::NFKD);
  } else if (type == "Sequence") {
    const json* list = member(normalizer, "normalizers");
    if (!list || !list->is_array()) builder.fail(where + " (Sequence) has no \"normalizers\" list");
    for (size_t i = 0; i < list->size(); ++i) {
      readNormalizer(builder, (*list)[i], where + ".normalizers[" + std::to_string(i) + "]", depth + 1);
    }
  } else {
    builder.fail(where + " is of type " + jsonQuoted(type) +
                 ", which is not supported (read: NFC, NFD, NFKC, NFKD and a Sequence of them)");
  }
}

bpe::SplitBehavior readBehavior(const ModelBuilder& builder, const json& value, const std::string& where) {
  static const std::pair<const char*, bpe::SplitBehavior> names[] = {
      {"Removed", bpe::SplitBehavior::Removed},
      {"Isolated", bpe::SplitBehavior::Isolated},
      {"MergedWithPrevious", bpe::SplitBehavior::MergedWithPrevious},
      {"MergedWithNext", bpe::SplitBehavior::MergedWithNext},
      {"Contiguous", bpe::SplitBehavior::Contiguous},
  };
  if (value.is_string()) {
    for (const auto& [name, behavior] : names) {
      if (value.get<std::string>() == name) return behavior;
    }
  }
  builder.fail(where + " is " + value.dump() +
               ", not one of \"Removed\", \"Isolated\", \"MergedWithPrevious\", \"MergedWithNext\", \"Contiguous\"");
}

bpe::Regex compile(const ModelBuilder& builder, const std::string& pattern, bool literal, const std::string& where) {
  try {
    return bpe::Regex(pattern, literal);
  } catch (const std::invalid_argument& e) {
    builder.fail(where + " " + jsonQuoted(pattern) + " does not compile in PCRE2: " + e.what());
  }
}

// Reads one pre-tokenizer; `byte_level` is set once ByteLevel is read (it must come last).
void readPreTokenizer(ModelBuilder& builder, const json& pre, const std::string& where, bool& byte_level, int depth = 0) {
  if (depth > kMaxNesting) builder.fail(where + " is nested more than " + std::to_string(kMaxNesting) + " Sequences deep");
  const std::string type = typeOf(builder, pre, where);
  auto& pipeline = builder.model().pipeline;
  if (byte_level) builder.fail(where + " (" + type + ") comes after ByteLevel, which must be the last pre-tokenizer");
  if (type == "Sequence") {
    const json* list = member(pre, "pretokenizers");
    if (!list || !list->is_array()) builder.fail(where + " (Sequence) has no \"pretokenizers\" list");
    for (size_t i = 0; i < list->size(); ++i) {
      readPreTokenizer(builder, (*list)[i], where + ".pretokenizers[" + std::to_string(i) + "]", byte_level, depth + 1);
    }
  } else if (type == "ByteLevel") {
    // use_regex defaults to true (older files do not write it); add_prefix_space to true.
    addByteLevel(pipeline, boolMember(builder, pre, "add_prefix_space", true, where),
                 boolMember(builder, pre, "use_regex", true, where));
    byte_level = true;
  } else if (type == "Split") {
    const json* pattern = member(pre, "pattern");
    bpe::PreTokenizerStep step;
    std::string text;
    bool literal = false;
    if (pattern && pattern->is_object() && member(*pattern, "Regex") && (*pattern)["Regex"].is_string()) {
      text = (*pattern)["Regex"].get<std::string>();
    } else if (pattern && pattern->is_object() && member(*pattern, "String") && (*pattern)["String"].is_string()) {
      text = (*pattern)["String"].get<std::string>();
      literal = true;
    } else {
      builder.fail(where + " (Split) has no pattern {\"Regex\": ...} or {\"String\": ...}");
    }
    step.regex = compile(builder, text, literal, where + ".pattern");
    const json* behavior = member(pre, "behavior");
    if (!behavior) builder.fail(where + " (Split) has no \"behavior\"");
    step.behavior = readBehavior(builder, *behavior, where + ".behavior");
    step.invert = boolMember(builder, pre, "invert", false, where);
    pipeline.labels.push_back("Split (" + (literal ? "the string " + jsonQuoted(text) : bpe::patternName(text) + " pattern") + ", " +
                 bpe::behaviorName(step.behavior) + (step.invert ? ", inverted" : "") + ")");
    pipeline.steps.push_back(std::move(step));
  } else if (type == "Digits") {
    // Hugging Face's Digits: char::is_numeric (\p{N}), one by one or in runs.
    const bool individual = boolMember(builder, pre, "individual_digits", false, where);
    bpe::PreTokenizerStep step;
    step.regex = bpe::Regex("\\p{N}");
    step.behavior = individual ? bpe::SplitBehavior::Isolated : bpe::SplitBehavior::Contiguous;
    pipeline.labels.push_back(individual ? "Digits (one by one)" : "Digits (runs)");
    pipeline.steps.push_back(std::move(step));
  } else {
    builder.fail(where + " is of type " + jsonQuoted(type) +
                 ", which is not supported (read: ByteLevel, Split, Digits and a Sequence of them; "
                 "SentencePiece-style Metaspace tokenizers are not read)");
  }
}

AddedToken readAddedToken(const ModelBuilder& builder, const json& entry, const std::string& where) {
  if (!entry.is_object()) builder.fail(where + " is not an object");
  AddedToken token;
  const json* content = member(entry, "content");
  if (!content || !content->is_string()) builder.fail(where + " has no \"content\" string");
  token.content = content->get<std::string>();
  const json* id = member(entry, "id");
  if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() > INT32_MAX) {
    builder.fail(where + " (" + jsonQuoted(token.content) + ") has no \"id\" (an integer from 0)");
  }
  token.id = id->get<int32_t>();
  token.special = boolMember(builder, entry, "special", false, where);
  token.lstrip = boolMember(builder, entry, "lstrip", false, where);
  token.rstrip = boolMember(builder, entry, "rstrip", false, where);
  token.single_word = boolMember(builder, entry, "single_word", false, where);
  token.normalized = boolMember(builder, entry, "normalized", !token.special, where);
  return token;
}

void readVocab(ModelBuilder& builder, const json& vocab, const std::string& where) {
  if (!vocab.is_object()) builder.fail(where + " is not an object of token -> id");
  for (const auto& [token, value] : vocab.items()) builder.addVocab(token, value, where + "[" + jsonQuoted(token) + "]");
}

}  // namespace

BpeTokenizer BpeTokenizer::fromTokenizerJson(const std::string& path) {
  return fromTokenizerJsonText(readFile(path, "the tokenizer file"), path);
}

BpeTokenizer BpeTokenizer::fromTokenizerJsonText(const std::string& text, const std::string& path) {
  const json root = parseJson(path, text);
  ModelBuilder builder(path);
  if (!root.is_object()) builder.fail("not a tokenizer.json (the top level is not an object)");
  const json* model = member(root, "model");
  if (!model || !model->is_object()) builder.fail("has no \"model\" object: not a Hugging Face tokenizer.json");
  if (const json* type = member(*model, "type")) {
    if (!type->is_string() || type->get<std::string>() != "BPE") {
      builder.fail("model.type is " + type->dump() + ": only BPE models are read (not WordPiece, Unigram or WordLevel)");
    }
  } else if (!member(*model, "merges")) {
    builder.fail("model has neither a \"type\" nor \"merges\": not a BPE model");
  }
  if (boolMember(builder, *model, "byte_fallback", false, "model")) {
    builder.fail("model.byte_fallback is true: SentencePiece-style BPE (Llama 2, Mistral) is not read, only byte-level BPE");
  }
  if (const json* dropout = member(*model, "dropout"); dropout && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    builder.fail("model.dropout is " + dropout->dump() + ": BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* value = member(*model, key);
    if (value && !(value->is_string() && value->get<std::string>().empty())) {
      builder.fail(std::string("model.") + key + " is " + value->dump() + ", which byte-level BPE does not use (not supported)");
    }
  }
  const json* vocab = member(*model, "vocab");
  if (!vocab) builder.fail("model has no \"vocab\"");
  readVocab(builder, *vocab, "model.vocab");
  const json* merges = member(*model, "merges");
  if (!merges || !merges->is_array()) builder.fail("model has no \"merges\" list");
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& merge = (*merges)[i];
    const std::string where = "model.merges[" + std::to_string(i) + "]";
    std::string a, b;
    if (merge.is_string()) {
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == text.size()) {
        builder.fail(where + " is " + jsonQuoted(text) + ", not two tokens separated by a space");
      }
      a = text.substr(0, space), b = text.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      a = merge[0].get<std::string>(), b = merge[1].get<std::string>();
    } else {
      builder.fail(where + " is " + merge.dump() + ", neither \"a b\" nor [\"a\", \"b\"]");
    }
    builder.addMerge(a, b, static_cast<int32_t>(i), where + " (" + jsonQuoted(a + " " + b) + ")", "model.vocab");
  }
  builder.model().ignore_merges = boolMember(builder, *model, "ignore_merges", false, "model");
  if (const json* unk = member(*model, "unk_token")) {
    if (!unk->is_string()) builder.fail("model.unk_token is " + unk->dump() + ", not a string");
  }

  if (const json* normalizer = member(root, "normalizer")) readNormalizer(builder, *normalizer, "normalizer");

  const json* pre = member(root, "pre_tokenizer");
  bool byte_level = false;
  if (pre) readPreTokenizer(builder, *pre, "pre_tokenizer", byte_level);
  if (!byte_level) {
    builder.fail("the pre_tokenizer has no ByteLevel step: only byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM2) is read");
  }
  if (const json* decoder = member(root, "decoder")) {
    const std::string type = typeOf(builder, *decoder, "decoder");
    if (type != "ByteLevel") {
      builder.fail("decoder is of type " + jsonQuoted(type) + ", which is not supported (read: ByteLevel)");
    }
  }

  if (const json* added = member(root, "added_tokens")) {
    if (!added->is_array()) builder.fail("added_tokens is not a list");
    for (size_t i = 0; i < added->size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      builder.addAddedToken(readAddedToken(builder, (*added)[i], where), where);
    }
  }
  // After the added tokens: an unk_token may be one of them.
  if (const json* unk = member(*model, "unk_token")) builder.setUnk(unk->get<std::string>(), "model.unk_token");
  return BpeTokenizer(builder.finish(path));
}

BpeTokenizer BpeTokenizer::fromVocabAndMerges(const std::string& vocab_path, const std::string& merges_path) {
  const json vocab = parseJson(vocab_path, readFile(vocab_path, "the vocabulary file"));
  const std::string merges = readFile(merges_path, "the merges file");
  ModelBuilder builder(vocab_path);
  if (!vocab.is_object()) builder.fail("not a vocab.json (an object of token -> id)");
  readVocab(builder, vocab, "the vocabulary");

  // merges.txt: "#version: ..." first, then one "a b" a line, rank by rank; blank lines skipped.
  builder.setFile(merges_path);
  const std::string vocab_name = fs::path(vocab_path).filename().string();
  int32_t rank = 0;
  size_t line_number = 0;
  std::istringstream lines(merges);
  for (std::string line; std::getline(lines, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
    const std::string where = "line " + std::to_string(line_number);
    if (!isValidUtf8(line)) builder.fail(where + " is " + describeInvalidUtf8(line));
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() || line.find(' ', space + 1) != std::string::npos) {
      builder.fail(where + " is " + jsonQuoted(line) + ", not two tokens separated by one space");
    }
    builder.addMerge(line.substr(0, space), line.substr(space + 1), rank++, where + " (" + jsonQuoted(line) + ")", vocab_name);
  }
  if (rank == 0) builder.fail("holds no merges");

  // GPT-2: its ByteLevel pre-tokenizer, and <|endoftext|> (its BOS, EOS and UNK) as a special token.
  addByteLevel(builder.model().pipeline, /*add_prefix_space=*/false, /*use_regex=*/true);
  if (auto it = builder.model().ids.find("<|endoftext|>"); it != builder.model().ids.end()) {
    AddedToken token;
    token.content = it->first;
    token.id = it->second;
    token.special = true;
    builder.addAddedToken(token, "<|endoftext|>");
  }
  return BpeTokenizer(builder.finish(vocab_path + " + " + merges_path));
}

BpeTokenizer BpeTokenizer::load(const std::string& path) {
  std::error_code error;
  const fs::path given(path);
  if (!fs::exists(given, error)) throw DataError("tokenizer " + path + " does not exist");
  if (fs::is_directory(given, error)) {
    if (fs::exists(given / "tokenizer.json", error)) return fromTokenizerJson((given / "tokenizer.json").string());
    const bool vocab = fs::exists(given / "vocab.json", error), merges = fs::exists(given / "merges.txt", error);
    if (vocab && merges) return fromVocabAndMerges((given / "vocab.json").string(), (given / "merges.txt").string());
    std::string found = vocab ? "vocab.json without merges.txt" : merges ? "merges.txt without vocab.json" : "neither";
    if (fs::exists(given / "tokenizer.model", error)) {
      found += "; its tokenizer.model (SentencePiece: Llama 2, Mistral) is not read yet";
    }
    throw DataError("tokenizer folder " + path + " has no tokenizer.json, nor vocab.json and merges.txt (found: " +
                    found + ")");
  }
  if (given.filename() == "vocab.json") {
    const fs::path merges = given.parent_path() / "merges.txt";
    if (!fs::exists(merges, error)) throw DataError("tokenizer " + path + ": no merges.txt beside it (" + merges.string() + ")");
    return fromVocabAndMerges(path, merges.string());
  }
  if (given.extension() == ".model") {
    throw DataError("tokenizer " + path + " looks like a SentencePiece model, which is not read yet (only byte-level BPE: tokenizer.json, or vocab.json + merges.txt)");
  }
  return fromTokenizerJson(path);
}

}  // namespace distill
