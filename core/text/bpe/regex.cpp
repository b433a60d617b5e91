#include "core/text/bpe/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "core/errors.h"

namespace distill::bpe {

namespace {

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(code, buffer, sizeof buffer);
  return length < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buffer), length);
}

// Escapes every ASCII character that is not a letter or digit; other characters stand for
// themselves in a UTF pattern.
std::string escapeLiteral(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) {
      if (u < 0x20 || u == 0x7F) {
        static const char hex[] = "0123456789abcdef";
        out += "\\x{";
        out.push_back(hex[u >> 4]);
        out.push_back(hex[u & 15]);
        out.push_back('}');
        continue;
      }
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

struct RegexScratch::Buffers {
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  ~Buffers() {
    pcre2_match_data_free(match_data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

RegexScratch::RegexScratch() : buffers_(std::make_unique<Buffers>()) {
  // One ovector pair is enough: only the whole match is read (pcre2_match then returns 0 for
  // patterns with groups, which still means a match).
  buffers_->match_data = pcre2_match_data_create(1, nullptr);
  buffers_->context = pcre2_match_context_create(nullptr);
  // A long run of one character class (a line of 10,000 dashes) can need more than the
  // default 32 KiB JIT stack; 8 MiB is reserved and used only as far as needed.
  buffers_->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  if (!buffers_->match_data || !buffers_->context || !buffers_->jit_stack) throw std::bad_alloc();
  pcre2_jit_stack_assign(buffers_->context, nullptr, buffers_->jit_stack);
}

RegexScratch::~RegexScratch() = default;

Regex::Regex(std::string_view pattern, bool literal) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                                   &error_offset, nullptr);
  if (!code) {
    throw std::invalid_argument(pcre2Message(error) + " at offset " + std::to_string(error_offset) +
                                " of the pattern");
  }
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  // JIT is an optimisation: where PCRE2 was built without it, the interpreter matches the same.
  compiled->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  compiled_ = std::move(compiled);
}

Regex Regex::anyOf(std::vector<std::string> literals) {
  // Longest first: PCRE2 takes the first alternative that matches at the leftmost position,
  // which is then the longest.
  std::stable_sort(literals.begin(), literals.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string pattern;
  for (const auto& literal : literals) {
    if (!pattern.empty()) pattern += '|';
    pattern += escapeLiteral(literal);
  }
  return Regex(pattern.empty() ? "(*FAIL)" : pattern);
}

void Regex::findAll(std::string_view text, RegexScratch& scratch,
                    std::vector<std::pair<size_t, size_t>>& matches) const {
  matches.clear();
  auto& buffers = *scratch.buffers_;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    // The caller checked the text once; NO_UTF_CHECK spares PCRE2 checking it at every match.
    const int rc = compiled_->jit ? pcre2_jit_match(compiled_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                                                     buffers.match_data, buffers.context)
                                  : pcre2_match(compiled_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                                                buffers.match_data, buffers.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw DataError("the pattern " + pattern_ + " could not be matched: " + pcre2Message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(buffers.match_data);
    const size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      start = end;
    } else {
      // Empty match: skip one character.
      if (begin >= text.size()) break;
      size_t next = begin + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
      start = next;
    }
  }
}

bool Regex::search(std::string_view text, RegexScratch& scratch) const {
  std::vector<std::pair<size_t, size_t>> matches;
  findAll(text, scratch, matches);
  return !matches.empty();
}

}  // namespace distill::bpe
