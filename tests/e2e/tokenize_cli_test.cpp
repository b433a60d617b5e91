// `distill tokenize` end to end on the hand-written tokenizer.json of the tokenizer tests
// (tests/core/text/bpe/data/llama3-style: ids of unmerged bytes are the bytes): ids and
// pieces as text and JSON, decoding, and the messages for bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "support/cli_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::distillCli;
using testing::quote;
using testing::TempDir;

const std::string kTokenizer = std::string(DISTILL_PRESETS_DIR) + "/../../tests/core/text/bpe/data/llama3-style";

TEST(TokenizeCli, PrintsIdsVocabularyStringsAndPieces) {
  const auto result = distillCli("tokenize --tokenizer " + quote(kTokenizer) + " --text 'the thing<|end_of_text|>'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("13 merges"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("Split (llama3 pattern, isolated)"), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("6 tokens"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\xC4\xA0t"), std::string::npos) << result.out;  // the vocabulary string Ġt
  EXPECT_NE(result.out.find("\" t\""), std::string::npos) << result.out;      // and its piece
  EXPECT_NE(result.out.find("(special)"), std::string::npos) << result.out;
}

TEST(TokenizeCli, JsonAndDecodeRoundTrip) {
  const auto result = distillCli("tokenize -k " + quote(kTokenizer) + " -t 'the thing' --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json.at("ids"), nlohmann::json({116, 257, 256, 104, 260}));
  EXPECT_EQ(json.at("pieces"), nlohmann::json({"t", "he", " t", "h", "ing"}));
  const auto decoded = distillCli("tokenize -k " + quote(kTokenizer) + " --decode 116 257 256 104 260");
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, "the thing\n");
  const auto ordinary = distillCli("tokenize -k " + quote(kTokenizer) + " -t '<|eot|>' --ordinary --json");
  ASSERT_EQ(ordinary.exit_code, 0) << ordinary.err;
  EXPECT_GT(nlohmann::json::parse(ordinary.out).at("ids").size(), 1u);  // read as text, not as id 302
}

TEST(TokenizeCli, BadInputExitsWithTwoAndSaysWhy) {
  TempDir dir;
  std::ofstream(dir.file("tokenizer.json")) << "{ not json";
  const struct {
    std::string args, message;
  } cases[] = {
      {"tokenize -k " + quote(dir.file("absent")) + " -t x", "absent does not exist"},
      {"tokenize -k " + quote(dir.file("tokenizer.json")) + " -t x", "tokenizer.json: not JSON"},
      {"tokenize -k " + quote(kTokenizer), "either --text TEXT or --decode"},
      {"tokenize -k " + quote(kTokenizer) + " --decode 304", "ids of this tokenizer are 0 to 303"},
      {"tokenize -k " + quote(kTokenizer) + " -t \"$(printf 'caf\\351')\"", "not valid UTF-8 (byte 0xe9 at offset 3)"},
  };
  for (const auto& c : cases) {
    const auto result = distillCli(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.args << "\n" << result.err;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << c.args << "\n" << result.err;
  }
}

}  // namespace
}  // namespace distill
