// The language-model task's text: documents, the whole-document split, tokenizers, blocks,
// and the bad-input messages (each names the file or key).
#include <gtest/gtest.h>

#include <fstream>

#include "core/errors.h"
#include "core/tasks/lm/corpus.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(LmCorpus, FortuneFilesSplitAtPercentLinesAndPlainTextAtBlankLines) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "c");
  write(dir.path() / "c" / "wisdom", "First fortune.\n%\nSecond\nover two lines.\n%\n\n%\nThird.\n");
  write(dir.path() / "c" / "wisdom.dat", "binary index, skipped");
  write(dir.path() / "c" / "prose.txt", "A paragraph.\n\nAnother one\nhere.\n\n\n");
  const Documents docs = readDocuments((dir.path() / "c").string());
  // Files in name order: prose.txt, then wisdom; the empty fortune is dropped.
  ASSERT_EQ(docs.texts.size(), 5u);
  EXPECT_EQ(docs.texts[0], "A paragraph.\n");
  EXPECT_EQ(docs.texts[1], "Another one\nhere.\n");
  EXPECT_EQ(docs.texts[2], "First fortune.\n");
  EXPECT_EQ(docs.texts[3], "Second\nover two lines.\n");
  EXPECT_EQ(docs.texts[4], "Third.\n");
}

TEST(LmCorpus, EveryTenthDocumentIsHeldOutWhole) {
  Documents docs;
  for (int i = 0; i < 25; ++i) docs.texts.push_back("doc " + std::to_string(i) + "\n");
  std::vector<std::string> train, validation;
  splitDocuments(docs, train, validation);
  ASSERT_EQ(validation.size(), 2u);
  EXPECT_EQ(validation[0], "doc 9\n");
  EXPECT_EQ(validation[1], "doc 19\n");
  EXPECT_EQ(train.size(), 23u);
  for (const auto& t : train) EXPECT_NE(t, "doc 9\n");
}

TEST(LmCorpus, ByteAndCharTokensRoundTrip) {
  Documents docs;
  docs.texts = {"héllo wörld\n", "zebra\n"};
  const auto bytes = Tokenizer::build("byte", docs);
  EXPECT_EQ(bytes.vocabSize(), 256);
  EXPECT_EQ(bytes.encode("é").size(), 2u);  // two UTF-8 bytes
  EXPECT_EQ(bytes.decode(bytes.encode("héllo")), "héllo");
  const auto chars = Tokenizer::build("char", docs);
  // The separator plus the distinct characters: \n, space, a b d e h l o r w z, é, ö.
  EXPECT_EQ(chars.vocabSize(), 1 + 14);
  const auto ids = chars.encode("héllo");
  EXPECT_EQ(ids.size(), 5u);
  for (auto id : ids) EXPECT_GT(id, 0);
  EXPECT_EQ(chars.decode(ids), "héllo");
}

TEST(LmCorpus, BlocksAreFixedWindowsWithNextTokenTargets) {
  Documents docs;
  docs.texts = {"abcdefghij\n", "klmnop\n"};
  const auto tokenizer = Tokenizer::build("byte", docs);
  // Stream: 11 + 1 + 7 + 1 = 20 tokens; blocks of 4 + 1 at stride 4: (20 - 1) / 4 = 4 blocks.
  const auto blocks = packBlocks(docs.texts, tokenizer, /*context=*/4, /*limit=*/0, "test");
  ASSERT_EQ(blocks.inputs.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(blocks.tokens, 20);
  EXPECT_EQ(blocks.inputs[0][0].item<int64_t>(), 'a');
  EXPECT_EQ(blocks.targets[0][0].item<int64_t>(), 'b');
  EXPECT_EQ(blocks.targets[0][3].item<int64_t>(), blocks.inputs[1][0].item<int64_t>());
  EXPECT_EQ(blocks.inputs[2][3].item<int64_t>(), Tokenizer::kSeparator);  // after "abcdefghij\n"
  // The same blocks every time they are packed (a teacher's outputs on them can be cached).
  EXPECT_TRUE(torch::equal(packBlocks(docs.texts, tokenizer, 4, 0, "test").inputs, blocks.inputs));
  // A limit keeps evenly spaced blocks.
  const auto two = packBlocks(docs.texts, tokenizer, 4, 2, "test");
  ASSERT_EQ(two.inputs.size(0), 2);
  EXPECT_TRUE(torch::equal(two.inputs[1], blocks.inputs[2]));
}

TEST(LmCorpus, BadInputNamesTheFileOrKey) {
  TempDir dir;
  auto message = [](auto&& call) {
    try {
      call();
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { readDocuments((dir.path() / "missing").string()); }).find("missing: no such file"),
            std::string::npos);
  EXPECT_NE(message([] { readDocuments(kFortunesFolder + std::string("-not-here")); }).find("no such file"),
            std::string::npos);
  write(dir.path() / "empty.txt", "\n\n   \n");
  EXPECT_NE(message([&] { readDocuments((dir.path() / "empty.txt").string()); }).find("the corpus is empty"),
            std::string::npos);
  write(dir.path() / "latin1.txt", "caf\xe9\n");
  const auto latin1 = readDocuments((dir.path() / "latin1.txt").string());
  const auto not_utf8 = message([&] { Tokenizer::build("char", latin1); });
  EXPECT_NE(not_utf8.find("latin1.txt"), std::string::npos) << not_utf8;
  EXPECT_NE(not_utf8.find("UTF-8"), std::string::npos) << not_utf8;
  EXPECT_NO_THROW(Tokenizer::build("byte", latin1));  // bytes read anything
  Documents short_docs;
  short_docs.texts = {"hi\n"};
  const auto too_short = message([&] { packBlocks(short_docs.texts, Tokenizer::build("byte", short_docs), 128, 0, "tiny.txt"); });
  EXPECT_NE(too_short.find("tiny.txt: 4 tokens, fewer than one block of lm.context + 1 = 129"), std::string::npos)
      << too_short;
}

}  // namespace
}  // namespace distill
