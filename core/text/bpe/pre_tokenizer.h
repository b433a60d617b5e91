// What happens to text before BPE sees it, as a tokenizer.json describes it: the normalizer
// (Unicode normalization forms) and the pre-tokenizer, a sequence of splits that cut the text
// into words, ending in ByteLevel (an optional leading space, optionally GPT-2's split). BPE
// then merges each word's bytes on its own, so no token crosses a word boundary.
//
// Hugging Face's pre-tokenizers are read as steps of one kind, a regex split with a behaviour:
//   Split {pattern, behavior, invert}       the pattern as written (Regex) or literal (String)
//   Digits {individual_digits}              \p{N} isolated one by one, or runs of them
//   ByteLevel {add_prefix_space, use_regex} a space before each piece that lacks one, then
//                                           GPT-2's pattern, isolated
// The patterns run as they are in PCRE2 (UTF + UCP), whose syntax covers what GPT-2, Llama 3,
// Qwen2 and SmolLM2 write; kPatterns names the known ones for descriptions.
//
// Thread contract: immutable after construction; split() from any thread with its own scratch.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/text/bpe/regex.h"

namespace distill::bpe {

// The pre-tokenizer patterns of the model families we know, by name.
struct KnownPattern {
  const char* name;
  const char* pattern;
};
// gpt2 (GPT-2's ByteLevel; also SmolLM2's, after its Digits split), llama3, qwen2.
const std::vector<KnownPattern>& knownPatterns();
inline constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// The name of a known pattern, or "custom".
std::string patternName(std::string_view pattern);

enum class NormalizationForm { NFC, NFD, NFKC, NFKD };
const char* formName(NormalizationForm form);
// `text` (valid UTF-8) in the given form (utf8proc, the Unicode standard's algorithm).
std::string normalize(std::string_view text, NormalizationForm form);

// Hugging Face's SplitDelimiterBehavior: what becomes of a match and the text around it.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
const char* behaviorName(SplitBehavior behavior);

struct PreTokenizerStep {
  enum class Kind { Split, PrefixSpace };
  Kind kind = Kind::Split;
  Regex regex{"(*FAIL)"};  // Split only
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;  // the pieces between matches are the delimiters instead
};

struct TextPipeline {
  std::vector<NormalizationForm> normalizers;  // in order; empty: none
  std::vector<PreTokenizerStep> steps;         // in order
  // The pre-tokenizers as the file names them, for describe(): "Split (llama3 pattern, isolated)".
  std::vector<std::string> labels;

  // `text` normalized (all forms in order).
  std::string normalized(std::string_view text) const;
  // The words of `text` (already normalized), in order: each step applied to every piece the
  // steps before it left; empty pieces dropped.
  void split(std::string_view text, RegexScratch& scratch, std::vector<std::string>& words) const;
  // "normalizer: NFC; pre-tokenizer: Split (qwen2 pattern, isolated), ByteLevel".
  std::string describe() const;
};

// One split of `text` by the regex matches, as Hugging Face's NormalizedString::split does;
// appends the non-empty pieces to `out`.
void splitByMatches(std::string_view text, const std::vector<std::pair<size_t, size_t>>& matches,
                    SplitBehavior behavior, bool invert, std::vector<std::string>& out);

}  // namespace distill::bpe
