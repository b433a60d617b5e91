#include "core/text/bpe/bpe_tokenizer.h"

#include <algorithm>
#include <fmt/format.h>

#include "core/errors.h"
#include "core/text/bpe/bpe_model.h"
#include "core/text/bpe/byte_level.h"
#include "core/text/fingerprint.h"
#include "core/text/utf8.h"

namespace distill {

namespace {

constexpr size_t kCacheLimit = 100000;  // merged words kept per encoder
const char kReplacement[] = "\xEF\xBF\xBD";

// A neighbouring pair that has a merge, waiting in the queue: lowest rank first, then leftmost.
struct Candidate {
  int32_t rank;
  int32_t position;  // of the left symbol
  int32_t merged;
  bool operator>(const Candidate& other) const {
    return rank != other.rank ? rank > other.rank : position > other.position;
  }
};

// A symbol of a word being merged, in a linked list over the word's initial bytes.
struct Symbol {
  int32_t id;  // -1 once merged into its left neighbour
  int32_t previous, next;
};

}  // namespace

struct BpeEncoder::Scratch {
  bpe::RegexScratch regex;
  std::vector<std::pair<size_t, size_t>> matches;
  std::vector<std::string> words;
  std::vector<Symbol> symbols;
  std::vector<Candidate> queue;
  std::unordered_map<std::string, std::vector<int32_t>> cache;
};

BpeEncoder::BpeEncoder(const BpeTokenizer& tokenizer) : tokenizer_(tokenizer), scratch_(std::make_unique<Scratch>()) {}
BpeEncoder::~BpeEncoder() = default;

std::vector<int32_t> BpeEncoder::encode(std::string_view text, bool added_tokens) {
  std::vector<int32_t> ids;
  encode(text, ids, added_tokens);
  return ids;
}

namespace {

// Hugging Face's AddedVocabulary::find_matches: the text cut at the added tokens `matcher`
// finds, each piece with the index of its token (or -1 for ordinary text).
struct Segment {
  std::string_view text;
  int64_t token = -1;
};

void findAddedTokens(std::string_view text, const bpe::Regex& matcher,
                     const std::unordered_map<std::string, size_t>& contents, const std::vector<AddedToken>& added,
                     bpe::RegexScratch& scratch, std::vector<std::pair<size_t, size_t>>& matches,
                     std::vector<Segment>& segments) {
  static const bpe::Regex word_character("\\w");
  matcher.findAll(text, scratch, matches);
  size_t done = 0;  // where the previous token ended
  for (auto [begin, end] : matches) {
    const size_t index = contents.at(std::string(text.substr(begin, end - begin)));
    const AddedToken& token = added[index];
    if (token.single_word) {
      const bool word_before =
          begin > 0 && word_character.search(text.substr(bpe::previousCodePoint(text, begin), begin - bpe::previousCodePoint(text, begin)), scratch);
      size_t length = 0;
      if (end < text.size()) bpe::codePointAt(text, end, &length);
      const bool word_after = end < text.size() && word_character.search(text.substr(end, length), scratch);
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t start = begin;
      while (start > done) {
        const size_t previous = bpe::previousCodePoint(text, start);
        if (!bpe::isUnicodeSpace(bpe::codePointAt(text, previous))) break;
        start = previous;
      }
      begin = start;
    }
    if (token.rstrip) {
      while (end < text.size()) {
        size_t length = 0;
        if (!bpe::isUnicodeSpace(bpe::codePointAt(text, end, &length))) break;
        end += length;
      }
    }
    if (begin > done) segments.push_back({text.substr(done, begin - done), -1});
    segments.push_back({text.substr(begin, end - begin), static_cast<int64_t>(index)});
    done = end;
  }
  if (done < text.size()) segments.push_back({text.substr(done), -1});
}

}  // namespace

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>& ids, bool added_tokens) {
  if (!isValidUtf8(text)) throw DataError("the text to tokenize is " + describeInvalidUtf8(text));
  const auto& model = *tokenizer_.model_;
  if (!added_tokens || !model.raw_matcher) {
    encodeNormalized(model.pipeline.normalized(text), ids, added_tokens);
    return;
  }
  std::vector<Segment> segments;
  findAddedTokens(text, *model.raw_matcher, model.raw_contents, model.added, scratch_->regex, scratch_->matches,
                  segments);
  for (const auto& segment : segments) {
    if (segment.token >= 0) {
      ids.push_back(model.added[segment.token].id);
    } else {
      encodeNormalized(model.pipeline.normalized(segment.text), ids, added_tokens);
    }
  }
}

void BpeEncoder::encodeNormalized(std::string_view text, std::vector<int32_t>& ids, bool added_tokens) {
  const auto& model = *tokenizer_.model_;
  if (!added_tokens || !model.normalized_matcher) {
    encodeWords(text, ids);
    return;
  }
  std::vector<Segment> segments;
  findAddedTokens(text, *model.normalized_matcher, model.normalized_contents, model.added, scratch_->regex,
                  scratch_->matches, segments);
  for (const auto& segment : segments) {
    if (segment.token >= 0) {
      ids.push_back(model.added[segment.token].id);
    } else {
      encodeWords(segment.text, ids);
    }
  }
}

void BpeEncoder::encodeWords(std::string_view text, std::vector<int32_t>& ids) {
  auto& words = scratch_->words;
  words.clear();
  tokenizer_.model_->pipeline.split(text, scratch_->regex, words);
  for (const auto& word : words) mergeWord(word, ids);
}

void BpeEncoder::mergeWord(const std::string& word, std::vector<int32_t>& ids) {
  const auto& model = *tokenizer_.model_;
  const auto initial = [&](unsigned char byte) {
    const int32_t id = model.byte_ids[byte];
    return id >= 0 ? id : model.unk_id;
  };
  if (word.size() == 1) {
    const int32_t id = initial(static_cast<unsigned char>(word[0]));
    if (id >= 0) ids.push_back(id);
    return;
  }
  auto& cache = scratch_->cache;
  if (auto hit = cache.find(word); hit != cache.end()) {
    ids.insert(ids.end(), hit->second.begin(), hit->second.end());
    return;
  }
  if (model.ignore_merges) {
    if (auto whole = model.ids.find(bpe::bytesToSymbols(word)); whole != model.ids.end()) {
      ids.push_back(whole->second);
      return;
    }
  }

  auto& symbols = scratch_->symbols;
  symbols.clear();
  for (unsigned char byte : word) {
    const int32_t id = initial(byte);
    if (id < 0) continue;  // as Hugging Face does without an unk_token: the byte is dropped
    const auto position = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, position - 1, position + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  auto& queue = scratch_->queue;
  queue.clear();
  const auto push = [&](int32_t position) {
    const Symbol& left = symbols[position];
    if (left.next < 0) return;
    if (const auto* merge = model.merge(left.id, symbols[left.next].id)) {
      queue.push_back({merge->rank, position, merge->merged});
      std::push_heap(queue.begin(), queue.end(), std::greater<>());
    }
  };
  for (int32_t position = 0; position + 1 < static_cast<int32_t>(symbols.size()); ++position) push(position);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), std::greater<>());
    const Candidate top = queue.back();
    queue.pop_back();
    Symbol& left = symbols[top.position];
    if (left.id < 0 || left.next < 0) continue;  // merged away, or the last symbol now
    Symbol& right = symbols[left.next];
    // A stale entry: the pair at this position has changed since it was queued.
    const auto* merge = model.merge(left.id, right.id);
    if (!merge || merge->merged != top.merged) continue;
    left.id = top.merged;
    right.id = -1;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].previous = top.position;
    if (left.previous >= 0) push(left.previous);
    push(top.position);
  }

  std::vector<int32_t> merged;
  for (int32_t position = 0; position >= 0; position = symbols[position].next) merged.push_back(symbols[position].id);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (cache.size() < kCacheLimit) cache.emplace(word, std::move(merged));
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  return BpeEncoder(*this).encode(text, true);
}

std::vector<int32_t> BpeTokenizer::encodeOrdinary(std::string_view text) const {
  return BpeEncoder(*this).encode(text, false);
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string text;
  for (int32_t id : ids) {
    if (!model_->hasId(id)) {
      text += kReplacement;
    } else if (!(skip_special && model_->special[id])) {
      text += model_->bytes[id];
    }
  }
  return text;
}

int32_t BpeTokenizer::vocabSize() const { return static_cast<int32_t>(model_->used.size()); }
size_t BpeTokenizer::mergeCount() const { return model_->merge_count; }

std::optional<int32_t> BpeTokenizer::tokenId(std::string_view token) const {
  auto it = model_->ids.find(std::string(token));
  if (it == model_->ids.end()) return std::nullopt;
  return it->second;
}

std::string_view BpeTokenizer::token(int32_t id) const {
  return model_->hasId(id) ? std::string_view(model_->tokens[id]) : std::string_view();
}

std::string BpeTokenizer::tokenBytes(int32_t id) const { return model_->hasId(id) ? model_->bytes[id] : std::string(); }

bool BpeTokenizer::isSpecial(int32_t id) const { return model_->hasId(id) && model_->special[id]; }

const std::vector<AddedToken>& BpeTokenizer::addedTokens() const { return model_->added; }

const std::string& BpeTokenizer::source() const { return model_->source; }

std::string BpeTokenizer::describe() const {
  const auto special = std::count_if(model_->added.begin(), model_->added.end(),
                                     [](const AddedToken& token) { return token.special; });
  return fmt::format("byte-level BPE from {}: {} ids ({} in the vocabulary, {} added, {} special), {} merges{}; {}",
                     model_->source, vocabSize(), model_->model_vocab_size, model_->added.size(), special,
                     model_->merge_count, model_->ignore_merges ? " (whole words in the vocabulary first)" : "",
                     model_->pipeline.describe());
}

std::string BpeTokenizer::fingerprint() const {
  const Model& model = *model_;
  Fingerprint f;
  f.add("byte-level BPE");
  f.add(static_cast<int64_t>(model.used.size()));
  for (size_t id = 0; id < model.used.size(); ++id)
    f.add(model.used[id] ? model.tokens[id] : std::string_view()).add(model.used[id]).add(model.special[id]);
  // The merges in rank order: (left, right) ids, the pair each rank joins.
  std::vector<std::pair<int32_t, uint64_t>> ranked;
  ranked.reserve(model.merges.size());
  for (const auto& [pair, merge] : model.merges) ranked.emplace_back(merge.rank, pair);
  std::sort(ranked.begin(), ranked.end());
  f.add(static_cast<int64_t>(ranked.size()));
  for (const auto& [rank, pair] : ranked) f.add(rank).add(static_cast<int64_t>(pair));
  f.add(static_cast<int64_t>(model.added.size()));
  for (const AddedToken& token : model.added)
    f.add(token.content).add(token.id).add(token.special).add(token.lstrip).add(token.rstrip).add(token.single_word)
        .add(token.normalized);
  f.add(model.ignore_merges).add(model.unk_id).add(model.pipeline.describe());
  return f.hex();
}

}  // namespace distill
