// A PCRE2 pattern for the pre-tokenizers: compiled once with UTF and UCP (so that \p{L}, \p{N},
// \s and \w are Unicode's, as in the Oniguruma and Rust regexes Hugging Face uses), JIT-compiled
// where PCRE2 can, and shared read-only by every thread. Matching needs scratch buffers (match
// data, a JIT stack): each thread brings its own RegexScratch.
//
// Thread contract: a Regex is immutable after construction and may be used from any number of
// threads at once, each with its own RegexScratch; a RegexScratch belongs to one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace distill::bpe {

class RegexScratch;

class Regex {
 public:
  // `literal`: the pattern is plain text to find (an added token's content), not a regex.
  // Throws std::invalid_argument with PCRE2's message and the offset in the pattern when it
  // does not compile.
  explicit Regex(std::string_view pattern, bool literal = false);
  // An alternation of literal strings matched leftmost-longest (Hugging Face's Aho-Corasick
  // matching of added tokens): at each position the longest one that starts there.
  static Regex anyOf(std::vector<std::string> literals);

  const std::string& pattern() const { return pattern_; }

  // Every non-empty match in `text` (valid UTF-8, checked by the caller), left to right and
  // not overlapping, as byte ranges [begin, end). Empty matches are skipped: the search moves
  // on by one character, as Oniguruma's and Rust's find_iter do.
  void findAll(std::string_view text, RegexScratch& scratch, std::vector<std::pair<size_t, size_t>>& matches) const;
  // Whether the pattern matches somewhere in `text`.
  bool search(std::string_view text, RegexScratch& scratch) const;

 private:
  struct Compiled;
  std::string pattern_;
  std::shared_ptr<const Compiled> compiled_;
};

// Match buffers for one thread; good for any Regex.
class RegexScratch {
 public:
  RegexScratch();
  ~RegexScratch();
  RegexScratch(const RegexScratch&) = delete;
  RegexScratch& operator=(const RegexScratch&) = delete;

 private:
  friend class Regex;
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;
};

}  // namespace distill::bpe
