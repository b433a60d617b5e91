#include "core/tasks/lm/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"

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

namespace {

TokenBlocks pack(const std::vector<std::string>& texts, const std::vector<size_t>& prompt_bytes,
                 const Tokenizer& tokenizer, int64_t context, int64_t limit, const std::string& what) {
  const bool prompted = std::any_of(prompt_bytes.begin(), prompt_bytes.end(), [](size_t bytes) { return bytes > 0; });
  std::vector<int64_t> stream;
  std::vector<uint8_t> counts;  // prompted: whether stream[j], as a target, counts
  Tokenizer::Session session = tokenizer.session();  // one encoder for the whole corpus (BPE's word cache)
  auto append = [&](const std::vector<int64_t>& tokens, bool count) {
    stream.insert(stream.end(), tokens.begin(), tokens.end());
    if (prompted) counts.insert(counts.end(), tokens.size(), count ? 1 : 0);
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    const size_t bytes = i < prompt_bytes.size() ? std::min(prompt_bytes[i], texts[i].size()) : 0;
    if (bytes > 0) {
      // The prompt part encoded alone: its token count is where the response begins.
      append(session.encode(texts[i].substr(0, bytes)), false);
      append(session.encode(texts[i].substr(bytes)), true);
    } else {
      append(session.encode(texts[i]), true);
    }
    append({tokenizer.separator()}, true);
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
