// `distill tokenize` end to end on the hand-written tokenizer.json of the tokenizer tests
// (tests/core/text/bpe/data/llama3-style: ids of unmerged bytes are the bytes): ids and
// pieces as text and JSON, decoding, and the messages for bad input; and on a SentencePiece
// tokenizer.model trained in the test (tests/support/sentencepiece_support.h), its ids against
// the library's own processor.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "support/cli_support.h"
#include "support/sentencepiece_support.h"
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

// A model folder with a tokenizer.model is read through SentencePiece, as the lm task reads it,
// even beside a tokenizer.json (Llama 2 ships both); a .model file by itself too.
TEST(TokenizeCli, ReadsASentencePieceModel) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  std::string lines;
  const char* animals[] = {"cat", "dog", "owl", "fox"};
  for (int i = 0; i < 64; ++i) lines += std::string("the ") + animals[i % 4] + " sat on the mat " + std::to_string(i) + ".\n";
  const std::string model = testing::trainSentencePiece(lines, 300);
  const std::string folder = dir.file("llama2-like");
  std::filesystem::create_directories(folder);
  std::ofstream(folder + "/tokenizer.model", std::ios::binary) << model;
  std::filesystem::copy_file(kTokenizer + "/tokenizer.json", folder + "/tokenizer.json");
  const std::string text = "the owl sat\n\xC3\xA9";  // é is no piece: two byte pieces

  const auto result = distillCli("tokenize -k " + quote(folder) + " -t \"$(printf 'the owl sat\\n\\303\\251')\" --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json.at("tokenizer"), folder + "/tokenizer.model");
  const auto ids = json.at("ids").get<std::vector<int32_t>>();
  EXPECT_EQ(ids, testing::referenceEncode(model, text));
  std::string joined;
  for (const auto& piece : json.at("pieces")) joined += piece.get<std::string>();
  EXPECT_EQ(joined.substr(0, 12), " the owl sat");  // the dummy prefix's space, "▁" as a space
  EXPECT_EQ(json.at("tokens").front().get<std::string>().substr(0, 3), "\xE2\x96\x81");  // ▁

  std::string decode_args;
  for (int32_t id : ids) decode_args += " " + std::to_string(id);
  const auto decoded = distillCli("tokenize -k " + quote(folder + "/tokenizer.model") + " --decode" + decode_args);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, text + "\n");

  const auto listed = distillCli("tokenize -k " + quote(folder) + " -t \"$(printf '\\303\\251')\"");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.err.find("SentencePiece from " + folder + "/tokenizer.model"), std::string::npos) << listed.err;
  EXPECT_NE(listed.out.find("<0xC3>"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("(byte)"), std::string::npos) << listed.out;

  // A tokenizer.model that is no SentencePiece model, alone: refused naming it; beside a
  // tokenizer.json (Llama 3's tiktoken file): the tokenizer.json is read.
  std::ofstream(folder + "/tokenizer.model", std::ios::binary) << "not a model";
  const auto fallback = distillCli("tokenize -k " + quote(folder) + " -t 'the thing' --json");
  ASSERT_EQ(fallback.exit_code, 0) << fallback.err;
  EXPECT_EQ(nlohmann::json::parse(fallback.out).at("ids"), nlohmann::json({116, 257, 256, 104, 260}));
  std::filesystem::remove(folder + "/tokenizer.json");
  const auto refused = distillCli("tokenize -k " + quote(folder) + " -t x");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find(folder + "/tokenizer.model: not a SentencePiece model"), std::string::npos) << refused.err;
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
