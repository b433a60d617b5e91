#include "core/text/bpe/pre_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "core/errors.h"

namespace distill::bpe {

const std::vector<KnownPattern>& knownPatterns() {
  static const std::vector<KnownPattern> patterns = {
      {"gpt2", kGpt2Pattern},
      // Llama 3 (and tiktoken's cl100k_base): contractions in any case, a letter run with one
      // leading non-letter, digits by threes, newlines kept with the punctuation before them.
      {"llama3",
       R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
      // Qwen2 and Qwen2.5: Llama 3's pattern with one digit at a time.
      {"qwen2",
       R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
  };
  return patterns;
}

std::string patternName(std::string_view pattern) {
  for (const auto& known : knownPatterns()) {
    if (pattern == known.pattern) return known.name;
  }
  return "custom";
}

const char* formName(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::NFC: return "NFC";
    case NormalizationForm::NFD: return "NFD";
    case NormalizationForm::NFKC: return "NFKC";
    case NormalizationForm::NFKD: return "NFKD";
  }
  return "?";
}

std::string normalize(std::string_view text, NormalizationForm form) {
  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(text);  // every form leaves ASCII as it is
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalizationForm::NFC: options |= UTF8PROC_COMPOSE; break;
    case NormalizationForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalizationForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalizationForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                               static_cast<utf8proc_ssize_t>(text.size()), &result,
                                               static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(result, &std::free);
  if (length < 0) {
    throw DataError(std::string("the text could not be normalized to ") + formName(form) + ": " +
                    utf8proc_errmsg(length));
  }
  return std::string(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
}

const char* behaviorName(SplitBehavior behavior) {
  switch (behavior) {
    case SplitBehavior::Removed: return "removed";
    case SplitBehavior::Isolated: return "isolated";
    case SplitBehavior::MergedWithPrevious: return "merged with previous";
    case SplitBehavior::MergedWithNext: return "merged with next";
    case SplitBehavior::Contiguous: return "contiguous";
  }
  return "?";
}

void splitByMatches(std::string_view text, const std::vector<std::pair<size_t, size_t>>& matches,
                    SplitBehavior behavior, bool invert, std::vector<std::string>& out) {
  // The text as alternating pieces: (begin, end, is a match).
  struct Piece {
    size_t begin, end;
    bool match;
  };
  std::vector<Piece> pieces;
  size_t previous = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > previous) pieces.push_back({previous, begin, invert});
    pieces.push_back({begin, end, !invert});
    previous = end;
  }
  if (previous < text.size()) pieces.push_back({previous, text.size(), invert});

  // What Hugging Face's split makes of them (tokenizers, normalizer.rs, NormalizedString::split).
  std::vector<Piece> kept;
  switch (behavior) {
    case SplitBehavior::Isolated:
      kept = pieces;
      break;
    case SplitBehavior::Removed:
      for (const auto& piece : pieces) {
        if (!piece.match) kept.push_back(piece);
      }
      break;
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (const auto& piece : pieces) {
        if (piece.match == previous_match && !kept.empty()) {
          kept.back().end = piece.end;
        } else {
          kept.push_back(piece);
        }
        previous_match = piece.match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const auto& piece : pieces) {
        if (piece.match && !previous_match && !kept.empty()) {
          kept.back().end = piece.end;
        } else {
          kept.push_back(piece);
        }
        previous_match = piece.match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
        if (it->match && !previous_match && !kept.empty()) {
          kept.back().begin = it->begin;
        } else {
          kept.push_back(*it);
        }
        previous_match = it->match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const auto& piece : kept) {
    if (piece.end > piece.begin) out.emplace_back(text.substr(piece.begin, piece.end - piece.begin));
  }
}

std::string TextPipeline::normalized(std::string_view text) const {
  std::string result(text);
  for (auto form : normalizers) result = normalize(result, form);
  return result;
}

void TextPipeline::split(std::string_view text, RegexScratch& scratch, std::vector<std::string>& words) const {
  std::vector<std::string> pieces{std::string(text)}, next;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const auto& step : steps) {
    next.clear();
    for (auto& piece : pieces) {
      if (piece.empty()) continue;
      if (step.kind == PreTokenizerStep::Kind::PrefixSpace) {
        if (piece.empty() || piece.front() != ' ') piece.insert(piece.begin(), ' ');
        next.push_back(std::move(piece));
        continue;
      }
      step.regex.findAll(piece, scratch, matches);
      splitByMatches(piece, matches, step.behavior, step.invert, next);
    }
    std::swap(pieces, next);
  }
  for (auto& piece : pieces) {
    if (!piece.empty()) words.push_back(std::move(piece));
  }
}

std::string TextPipeline::describe() const {
  std::string normalizer;
  for (auto form : normalizers) normalizer += std::string(normalizer.empty() ? "" : ", ") + formName(form);
  std::string pre;
  for (const auto& label : labels) pre += (pre.empty() ? "" : ", ") + label;
  return "normalizer: " + (normalizer.empty() ? std::string("none") : normalizer) +
         "; pre-tokenizer: " + (pre.empty() ? std::string("none") : pre);
}

}  // namespace distill::bpe
