// The BPE tokenizer on a hand-written tokenizer.json (tests/core/text/bpe/data/llama3-style):
// the 256 byte symbols with id = byte value (so an unmerged byte's id is the byte), 13 merged
// tokens (256..268), 4 added tokens (300..303), Llama 3's Split pattern then ByteLevel. Every
// expected id list below is derived by hand from those tables, the derivation in a comment.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/text/bpe/bpe_tokenizer.h"
#include "core/text/bpe/byte_level.h"
#include "core/text/bpe/pre_tokenizer.h"
#include "support/test_support.h"

namespace distill {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kFixture = std::string(DISTILL_SOURCE_DIR) + "/tests/core/text/bpe/data/llama3-style/tokenizer.json";

json fixtureJson() {
  std::ifstream in(kFixture);
  return json::parse(in);
}

std::string writeJson(const testing::TempDir& dir, const json& document, const std::string& name = "tokenizer.json") {
  const std::string path = dir.file(name);
  std::ofstream(path) << document.dump(2);
  return path;
}

// The fixture with changes, loaded from a temporary copy.
BpeTokenizer variant(const testing::TempDir& dir, const std::function<void(json&)>& change) {
  json document = fixtureJson();
  change(document);
  return BpeTokenizer::fromTokenizerJson(writeJson(dir, document));
}

// Expects load to throw DataError whose message holds every one of `parts`.
void expectRefused(const std::function<void()>& load, const std::vector<std::string>& parts) {
  try {
    load();
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what() << "\n  lacks: " << part;
  }
}

TEST(ByteLevelAlphabet, MapsEveryByteToOnePrintableCharacterAndBack) {
  EXPECT_EQ(bpe::bytesToSymbols(" the\n"), "\xC4\xA0the\xC4\x8A");  // Ġthe Ċ
  EXPECT_EQ(bpe::byteSymbol('!'), U'!');
  EXPECT_EQ(bpe::byteSymbol(0x00), U'\u0100');
  EXPECT_EQ(bpe::byteSymbol(0xAD), U'\u0143');  // soft hyphen, the last of the 68 moved bytes
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(bpe::symbolsToBytes(bpe::bytesToSymbols(all)), all);
  EXPECT_FALSE(bpe::symbolsToBytes("\xE2\x82\xAC").has_value());  // U+20AC is not in the alphabet
  EXPECT_EQ(bpe::decodedBytes("<|endoftext|>"), "<|endoftext|>");
}

TEST(BpeTokenizer, ReadsTheFixture) {
  const auto tokenizer = BpeTokenizer::load(kFixture);
  EXPECT_EQ(tokenizer.vocabSize(), 304);  // ids 0..303; 269..299 unused
  EXPECT_EQ(tokenizer.mergeCount(), 13u);
  EXPECT_EQ(tokenizer.tokenId("\xC4\xA0the"), 258);  // Ġthe
  EXPECT_EQ(tokenizer.tokenId("<|eot|>"), 302);
  EXPECT_FALSE(tokenizer.tokenId("nope").has_value());
  EXPECT_EQ(tokenizer.token(258), "\xC4\xA0the");
  EXPECT_EQ(tokenizer.tokenBytes(258), " the");
  EXPECT_TRUE(tokenizer.isSpecial(300));
  EXPECT_FALSE(tokenizer.isSpecial(303));
  EXPECT_EQ(tokenizer.addedTokens().size(), 4u);
  EXPECT_NE(tokenizer.describe().find("Split (llama3 pattern, isolated), ByteLevel"), std::string::npos)
      << tokenizer.describe();
  // A folder holding tokenizer.json reads the same.
  EXPECT_EQ(BpeTokenizer::load(std::filesystem::path(kFixture).parent_path().string()).vocabSize(), 304);
}

struct EncodeCase {
  const char* label;
  std::string text;
  Ids ids;
};

class FixtureEncoding : public ::testing::TestWithParam<EncodeCase> {};

TEST_P(FixtureEncoding, GivesTheHandDerivedIdsAndDecodesBack) {
  static const auto tokenizer = BpeTokenizer::load(kFixture);
  const auto& c = GetParam();
  EXPECT_EQ(tokenizer.encode(c.text), c.ids) << c.label;
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(c.text)), c.text) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    HandDerived, FixtureEncoding,
    ::testing::Values(
        // "the" | " thing". the: (h,e) rank 1 -> [t, he]; no merge "t he".
        // Ġthing: (Ġ,t) rank 0 -> [Ġt h i n g]; (i,n) rank 3 -> [Ġt h in g]; (in,g) rank 4.
        EncodeCase{"two words", "the thing", {116, 257, 256, 104, 260}},
        // Ġ t h e: rank 0 -> [Ġt h e]; rank 1 -> [Ġt he]; then (Ġt,he) rank 2 -> Ġthe.
        EncodeCase{"merge of merges", " the", {258}},
        // Llama 3 splits digits by threes: "123" | "45"; (1,2) rank 5, (12,3) rank 6.
        EncodeCase{"digits by threes", "12345", {262, 52, 53}},
        // Contractions split in any case ("'S"), but merge "' s" is lowercase only.
        EncodeCase{"contraction upper case", "He'S", {72, 101, 39, 83}},
        EncodeCase{"contraction lower case", "he's", {257, 264}},
        // "a" | " " | " b": \s+(?!\S) leaves the last space to the word after it.
        EncodeCase{"two spaces", "a  b", {97, 32, 32, 98}},
        // "a" | "ĠĠĠ": equal ranks merge leftmost first: [ĠĠ Ġ].
        EncodeCase{"trailing spaces", "a   ", {97, 263, 32}},
        // c a f Ã ©: (Ã,©) rank 9 first, then (c,a) 10, (ca,f) 11, (caf,Ã©) 12.
        EncodeCase{"two-byte letter", "caf\xC3\xA9", {268}},
        // Decomposed: "cafe" | U+0301 (a mark, not a letter: punctuation's alternative).
        // cafe: [ca f e] -> [caf e]; U+0301 is bytes CC 81.
        EncodeCase{"combining mark without NFC", "cafe\xCC\x81", {267, 101, 0xCC, 0x81}},
        // Special tokens are cut out before pre-tokenization.
        EncodeCase{"special tokens", "<|begin_of_text|>the<|end_of_text|>", {300, 116, 257, 301}},
        // "dog" is single_word: matched alone, not inside "hotdog"; " hotdog" has no merges.
        EncodeCase{"single word", "dog hotdog", {303, 32, 104, 111, 116, 100, 111, 103}},
        EncodeCase{"empty", "", {}}));

TEST(BpeTokenizer, LstripTakesTheSpacesBeforeAnAddedToken) {
  const auto tokenizer = BpeTokenizer::load(kFixture);
  // "<|eot|>" has lstrip: the two spaces go with it.
  EXPECT_EQ(tokenizer.encode("the  <|eot|>"), (Ids{116, 257, 302}));
  EXPECT_EQ(tokenizer.decode({116, 257, 302}), "the<|eot|>");
}

TEST(BpeTokenizer, EncodeOrdinaryReadsSpecialTokensAsText) {
  const auto tokenizer = BpeTokenizer::load(kFixture);
  const std::string text = "<|begin_of_text|>the";
  const Ids ids = tokenizer.encodeOrdinary(text);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 300), 0);
  EXPECT_EQ(tokenizer.decode(ids), text);
  // "<|" | "begin" | "_of" | "_text" | "|>" | "the" (each letter run takes one non-letter before it)
  EXPECT_EQ(ids.back(), 257);
}

TEST(BpeTokenizer, DecodesBytesAsTheyAreAndUnknownIdsAsReplacementCharacters) {
  const auto tokenizer = BpeTokenizer::load(kFixture);
  EXPECT_EQ(tokenizer.decode({300, 116, 257, 301}, /*skip_special=*/true), "the");
  EXPECT_EQ(tokenizer.decode({99, 97, 102, 0xC3}), "caf\xC3");  // cut inside é: the lone byte is kept
  EXPECT_EQ(tokenizer.decode({116, 280, 116}), "t\xEF\xBF\xBDt");  // 280 names no token
  EXPECT_EQ(tokenizer.decode({116, -1, 9999}), "t\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(BpeTokenizer, RefusesTextThatIsNotUtf8) {
  const auto tokenizer = BpeTokenizer::load(kFixture);
  expectRefused([&] { tokenizer.encode("caf\xE9"); }, {"not valid UTF-8", "offset 3"});
}

TEST(BpeTokenizer, NfcNormalizerComposesBeforeSplitting) {
  testing::TempDir dir;
  const auto nfc = variant(dir, [](json& t) { t["normalizer"] = {{"type", "NFC"}}; });
  EXPECT_EQ(nfc.encode("cafe\xCC\x81"), (Ids{268}));  // e + U+0301 -> é, then as "café"
  EXPECT_NE(nfc.describe().find("normalizer: NFC"), std::string::npos);
  const auto nfd = variant(dir, [](json& t) {
    t["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFD"}}})}};
  });
  EXPECT_EQ(nfd.encode("caf\xC3\xA9"), (Ids{267, 101, 0xCC, 0x81}));
}

TEST(BpeTokenizer, QwenPatternSplitsDigitsOneByOne) {
  testing::TempDir dir;
  const auto qwen = variant(dir, [](json& t) {
    for (const auto& known : bpe::knownPatterns()) {
      if (std::string(known.name) == "qwen2") t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = known.pattern;
    }
  });
  EXPECT_EQ(qwen.encode("12345"), (Ids{49, 50, 51, 52, 53}));
  EXPECT_NE(qwen.describe().find("qwen2 pattern"), std::string::npos);
}

TEST(BpeTokenizer, IgnoreMergesTakesAWordThatIsInTheVocabularyWhole) {
  testing::TempDir dir;
  // Without the merge (Ġt, he), " the" stops at [Ġt he] ...
  const auto without = variant(dir, [](json& t) { t["model"]["merges"].erase(2); });
  EXPECT_EQ(without.encode(" the"), (Ids{256, 257}));
  // ... unless the whole word is looked up first (Llama 3's ignore_merges).
  const auto whole = variant(dir, [](json& t) {
    t["model"]["merges"].erase(2);
    t["model"]["ignore_merges"] = true;
  });
  EXPECT_EQ(whole.encode(" the"), (Ids{258}));
  EXPECT_EQ(whole.encode(" thing"), (Ids{256, 104, 260}));  // not a vocabulary word: merged
}

TEST(BpeTokenizer, ReadsGpt2StyleFilesWithStringMergesAndThePrefixSpace) {
  testing::TempDir dir;
  // ByteLevel alone, GPT-2's own pattern, add_prefix_space, merges written "a b".
  const auto gpt2 = variant(dir, [](json& t) {
    t["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
    json merges = json::array();
    for (const auto& pair : t["model"]["merges"]) merges.push_back(pair[0].get<std::string>() + " " + pair[1].get<std::string>());
    t["model"]["merges"] = merges;
  });
  EXPECT_EQ(gpt2.encode("the"), (Ids{258}));                     // " the"
  EXPECT_EQ(gpt2.encode("12345"), (Ids{32, 262, 52, 53}));       // " 12345": " ?\p{N}+" then merges
  EXPECT_NE(gpt2.describe().find("ByteLevel (prefix space, gpt2 pattern)"), std::string::npos) << gpt2.describe();
  // The prefix space goes before each piece between added tokens, as in Hugging Face.
  EXPECT_EQ(gpt2.encode("<|begin_of_text|>the"), (Ids{300, 258}));
}

TEST(BpeTokenizer, DigitsPreTokenizerThenGpt2Pattern) {
  testing::TempDir dir;
  // SmolLM2's shape: Digits (one by one), then ByteLevel with GPT-2's pattern.
  const auto smol = variant(dir, [](json& t) {
    t["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                         {{"type", "ByteLevel"}, {"add_prefix_space", false}}})}};
  });
  EXPECT_EQ(smol.encode("a123"), (Ids{97, 49, 50, 51}));
  const auto runs = variant(dir, [](json& t) {
    t["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", false}},
                                                         {{"type", "ByteLevel"}, {"add_prefix_space", false}}})}};
  });
  EXPECT_EQ(runs.encode("a123"), (Ids{97, 262}));
}

TEST(SplitBehaviour, CutsAsHuggingFaceDoes) {
  // "a-b--c" split at "-" matches (1,2), (3,4), (4,5).
  const std::string text = "a-b--c";
  const std::vector<std::pair<size_t, size_t>> matches = {{1, 2}, {3, 4}, {4, 5}};
  const auto split = [&](bpe::SplitBehavior behavior, bool invert = false) {
    std::vector<std::string> out;
    bpe::splitByMatches(text, matches, behavior, invert, out);
    return out;
  };
  using S = std::vector<std::string>;
  EXPECT_EQ(split(bpe::SplitBehavior::Isolated), (S{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split(bpe::SplitBehavior::Removed), (S{"a", "b", "c"}));
  EXPECT_EQ(split(bpe::SplitBehavior::MergedWithPrevious), (S{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split(bpe::SplitBehavior::MergedWithNext), (S{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split(bpe::SplitBehavior::Contiguous), (S{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(split(bpe::SplitBehavior::Removed, /*invert=*/true), (S{"-", "-", "-"}));
}

TEST(BpeTokenizerFiles, ReadsVocabJsonAndMergesTxt) {
  testing::TempDir dir;
  const json fixture = fixtureJson();
  writeJson(dir, fixture["model"]["vocab"], "vocab.json");
  {
    std::ofstream merges(dir.file("merges.txt"));
    merges << "#version: 0.2\n";
    for (const auto& pair : fixture["model"]["merges"]) merges << pair[0].get<std::string>() << " " << pair[1].get<std::string>() << "\n";
  }
  for (const auto& path : {dir.path().string(), dir.file("vocab.json")}) {
    const auto tokenizer = BpeTokenizer::load(path);
    EXPECT_EQ(tokenizer.mergeCount(), 13u);
    EXPECT_EQ(tokenizer.encode("the thing"), (Ids{116, 257, 256, 104, 260}));  // GPT-2's pattern cuts it as Llama 3's
    EXPECT_NE(tokenizer.source().find("merges.txt"), std::string::npos);
  }
}

TEST(BpeTokenizerFiles, RefusesWhatItCannotReadNamingTheFileAndTheReason) {
  testing::TempDir dir;
  const auto refused = [&](const std::function<void(json&)>& change, const std::vector<std::string>& parts) {
    expectRefused([&] { variant(dir, change); }, parts);
  };
  const std::string file = dir.file("tokenizer.json");
  refused([](json& t) { t["model"]["type"] = "WordPiece"; }, {file, "model.type is \"WordPiece\"", "only BPE"});
  refused([](json& t) { t["model"]["merges"].push_back({"\xC4\xA0", "zz"}); },
          {file, "model.merges[13]", "names \"zz\", which is not in model.vocab"});
  refused([](json& t) { t["model"]["merges"].push_back("a b"); }, {file, "makes \"ab\", which is not in model.vocab"});
  refused([](json& t) { t["model"]["merges"].push_back("ab"); }, {file, "model.merges[13]", "not two tokens"});
  refused([](json& t) { t["model"]["byte_fallback"] = true; }, {file, "byte_fallback", "Llama 2"});
  refused([](json& t) { t["model"]["dropout"] = 0.1; }, {file, "dropout"});
  refused([](json& t) { t["model"]["vocab"]["x"] = -3; }, {file, "model.vocab[\"x\"]", "not a token id"});
  refused([](json& t) { t["model"]["vocab"]["x"] = 5; }, {file, "id 5 is both"});
  refused([](json& t) { t["normalizer"] = {{"type", "Lowercase"}}; }, {file, "normalizer is of type \"Lowercase\""});
  refused([](json& t) { t["pre_tokenizer"] = {{"type", "Metaspace"}}; }, {file, "pre_tokenizer is of type \"Metaspace\""});
  refused([](json& t) { t["pre_tokenizer"]["pretokenizers"][0]["type"] = "Whitespace"; },
          {file, "pre_tokenizer.pretokenizers[0] is of type \"Whitespace\""});
  refused([](json& t) { t["pre_tokenizer"] = nullptr; }, {file, "no ByteLevel"});
  refused([](json& t) { t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}"; },
          {file, "pre_tokenizer.pretokenizers[0].pattern", "does not compile in PCRE2"});
  refused([](json& t) { t["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways"; }, {file, "\"Sideways\""});
  refused([](json& t) { t["decoder"] = {{"type", "Metaspace"}}; }, {file, "decoder is of type \"Metaspace\""});
  refused([](json& t) { t["added_tokens"][0]["id"] = 116; }, {file, "added_tokens[0]", "which the vocabulary gives to \"t\""});
  refused([](json& t) { t.erase("model"); }, {file, "no \"model\""});
  refused([](json& t) { t["model"]["vocab"]["x"] = 5000000; }, {file, "the id 5000000 is above 4194303"});
  refused(
      [](json& t) {
        json pre = {{"type", "ByteLevel"}};
        for (int i = 0; i < 20; ++i) pre = {{"type", "Sequence"}, {"pretokenizers", json::array({pre})}};
        t["pre_tokenizer"] = pre;
      },
      {file, "nested more than 16 Sequences deep"});

  std::ofstream(dir.file("broken.json")) << "{ \"model\": ";
  expectRefused([&] { BpeTokenizer::load(dir.file("broken.json")); }, {dir.file("broken.json"), "not JSON"});
  expectRefused([&] { BpeTokenizer::load(dir.file("absent.json")); }, {dir.file("absent.json"), "does not exist"});
  // A number beyond double's range is nlohmann's out_of_range, not a parse_error (found by fuzz_tokenizer).
  std::ofstream(dir.file("huge.json")) << "{\"model\": 1e999999}";
  expectRefused([&] { BpeTokenizer::load(dir.file("huge.json")); }, {dir.file("huge.json"), "not JSON"});
}

TEST(BpeTokenizerFiles, NamesWhatAFolderLacks) {
  testing::TempDir dir;
  expectRefused([&] { BpeTokenizer::load(dir.path().string()); },
                {dir.path().string(), "no tokenizer.json, nor vocab.json and merges.txt", "found: neither"});
  std::ofstream(dir.file("vocab.json")) << "{\"a\": 0}";
  std::ofstream(dir.file("tokenizer.model")) << "sentencepiece";
  expectRefused([&] { BpeTokenizer::load(dir.path().string()); },
                {"vocab.json without merges.txt", "tokenizer.model (SentencePiece"});
  expectRefused([&] { BpeTokenizer::load(dir.file("vocab.json")); }, {"no merges.txt beside it"});
  std::ofstream(dir.file("merges.txt")) << "#version: 0.2\na b\n";
  expectRefused([&] { BpeTokenizer::load(dir.path().string()); },
                {dir.file("merges.txt"), "line 2 (\"a b\") names \"b\", which is not in vocab.json"});
}

// The room stays torch-free and self-contained: its files include the standard library,
// nlohmann-json, PCRE2, utf8proc, fmt, and of ours only core/errors.h, core/text/utf8.h,
// core/text/fingerprint.h (header-only, standard library) and each other.
TEST(BpeRoom, IncludesNoTorchNoQtAndNothingOfOursOutsideTheRoom) {
  const std::filesystem::path room = std::string(DISTILL_SOURCE_DIR) + "/core/text/bpe";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(room)) {
    ++files;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("#include", 0) != 0) continue;
      const bool ours = line.find('"') != std::string::npos;
      if (ours) {
        const bool allowed = line.find("\"core/text/bpe/") != std::string::npos ||
                             line.find("\"core/errors.h\"") != std::string::npos ||
                             line.find("\"core/text/utf8.h\"") != std::string::npos ||
                             line.find("\"core/text/fingerprint.h\"") != std::string::npos;
        EXPECT_TRUE(allowed) << entry.path().filename() << ": " << line;
      } else {
        EXPECT_EQ(line.find("<torch"), std::string::npos) << entry.path().filename() << ": " << line;
        EXPECT_EQ(line.find("<ATen"), std::string::npos) << entry.path().filename() << ": " << line;
        EXPECT_EQ(line.find("<Q"), std::string::npos) << entry.path().filename() << ": " << line;
      }
    }
  }
  EXPECT_GE(files, 10u);
}

}  // namespace
}  // namespace distill
