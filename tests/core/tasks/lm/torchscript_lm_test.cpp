// The lm room's TorchScript bridge (core/tasks/lm/torchscript_lm.h): a GPT exported as
// TorchScript gives the native model's logits and carries its tokenizer; a TorchScript module
// loads as an lm teacher, and one that does not return [N, T, V] for the run's tokenizer is
// refused naming teacher.source and the shapes. Python's side is in tests/e2e/python_interop_test.cpp.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <fstream>

#include "core/errors.h"
#include "core/tasks/lm/torchscript_lm.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

GptConfig tinyGpt(int64_t vocab, int64_t context = 16) {
  GptConfig config;
  config.vocab = vocab, config.context = context, config.layers = 2, config.heads = 2, config.d_model = 16;
  config.dropout = 0.1;  // exported too: off in eval mode
  return config;
}

Tokenizer charTokenizer(const std::string& text) {
  Documents documents;
  documents.texts = {text};
  return Tokenizer::build("char", documents);
}

// Random ids in [0, vocab) of shape [batch, time].
torch::Tensor tokens(int64_t batch, int64_t time, int64_t vocab) { return torch::randint(vocab, {batch, time}, torch::kInt64); }

// A TorchScript module whose forward is `body` (one expression of `tokens`), saved to `path`.
void writeModule(const std::string& path, const std::string& body) {
  torch::jit::Module module("Fake");
  module.define("def forward(self, tokens: Tensor) -> Tensor:\n    return " + body + "\n");
  module.save(path);
}

std::string refusal(const std::string& path, const Tokenizer& tokenizer, int64_t context) {
  try {
    loadTorchScriptTeacher("torchscript:" + path, tokenizer, context);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(GptTorchScript, GivesTheNativeLogitsAndCarriesTheTokenizer) {
  torch::manual_seed(3);
  const Tokenizer tokenizer = charTokenizer("the cat sat on the mat, größer");
  Gpt gpt(tinyGpt(tokenizer.vocabSize()));
  gpt->eval();
  auto module = toTorchScript(*gpt, tokenizer);
  EXPECT_FALSE(module.is_training()) << "saved in eval mode";

  torch::NoGradGuard no_grad;
  for (const int64_t time : {1, 7, 16}) {
    const auto batch = tokens(3, time, tokenizer.vocabSize());
    const auto exported = module.forward({batch}).toTensor();
    ASSERT_EQ(exported.sizes(), (std::vector<int64_t>{3, time, tokenizer.vocabSize()}));
    EXPECT_TRUE(torch::allclose(exported, gpt->forward(batch), /*rtol=*/1e-5, /*atol=*/1e-5)) << "T = " << time;
  }
  EXPECT_EQ(module.attr("tokenizer").toStringRef(), "char");
  EXPECT_EQ(module.attr("vocab_size").toInt(), tokenizer.vocabSize());
  EXPECT_EQ(module.attr("context").toInt(), 16);
  EXPECT_EQ(module.attr("separator_id").toInt(), 0);
  EXPECT_EQ(module.attr("alphabet").toStringRef(), tokenizer.alphabet());

  // More positions than the context: its own message, not an index error deep in ATen.
  try {
    module.forward({tokens(1, 17, tokenizer.vocabSize())});
    ADD_FAILURE() << "17 positions accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("17 positions; the model's context is 16"), std::string::npos) << e.what();
  }
  // Dropout follows the module's mode, as in the native model.
  module.train();
  const auto batch = tokens(2, 16, tokenizer.vocabSize());
  EXPECT_FALSE(torch::equal(module.forward({batch}).toTensor(), module.forward({batch}).toTensor()));
}

TEST(GptTorchScript, AnExportedGptLoadsBackAsATeacher) {
  torch::manual_seed(4);
  TempDir dir;
  const Tokenizer tokenizer = Tokenizer::build("byte", Documents{});
  Gpt gpt(tinyGpt(256));
  exportTorchScript(*gpt, tokenizer, dir.file("teacher.ts"));

  Model teacher = loadTorchScriptTeacher("torchscript:" + dir.file("teacher.ts"), tokenizer, /*context=*/16);
  EXPECT_EQ(teacher->parameterCount(), gpt->parameterCount()) << "the tied head is one parameter";
  EXPECT_EQ(teacher->widestActivationPerSample(), 16 * 256) << "the probe's logits per sequence size the chunks";
  torch::NoGradGuard no_grad;
  teacher->eval();
  gpt->eval();
  const auto batch = tokens(4, 16, 256);
  EXPECT_TRUE(torch::allclose(teacher->forward(batch), gpt->forward(batch), 1e-5, 1e-5));

  // A run with a shorter context probes shorter sequences: accepted.
  EXPECT_NO_THROW(loadTorchScriptTeacher("torchscript:" + dir.file("teacher.ts"), tokenizer, /*context=*/8));
}

TEST(GptTorchScript, ATeacherThatDoesNotReturnTokensByVocabularyIsRefused) {
  TempDir dir;
  const Tokenizer bytes = Tokenizer::build("byte", Documents{});

  writeModule(dir.file("wide.ts"), "torch.zeros(tokens.size(0), tokens.size(1), 300)");
  const auto wide = refusal(dir.file("wide.ts"), bytes, 16);
  for (const auto& expected : std::vector<std::string>{"teacher.source: " + dir.file("wide.ts"), "[2, 16, 300]",
                                                        "[2, 16, 256]", "vocabulary mismatch", "300 tokens", "256",
                                                        "lm.tokenizer byte"})
    EXPECT_NE(wide.find(expected), std::string::npos) << expected << " in: " << wide;

  writeModule(dir.file("flat.ts"), "torch.zeros(tokens.size(0), 256)");
  const auto flat = refusal(dir.file("flat.ts"), bytes, 16);
  for (const auto& expected :
       std::vector<std::string>{"teacher.source: ", "returns shape [2, 256] for [2, 16] inputs", "[N, T, V]"})
    EXPECT_NE(flat.find(expected), std::string::npos) << expected << " in: " << flat;

  writeModule(dir.file("floats.ts"), "torch.matmul(tokens, torch.zeros(3, 3))");
  const auto floats = refusal(dir.file("floats.ts"), bytes, 16);
  EXPECT_NE(floats.find("forward() fails on an input of shape [2, 16] (expected int64 token ids [N, T]"),
            std::string::npos)
      << floats;

  // A GPT exported with a shorter context fails on the run's: named with both shapes.
  Gpt short_gpt(tinyGpt(256, /*context=*/8));
  exportTorchScript(*short_gpt, bytes, dir.file("short.ts"));
  const auto too_short = refusal(dir.file("short.ts"), bytes, 16);
  EXPECT_NE(too_short.find("16 positions; the model's context is 8"), std::string::npos) << too_short;

  std::ofstream(dir.file("text.ts")) << "not a module";
  EXPECT_NE(refusal(dir.file("text.ts"), bytes, 16).find("teacher.source: " + dir.file("text.ts") + ": not a TorchScript file"),
            std::string::npos);
}

TEST(GptTorchScript, ATeacherExportedWithAnotherTokenizerIsRefused) {
  TempDir dir;
  // 255 characters: a char vocabulary of 256, the byte tokenizer's size.
  std::string utf8;
  for (char32_t c = 0x100; c < 0x100 + 255; ++c) {  // U+0100..U+01FE: two bytes each
    utf8 += static_cast<char>(0xC0 | (c >> 6));
    utf8 += static_cast<char>(0x80 | (c & 0x3F));
  }
  const Tokenizer chars = charTokenizer(utf8);
  ASSERT_EQ(chars.vocabSize(), 256);

  const Tokenizer bytes = Tokenizer::build("byte", Documents{});
  Gpt gpt(tinyGpt(256));
  exportTorchScript(*gpt, bytes, dir.file("bytes.ts"));
  const auto kind = refusal(dir.file("bytes.ts"), chars, 16);
  EXPECT_NE(kind.find("teacher.source: " + dir.file("bytes.ts") + " was exported with byte tokens; this run's "
                      "lm.tokenizer is char"),
            std::string::npos)
      << kind;

  const Tokenizer abc = charTokenizer("abc"), abd = charTokenizer("abd");
  Gpt small(tinyGpt(abc.vocabSize()));
  exportTorchScript(*small, abc, dir.file("abc.ts"));
  EXPECT_NO_THROW(loadTorchScriptTeacher("torchscript:" + dir.file("abc.ts"), abc, 16));
  EXPECT_NE(refusal(dir.file("abc.ts"), abd, 16).find("another char alphabet"), std::string::npos);
  // Its vocab_size says the vocabularies differ before any id of the run's could fail in it.
  const auto sizes = refusal(dir.file("abc.ts"), bytes, 16);
  EXPECT_NE(sizes.find("teacher.source: " + dir.file("abc.ts") + ": vocabulary mismatch: the teacher's vocabulary has "
                       "4 tokens (its vocab_size), the student's 256 (lm.tokenizer byte)"),
            std::string::npos)
      << sizes;
}

}  // namespace
}  // namespace distill
