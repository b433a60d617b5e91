#include "core/tasks/lm/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Trailing newlines off, one newline back: every document ends with exactly one.
std::string endWithOneNewline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text + "\n";
}

bool blank(const std::string& text) { return text.find_first_not_of(" \t\r\n") == std::string::npos; }

// Splits at lines holding only `%` (fortune files); a file without them at blank lines.
void splitInto(const std::string& text, std::vector<std::string>& out) {
  std::vector<std::string> parts;
  std::string current, line;
  std::istringstream lines(text);
  bool fortune = false;
  {
    std::istringstream probe(text);
    while (std::getline(probe, line))
      if (line == "%") {
        fortune = true;
        break;
      }
  }
  auto flush = [&] {
    if (!blank(current)) out.push_back(endWithOneNewline(current));
    current.clear();
  };
  while (std::getline(lines, line)) {
    const bool separator = fortune ? line == "%" : line.find_first_not_of(" \t\r") == std::string::npos;
    if (separator) {
      flush();
      continue;
    }
    current += line;
    current += '\n';
  }
  flush();
}

// nlohmann's parse message without its "[json.exception.parse_error.101] parse error at line
// 1, column 5: " preamble (each line is parsed alone: the caller names the line).
std::string parseProblem(const nlohmann::json::parse_error& error) {
  std::string text = error.what();
  const auto column = text.find(", column ");
  const auto colon = column == std::string::npos ? std::string::npos : text.find(": ", column);
  if (colon != std::string::npos) text = text.substr(colon + 2);
  return "column " + std::to_string(error.byte) + ": " + text;
}

// One document per non-empty line: an instruction (prompt and response fields) or a text field.
void readJsonLines(const fs::path& file, const JsonFields& fields, Documents& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(file.string() + ": cannot be read");
  const std::string expected_fields = "a string field '" + fields.text + "' (lm.text_field), or '" + fields.prompt +
                                      "' and '" + fields.response + "' (lm.prompt_field, lm.response_field)";
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const std::string at = file.string() + ": line " + std::to_string(number) + ": ";
    if (blank(line)) continue;
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw DataError(at + "not JSON (" + parseProblem(e) + "); expected one JSON object a line");
    }
    if (!object.is_object())
      throw DataError(at + "a JSON " + std::string(object.type_name()) + ", expected an object with " + expected_fields);
    auto text = [&](const std::string& key) -> const std::string& {
      const auto& value = object.at(key);
      if (!value.is_string())
        throw DataError(at + "field '" + key + "' is a " + std::string(value.type_name()) + ", expected a string");
      return value.get_ref<const std::string&>();
    };
    if (object.contains(fields.prompt) && object.contains(fields.response)) {
      const std::string prompt_part = text(fields.prompt) + "\n";
      if (out.prompt_bytes.size() < out.texts.size()) out.prompt_bytes.resize(out.texts.size(), 0);
      out.texts.push_back(prompt_part + endWithOneNewline(text(fields.response)));
      out.prompt_bytes.push_back(prompt_part.size());
    } else if (object.contains(fields.text)) {
      // An empty text is skipped, as an empty fortune is.
      if (blank(text(fields.text))) continue;
      out.texts.push_back(endWithOneNewline(text(fields.text)));
      if (!out.prompt_bytes.empty()) out.prompt_bytes.push_back(0);
    } else {
      throw DataError(at + "no field '" + fields.text + "' (nor '" + fields.prompt + "' and '" + fields.response +
                      "'); expected " + expected_fields);
    }
  }
}

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

}  // namespace

std::string Documents::where(size_t i) const {
  const auto after = std::upper_bound(files.begin(), files.end(), i,
                                      [](size_t index, const auto& file) { return index < file.first; });
  if (after == files.begin()) return origin + ": document " + std::to_string(i + 1);
  const auto& [first, file] = *std::prev(after);
  return file + ": document " + std::to_string(i - first + 1);
}

std::vector<std::string> prompts(const Documents& documents) {
  std::vector<std::string> out;
  for (size_t i = 0; i < documents.texts.size(); ++i)
    if (const size_t bytes = documents.promptBytes(i); bytes > 0) out.push_back(documents.texts[i].substr(0, bytes));
  return out;
}

Documents readDocuments(const std::string& path, const JsonFields& fields) {
  Documents documents;
  documents.origin = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const bool fortunes = path == kFortunesFolder;
    throw DataError(path + ": no such file or folder" +
                    (fortunes ? std::string(" (install Debian's fortunes package: apt-get install fortunes)") : ""));
  }
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      // Regular files only: fortunes' .dat indexes and its symlinked offensive set are skipped.
      if (entry.is_symlink() || !entry.is_regular_file() || entry.path().extension() == ".dat") continue;
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw DataError(path + ": the folder holds no text files");
  } else {
    files.push_back(path);
  }
  for (const auto& file : files) {
    documents.files.emplace_back(documents.texts.size(), file.string());
    if (file.extension() == ".jsonl")
      readJsonLines(file, fields, documents);
    else
      splitInto(readText(file), documents.texts);
    // A text file's documents have no prompt: once any document has one, every one has an entry.
    if (!documents.prompt_bytes.empty()) documents.prompt_bytes.resize(documents.texts.size(), 0);
  }
  if (documents.texts.empty()) throw DataError(path + ": no text (the corpus is empty)");
  return documents;
}

Tokenizer Tokenizer::build(const std::string& kind, const Documents& documents) {
  Tokenizer tokenizer;
  tokenizer.kind_ = kind;
  if (kind == "byte") return tokenizer;
  if (kind != "char") throw DataError("lm.tokenizer: expected byte or char, got '" + kind + "'");
  std::set<char32_t> seen;
  for (size_t i = 0; i < documents.texts.size(); ++i) {
    const auto& text = documents.texts[i];
    if (!isValidUtf8(text))
      throw DataError(documents.where(i) + " is " + describeInvalidUtf8(text) +
                      "; the char tokenizer needs UTF-8 text (lm.tokenizer: byte reads any bytes)");
    for (char32_t c : codePoints(text)) seen.insert(c);
  }
  tokenizer.alphabet_.assign(seen.begin(), seen.end());
  return tokenizer;
}

int64_t Tokenizer::vocabSize() const {
  return kind_ == "byte" ? 256 : static_cast<int64_t>(alphabet_.size()) + 1;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> tokens;
  if (kind_ == "byte") {
    tokens.reserve(text.size());
    for (unsigned char c : text) tokens.push_back(c);
    return tokens;
  }
  const std::string valid = isValidUtf8(text) ? text : repairUtf8(text);
  for (char32_t c : codePoints(valid)) {
    const auto it = std::lower_bound(alphabet_.begin(), alphabet_.end(), c);
    // A character the corpus never had: the nearest the model knows is none; skip it.
    if (it != alphabet_.end() && *it == c) tokens.push_back(1 + (it - alphabet_.begin()));
  }
  return tokens;
}

std::string Tokenizer::decode(const std::vector<int64_t>& tokens) const {
  std::string text;
  for (int64_t t : tokens) {
    if (t == kSeparator) {
      text += "\n\n";
    } else if (kind_ == "byte" && t > 0 && t < 256) {
      text += static_cast<char>(t);
    } else if (kind_ == "char" && t > 0 && t <= static_cast<int64_t>(alphabet_.size())) {
      appendUtf8(text, alphabet_[static_cast<size_t>(t - 1)]);
    } else {
      text += "\xEF\xBF\xBD";  // U+FFFD
    }
  }
  return kind_ == "byte" ? repairUtf8(text) : text;
}

namespace {

TokenBlocks pack(const std::vector<std::string>& texts, const std::vector<size_t>& prompt_bytes,
                 const Tokenizer& tokenizer, int64_t context, int64_t limit, const std::string& what) {
  const bool prompted = std::any_of(prompt_bytes.begin(), prompt_bytes.end(), [](size_t bytes) { return bytes > 0; });
  std::vector<int64_t> stream;
  std::vector<uint8_t> counts;  // prompted: whether stream[j], as a target, counts
  auto append = [&](const std::vector<int64_t>& tokens, bool count) {
    stream.insert(stream.end(), tokens.begin(), tokens.end());
    if (prompted) counts.insert(counts.end(), tokens.size(), count ? 1 : 0);
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t bytes = i < prompt_bytes.size() ? std::min(prompt_bytes[i], texts[i].size()) : 0;
    if (bytes > 0) {
      // The prompt part encoded alone: its token count is where the response begins.
      append(tokenizer.encode(texts[i].substr(0, bytes)), false);
      append(tokenizer.encode(texts[i].substr(bytes)), true);
    } else {
      append(tokenizer.encode(texts[i]), true);
    }
    append({Tokenizer::kSeparator}, true);
  }
  const auto length = static_cast<int64_t>(stream.size());
  const int64_t blocks = length > context ? (length - 1) / context : 0;
  if (blocks == 0)
    throw DataError(what + ": " + std::to_string(length) + " tokens, fewer than one block of lm.context + 1 = " +
                    std::to_string(context + 1));
  // Candidate blocks: all of them, or with prompts those with at least one target that counts.
  std::vector<int64_t> candidates;
  std::vector<int64_t> counted_before;  // prompted: counts in stream[0, j)
  if (prompted) {
    counted_before.assign(static_cast<size_t>(length) + 1, 0);
    for (int64_t j = 0; j < length; ++j) counted_before[j + 1] = counted_before[j] + counts[j];
  }
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t start = b * context;  // targets: stream[start + 1, start + context]
    if (!prompted || counted_before[start + context + 1] > counted_before[start + 1]) candidates.push_back(start);
  }
  if (candidates.empty())
    throw DataError(what + ": every target of its " + std::to_string(blocks) + " block(s) of lm.context = " +
                    std::to_string(context) +
                    " tokens lies inside a prompt; no response token to learn (longer responses, or a longer "
                    "lm.context)");
  const auto available = static_cast<int64_t>(candidates.size());
  const int64_t kept = limit > 0 ? std::min(limit, available) : available;
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < kept; ++i) starts.push_back(candidates[static_cast<size_t>(i * available / kept)]);  // evenly spaced
  const auto offsets = torch::tensor(starts, torch::kInt64).unsqueeze(1) + torch::arange(context + 1).unsqueeze(0);
  const auto all = torch::from_blob(stream.data(), {length}, torch::kInt64).clone();
  const auto windows = all.index({offsets});  // [N, context + 1]
  TokenBlocks result;
  result.inputs = windows.slice(1, 0, context).contiguous();
  result.targets = windows.slice(1, 1, context + 1).contiguous();
  if (prompted) {
    const auto counted = torch::from_blob(counts.data(), {length}, torch::kUInt8).to(torch::kBool);
    result.mask = counted.index({offsets}).slice(1, 1, context + 1).contiguous();
  }
  result.tokens = length;
  return result;
}

}  // namespace

std::string Tokenizer::alphabet() const {
  std::string text;
  for (char32_t c : alphabet_) appendUtf8(text, c);
  return text;
}

TokenBlocks packBlocks(const Documents& documents, const Tokenizer& tokenizer, int64_t context, int64_t limit,
                       const std::string& what) {
  return pack(documents.texts, documents.prompt_bytes, tokenizer, context, limit, what);
}

TokenBlocks packBlocks(const std::vector<std::string>& documents, const Tokenizer& tokenizer, int64_t context,
                       int64_t limit, const std::string& what) {
  return pack(documents, {}, tokenizer, context, limit, what);
}

DocumentSplit splitDocuments(const Documents& all) {
  DocumentSplit split;
  split.train.origin = split.validation.origin = all.origin;
  for (size_t i = 0; i < all.texts.size(); ++i) {
    Documents& side = i % 10 == 9 ? split.validation : split.train;
    side.texts.push_back(all.texts[i]);
    if (!all.prompt_bytes.empty()) side.prompt_bytes.push_back(all.promptBytes(i));
  }
  return split;
}

void splitDocuments(const Documents& all, std::vector<std::string>& train, std::vector<std::string>& validation) {
  for (size_t i = 0; i < all.texts.size(); ++i) (i % 10 == 9 ? validation : train).push_back(all.texts[i]);
}

}  // namespace distill
