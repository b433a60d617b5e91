#include "core/tasks/lm/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

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
    // Trailing newlines off, one newline back: every document ends with exactly one.
    while (!current.empty() && (current.back() == '\n' || current.back() == '\r')) current.pop_back();
    if (current.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(current + "\n");
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

Documents readDocuments(const std::string& path) {
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
  for (const auto& file : files) splitInto(readText(file), documents.texts);
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
      throw DataError(documents.origin + ": document " + std::to_string(i + 1) + " is " + describeInvalidUtf8(text) +
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

TokenBlocks packBlocks(const std::vector<std::string>& documents, const Tokenizer& tokenizer, int64_t context,
                       int64_t limit, const std::string& what) {
  std::vector<int64_t> stream;
  for (const auto& document : documents) {
    const auto tokens = tokenizer.encode(document);
    stream.insert(stream.end(), tokens.begin(), tokens.end());
    stream.push_back(Tokenizer::kSeparator);
  }
  const auto length = static_cast<int64_t>(stream.size());
  const int64_t blocks = length > context ? (length - 1) / context : 0;
  if (blocks == 0)
    throw DataError(what + ": " + std::to_string(length) + " tokens, fewer than one block of lm.context + 1 = " +
                    std::to_string(context + 1));
  std::vector<int64_t> starts;
  const int64_t kept = limit > 0 ? std::min(limit, blocks) : blocks;
  for (int64_t i = 0; i < kept; ++i) starts.push_back((i * blocks / kept) * context);  // evenly spaced
  const auto all = torch::from_blob(stream.data(), {length}, torch::kInt64).clone();
  const auto offsets = torch::tensor(starts, torch::kInt64).unsqueeze(1) + torch::arange(context + 1).unsqueeze(0);
  const auto windows = all.index({offsets});  // [N, context + 1]
  TokenBlocks result;
  result.inputs = windows.slice(1, 0, context).contiguous();
  result.targets = windows.slice(1, 1, context + 1).contiguous();
  result.tokens = length;
  return result;
}

void splitDocuments(const Documents& all, std::vector<std::string>& train, std::vector<std::string>& validation) {
  for (size_t i = 0; i < all.texts.size(); ++i) (i % 10 == 9 ? validation : train).push_back(all.texts[i]);
}

}  // namespace distill
