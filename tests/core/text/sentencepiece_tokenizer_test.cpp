// SentencePiece tokenizers (core/text/sentencepiece_tokenizer) on a model trained here from
// 8 KB of fortunes (tests/support/sentencepiece_support.h, trained as Llama 2's was): the ids
// against the `spm_encode` tool of Debian's sentencepiece package line by line when it is
// installed, and always against the library's processor loaded afresh in the test's own module; round trips through
// decode; the special ids; every refusal of a file that is not a model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/text/sentencepiece_tokenizer.h"
#include "support/sentencepiece_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using Ids = std::vector<int32_t>;

struct Trained {
  std::string text;   // what it learned from
  std::string model;  // the serialized model
};

const Trained& trained() {
  static const Trained t = [] {
    Trained result;
    if (!testing::sentencePieceUnavailable().empty()) return result;
    result.text = testing::sampleText(8000);
    if (!result.text.empty()) result.model = testing::trainSentencePiece(result.text, 400);
    return result;
  }();
  return t;
}

#define REQUIRE_MODEL()                                                                                 \
  do {                                                                                                  \
    if (!testing::sentencePieceUnavailable().empty()) GTEST_SKIP() << testing::sentencePieceUnavailable(); \
    if (trained().text.empty()) GTEST_SKIP() << kFortunesFolder << " is missing (apt-get install fortunes)"; \
  } while (false)

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string writeModel(const TempDir& dir, const std::string& name = "tokenizer.model") {
  std::ofstream(dir.file(name), std::ios::binary) << trained().model;
  return dir.file(name);
}

// The message of the DataError `load` throws (fails the test when it throws none).
template <typename Load>
std::string refusal(Load&& load) {
  try {
    load();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

TEST(SentencePieceTokenizer, LoadsAModelWithItsSpecialIds) {
  REQUIRE_MODEL();
  TempDir dir;
  const auto tokenizer = SentencePieceTokenizer::load(writeModel(dir));
  EXPECT_GT(tokenizer.vocabSize(), 300);  // 3 specials, 256 bytes, the learned pieces
  EXPECT_LE(tokenizer.vocabSize(), 400);
  EXPECT_EQ(tokenizer.unkId(), 0);
  EXPECT_EQ(tokenizer.bosId(), 1);
  EXPECT_EQ(tokenizer.eosId(), 2);
  EXPECT_EQ(tokenizer.padId(), std::nullopt);
  EXPECT_EQ(tokenizer.piece(2), "</s>");
  EXPECT_TRUE(tokenizer.isControl(1));
  EXPECT_TRUE(tokenizer.isByte(*tokenizer.pieceId("<0x0A>")));
  EXPECT_EQ(tokenizer.pieceId("no such piece"), std::nullopt);
  EXPECT_EQ(tokenizer.source(), dir.file("tokenizer.model"));
  // A folder is read through its tokenizer.model.
  EXPECT_EQ(SentencePieceTokenizer::load(dir.path().string()).vocabSize(), tokenizer.vocabSize());
  const std::string described = tokenizer.describe();
  EXPECT_NE(described.find("SentencePiece from " + dir.file("tokenizer.model")), std::string::npos) << described;
  EXPECT_NE(described.find("256 byte"), std::string::npos) << described;
  EXPECT_NE(described.find("eos 2 </s>"), std::string::npos) << described;
}

TEST(SentencePieceTokenizer, EncodesAsTheLibraryAndDecodesBack) {
  REQUIRE_MODEL();
  TempDir dir;
  const auto path = writeModel(dir);
  const auto tokenizer = SentencePieceTokenizer::load(path);
  auto texts = lines(trained().text);
  // Unseen text: characters the model never saw go through byte fallback.
  texts.push_back("na\xC3\xAFve caf\xC3\xA9 \xE2\x80\x94 \xE6\x9D\xB1\xE4\xBA\xAC 2024!");
  texts.push_back("  two leading spaces, a tab\there, and a newline\nin the middle");
  size_t tokens = 0;
  for (const auto& text : texts) {
    const Ids ids = tokenizer.encode(text);
    EXPECT_EQ(ids, testing::referenceEncode(trained().model, text)) << text;  // the library on its own
    EXPECT_EQ(tokenizer.decode(ids), text);
    // Piece by piece: the dummy prefix's space kept, so fragments join to the whole.
    std::string joined;
    for (int32_t id : ids) joined += tokenizer.pieceText(id);
    EXPECT_EQ(joined, " " + text);
    tokens += ids.size();
  }
  EXPECT_GT(tokens, 1000u);
  // Byte fallback really happened for the unseen characters.
  const Ids unseen = tokenizer.encode("\xE6\x9D\xB1");
  ASSERT_FALSE(unseen.empty());
  EXPECT_TRUE(tokenizer.isByte(unseen.back()));
  // Ids outside the vocabulary decode to U+FFFD between the rest.
  const Ids ab = tokenizer.encode("ab");
  Ids with_bad = ab;
  with_bad.push_back(tokenizer.vocabSize());
  EXPECT_EQ(tokenizer.decode(with_bad), "ab\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer.pieceText(-1), "\xEF\xBF\xBD");
  EXPECT_THROW(tokenizer.encode("caf\xE9"), DataError);  // Latin-1, not UTF-8
}

TEST(SentencePieceTokenizer, GivesTheIdsOfTheSpmEncodeTool) {
  REQUIRE_MODEL();
  if (testing::runCommand("command -v spm_encode").exit_code != 0)
    GTEST_SKIP() << "spm_encode is not installed (Debian's sentencepiece package; packaging/install-deps.sh)";
  TempDir dir;
  const auto path = writeModel(dir);
  const auto texts = lines(trained().text);
  {
    std::ofstream input(dir.file("input.txt"), std::ios::binary);
    for (const auto& text : texts) input << text << "\n";
  }
  const auto run = testing::runCommand("spm_encode --model='" + path + "' --output_format=id '" +
                                       dir.file("input.txt") + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto tokenizer = SentencePieceTokenizer::load(path);
  const auto rows = lines(run.out);
  ASSERT_EQ(rows.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::istringstream numbers(rows[i]);
    Ids expected;
    for (int32_t id; numbers >> id;) expected.push_back(id);
    EXPECT_EQ(tokenizer.encode(texts[i]), expected) << "line " << i + 1 << ": " << texts[i];
  }
}

TEST(SentencePieceTokenizer, FingerprintTellsModelsApart) {
  REQUIRE_MODEL();
  TempDir dir;
  const auto path = writeModel(dir);
  const auto first = SentencePieceTokenizer::load(path);
  fs::copy_file(path, dir.file("copy.model"));
  EXPECT_EQ(SentencePieceTokenizer::load(dir.file("copy.model")).fingerprint(), first.fingerprint());
  EXPECT_EQ(first.fingerprint().size(), 16u);
  // Another text, the same size: other pieces.
  const std::string other = testing::trainSentencePiece(testing::sampleText(16000).substr(8000), 400);
  const auto second = SentencePieceTokenizer::fromSerialized(other, "other.model");
  EXPECT_NE(second.fingerprint(), first.fingerprint());
}

TEST(SentencePieceTokenizer, RefusesWhatIsNotAModelNamingTheFile) {
  REQUIRE_MODEL();
  TempDir dir;
  EXPECT_NE(refusal([&] { SentencePieceTokenizer::load(dir.file("missing.model")); }).find(dir.file("missing.model")),
            std::string::npos);
  const std::string folder = refusal([&] { SentencePieceTokenizer::load(dir.path().string()); });
  EXPECT_NE(folder.find("holds no tokenizer.model"), std::string::npos) << folder;

  std::ofstream(dir.file("text.model")) << "this is not a protocol buffer at all, just some text\n";
  const std::string text = refusal([&] { SentencePieceTokenizer::load(dir.file("text.model")); });
  EXPECT_NE(text.find(dir.file("text.model") + ": not a SentencePiece model"), std::string::npos) << text;

  std::ofstream(dir.file("empty.model"));
  EXPECT_NE(refusal([&] { SentencePieceTokenizer::load(dir.file("empty.model")); }).find("empty file"),
            std::string::npos);

  // A real model cut in the middle.
  std::ofstream(dir.file("cut.model"), std::ios::binary) << trained().model.substr(0, trained().model.size() / 2);
  const std::string cut = refusal([&] { SentencePieceTokenizer::load(dir.file("cut.model")); });
  EXPECT_NE(cut.find(dir.file("cut.model")), std::string::npos) << cut;
}

}  // namespace
}  // namespace distill
