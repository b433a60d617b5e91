// The language-model task with a model's own tokenizer (core/tasks/lm/tokenizer.h): GPT-2's
// real files (vocab.json + merges.txt from the npm package the BPE tests use,
// tests/support/gpt2_package.h) and a SentencePiece model trained here
// (tests/support/sentencepiece_support.h). The forms of lm.tokenizer and their refusals, the
// separator, the prompt mask at the response, the fingerprints, tiny lm runs that train, store
// decoded samples and name their tokenizer, and teachers tokenized otherwise refused.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <fstream>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/tasks/lm/lm_metrics.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/lm_task.h"
#include "core/tasks/lm/tokenizer.h"
#include "core/tasks/lm/torchscript_lm.h"
#include "core/train/experiment_runner.h"
#include "support/gpt2_package.h"
#include "support/lm_test_support.h"
#include "support/sentencepiece_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using testing::lmConfig;
using testing::runLm;
using testing::TempDir;
using testing::writeCorpus;

Documents texts(std::vector<std::string> documents) {
  Documents d;
  d.origin = "test";
  d.texts = std::move(documents);
  return d;
}

// A SentencePiece tokenizer.model learned from the tiny corpus of lm_test_support (so the test
// needs no fortunes): 300 pieces at most, byte fallback for the rest.
std::string writeSentencePiece(const fs::path& folder, const std::string& corpus_folder) {
  std::ifstream in(fs::path(corpus_folder) / "tiny");
  std::stringstream text;
  text << in.rdbuf();
  fs::create_directories(folder);
  std::ofstream(folder / "tokenizer.model", std::ios::binary) << testing::trainSentencePiece(text.str(), 300);
  return folder.string();
}

template <typename Build>
std::string refusal(Build&& build) {
  try {
    build();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

TEST(LmTokenizer, ByteAndCharAreAsTheyWere) {
  const auto byte = Tokenizer::build("byte", Documents{});
  EXPECT_EQ(byte.kind(), "byte");
  EXPECT_EQ(byte.vocabSize(), 256);
  EXPECT_EQ(byte.separator(), 0);
  EXPECT_EQ(byte.fingerprint(), "byte");
  EXPECT_EQ(byte.encode("hi"), (std::vector<int64_t>{'h', 'i'}));
  EXPECT_EQ(byte.decode({'h', 0, 'i'}), "h\n\ni");
  const auto abc = Tokenizer::build("char", texts({"abc\n"}));
  const auto abd = Tokenizer::build("char", texts({"abd\n"}));
  EXPECT_EQ(abc.vocabSize(), 5);
  EXPECT_EQ(abc.fingerprint().rfind("char:", 0), 0u);
  EXPECT_NE(abc.fingerprint(), abd.fingerprint());
  EXPECT_EQ(abc.fingerprint(), Tokenizer::build("char", texts({"cab\n"})).fingerprint());
  EXPECT_FALSE(abc.isModel());
}

TEST(LmTokenizer, ReadsGpt2sFilesWithEndOfTextBetweenDocuments) {
  REQUIRE_GPT2_PACKAGE();
  TempDir dir;
  const auto folder = testing::gpt2Folder(dir.path() / "gpt2");
  const auto gpt2 = Tokenizer::build("hf:" + folder, texts({"a document\n"}));
  EXPECT_EQ(gpt2.kind(), "bpe");
  EXPECT_TRUE(gpt2.isModel());
  EXPECT_EQ(gpt2.spec(), "hf:" + folder);
  EXPECT_EQ(gpt2.vocabSize(), 50257);
  EXPECT_EQ(gpt2.separator(), 50256);
  EXPECT_EQ(gpt2.encode("Hello world"), (std::vector<int64_t>{15496, 995}));
  // Decoding concatenates: a prompt and its completion decoded apart read as the whole.
  EXPECT_EQ(gpt2.decode({15496}) + gpt2.decode({995, 50256}), "Hello world\n\n");
  EXPECT_NE(gpt2.describe().find("separator <|endoftext|> (50256)"), std::string::npos) << gpt2.describe();
  EXPECT_EQ(gpt2.fingerprint().rfind("bpe:", 0), 0u);
  // The same files named by path give the same tokenizer.
  EXPECT_EQ(Tokenizer::build(folder + "/vocab.json", Documents{}).fingerprint(), gpt2.fingerprint());
  // Packed: every document followed by <|endoftext|>.
  const auto blocks = packBlocks(texts({"Hello world\n", "Hello world\n"}), gpt2, 3, 0, "test");
  EXPECT_EQ(blocks.tokens, 8);  // Hello, world, \n, <|endoftext|> twice
  EXPECT_EQ(blocks.inputs[0][3 - 1].item<int64_t>(), 198);  // "\n"
  EXPECT_EQ(blocks.targets[0][2].item<int64_t>(), 50256);
}

// All of fortunes through GPT-2's tokenizer into blocks, as an lm run does: timed, so that a
// change that makes it slow shows (issue 23 asks it to stay fast).
TEST(LmTokenizer, PacksAllOfFortunesWithGpt2Quickly) {
  REQUIRE_GPT2_PACKAGE();
  if (!fs::exists(kFortunesFolder)) GTEST_SKIP() << kFortunesFolder << " is missing (apt-get install fortunes)";
  TempDir dir;
  const auto gpt2 = Tokenizer::build("hf:" + testing::gpt2Folder(dir.path() / "gpt2"), Documents{});
  const Documents documents = readDocuments(kFortunesFolder);
  const auto start = std::chrono::steady_clock::now();
  const auto blocks = packBlocks(documents, gpt2, 128, 0, "fortunes");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ measured ] " << documents.texts.size() << " fortunes documents, " << blocks.tokens
            << " GPT-2 tokens (separators included) packed in " << seconds << " s ("
            << static_cast<int64_t>(static_cast<double>(blocks.tokens) / seconds) << " tokens/s)\n";
  // 701,293 tokens in the documents (gpt2_npm_test), one separator after each.
  EXPECT_EQ(blocks.tokens, 701293 + static_cast<int64_t>(documents.texts.size()));
  EXPECT_LT(seconds, 30.0);  // about 1 s on one core of the 2-core build machine
}

TEST(LmTokenizer, TakesTheEndOfTextATokenizerConfigNames) {
  TempDir dir;
  const fs::path folder = dir.path() / "llama3-style";
  fs::create_directories(folder);
  fs::copy_file(fs::path(DISTILL_SOURCE_DIR) / "tests/core/text/bpe/data/llama3-style/tokenizer.json",
                folder / "tokenizer.json");
  const auto plain = Tokenizer::build("hf:" + folder.string(), Documents{});
  EXPECT_EQ(plain.separator(), 301);  // <|end_of_text|>, found by name
  std::ofstream(folder / "tokenizer_config.json") << R"({"eos_token": {"content": "<|begin_of_text|>"}})";
  const auto configured = Tokenizer::build("hf:" + folder.string(), Documents{});
  EXPECT_EQ(configured.separator(), 300);
  EXPECT_NE(configured.fingerprint(), plain.fingerprint());  // the separator is part of the ids
  std::ofstream(folder / "tokenizer_config.json") << R"({"eos_token": "<|nowhere|>"})";
  const auto message = refusal([&] { Tokenizer::build("hf:" + folder.string(), Documents{}); });
  EXPECT_NE(message.find("lm.tokenizer: " + (folder / "tokenizer_config.json").string() +
                         ": eos_token '<|nowhere|>' is not a token of"),
            std::string::npos)
      << message;
}

TEST(LmTokenizer, ReadsASentencePieceModelWithItsEos) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto folder = writeSentencePiece(dir.path() / "sp", corpus);
  const auto sp = Tokenizer::build("hf:" + folder, texts({"the cat\n"}));
  EXPECT_EQ(sp.kind(), "sentencepiece");
  EXPECT_EQ(sp.separator(), 2);  // </s>
  EXPECT_EQ(sp.fingerprint().rfind("sentencepiece:", 0), 0u);
  EXPECT_NE(sp.describe().find("separator </s> (2)"), std::string::npos) << sp.describe();
  const auto ids = sp.encode("the cat sat.\n");
  EXPECT_EQ(sp.decode(ids), " the cat sat.\n");  // the dummy prefix's space kept
  // A Llama-2-like folder holds tokenizer.json beside tokenizer.model: the model is read.
  std::ofstream(fs::path(folder) / "tokenizer.json") << "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true}}";
  EXPECT_EQ(Tokenizer::build("hf:" + folder, Documents{}).kind(), "sentencepiece");
  EXPECT_EQ(Tokenizer::build(folder + "/tokenizer.model", Documents{}).fingerprint(), sp.fingerprint());
}

TEST(LmTokenizer, RefusalsNameTheKeyAndTheFile) {
  TempDir dir;
  auto message = refusal([&] { Tokenizer::build("hf:" + dir.file("nowhere"), Documents{}); });
  EXPECT_NE(message.find("lm.tokenizer: " + dir.file("nowhere") + ": no such folder or file"), std::string::npos)
      << message;
  fs::create_directories(dir.path() / "empty");
  std::ofstream(dir.path() / "empty" / "config.json") << "{}";
  message = refusal([&] { Tokenizer::build("hf:" + dir.file("empty"), Documents{}); });
  EXPECT_NE(message.find("lm.tokenizer: " + dir.file("empty") + ": the folder holds no tokenizer"), std::string::npos)
      << message;
  EXPECT_NE(message.find("it holds config.json"), std::string::npos) << message;
  // A corrupt tokenizer.model, alone in its folder.
  fs::create_directories(dir.path() / "corrupt");
  std::ofstream(dir.path() / "corrupt" / "tokenizer.model") << "not a model";
  message = refusal([&] { Tokenizer::build("hf:" + dir.file("corrupt"), Documents{}); });
  // (An AddressSanitizer build cannot open SentencePiece's module: there the refusal says so.)
  EXPECT_NE(message.find("lm.tokenizer: " + (dir.path() / "corrupt" / "tokenizer.model").string() +
                         (testing::sentencePieceUnavailable().empty() ? ": not a SentencePiece model"
                                                                      : ": SentencePiece support is not available")),
            std::string::npos)
      << message;
  // A tokenizer.json that is not JSON.
  std::ofstream(dir.file("broken.json")) << "{ not json";
  message = refusal([&] { Tokenizer::build(dir.file("broken.json"), Documents{}); });
  EXPECT_NE(message.find("lm.tokenizer: "), std::string::npos) << message;
  EXPECT_NE(message.find(dir.file("broken.json")), std::string::npos) << message;
  // A BPE without any end-of-text token.
  std::ofstream(dir.file("no-eos.json"))
      << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}})";
  message = refusal([&] { Tokenizer::build(dir.file("no-eos.json"), Documents{}); });
  EXPECT_NE(message.find("lm.tokenizer: " + dir.file("no-eos.json") + ": no end-of-text token"), std::string::npos)
      << message;
  // hf: with no path is refused by the config's check.
  try {
    lmConfig("corpus", {"lm.tokenizer=hf:"});
    ADD_FAILURE() << "lm.tokenizer hf: was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lm.tokenizer"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(lmConfig("corpus", {"lm.tokenizer=hf:models/gpt2"}));
  EXPECT_NO_THROW(lmConfig("corpus", {"lm.tokenizer=models/llama2/tokenizer.model"}));
}

TEST(LmTokenizer, RefusesACorpusThatIsNotUtf8NamingTheDocument) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto folder = writeSentencePiece(dir.path() / "sp", corpus);
  Documents latin1 = texts({"fine\n", "caf\xE9\n"});
  const auto message = refusal([&] { Tokenizer::build("hf:" + folder, latin1); });
  EXPECT_NE(message.find("test: document 2 is not valid UTF-8"), std::string::npos) << message;
}

// Instruction documents: the mask turns on exactly at the response's first token.
void expectMaskAtTheResponse(const Tokenizer& tokenizer) {
  const std::string prompt = "Q: what sat on the mat?\n", response = "The cat sat on the mat.\n";
  Documents documents = texts({prompt + response});
  documents.prompt_bytes = {prompt.size()};
  const auto prompt_ids = tokenizer.encode(prompt), response_ids = tokenizer.encode(response);
  const auto length = static_cast<int64_t>(prompt_ids.size() + response_ids.size() + 1);
  const auto blocks = packBlocks(documents, tokenizer, length - 1, 0, "test");
  ASSERT_EQ(blocks.inputs.size(0), 1);
  ASSERT_TRUE(blocks.mask.defined());
  for (int64_t j = 0; j < length - 1; ++j) {
    // Target j is stream[j + 1]: it counts from the response's first token on.
    EXPECT_EQ(blocks.mask[0][j].item<bool>(), j + 1 >= static_cast<int64_t>(prompt_ids.size())) << tokenizer.kind() << " " << j;
  }
  EXPECT_EQ(blocks.targets[0][length - 2].item<int64_t>(), tokenizer.separator());
  // The counted part decodes to the response (SentencePiece: with its dummy prefix).
  std::vector<int64_t> counted;
  for (int64_t j = 0; j < length - 1; ++j)
    if (blocks.mask[0][j].item<bool>() && blocks.targets[0][j].item<int64_t>() != tokenizer.separator())
      counted.push_back(blocks.targets[0][j].item<int64_t>());
  EXPECT_EQ(tokenizer.decode(counted), (tokenizer.kind() == "sentencepiece" ? " " : "") + response);
}

TEST(LmTokenizer, PromptMaskFallsAtTheResponseWithBpe) {
  REQUIRE_GPT2_PACKAGE();
  TempDir dir;
  expectMaskAtTheResponse(Tokenizer::build("hf:" + testing::gpt2Folder(dir.path() / "gpt2"), Documents{}));
}

TEST(LmTokenizer, PromptMaskFallsAtTheResponseWithSentencePiece) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  expectMaskAtTheResponse(Tokenizer::build("hf:" + writeSentencePiece(dir.path() / "sp", corpus), Documents{}));
}

TEST(LmTokenizer, AMismatchNamesBothTokenizers) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto sp = Tokenizer::build("hf:" + writeSentencePiece(dir.path() / "sp", corpus), Documents{});
  const auto byte = Tokenizer::build("byte", Documents{});
  const std::map<std::string, std::string> byte_run = {
      {"tokenizer", "byte"}, {"tokenizer_description", byte.describe()}, {"tokenizer_fingerprint", "byte"}, {"vocab_size", "256"}};
  EXPECT_EQ(tokenizerMismatch(byte, byte_run), "");
  const std::string message = tokenizerMismatch(sp, byte_run);
  EXPECT_NE(message.find("lm.tokenizer byte: byte: the 256 byte values"), std::string::npos) << message;
  EXPECT_NE(message.find("this run's lm.tokenizer hf:"), std::string::npos) << message;
  EXPECT_NE(message.find(sp.fingerprint()), std::string::npos) << message;
  EXPECT_NE(message.find("distilling across tokenizers is not supported"), std::string::npos) << message;
  // A run from before fingerprints: by kind and size.
  EXPECT_NE(tokenizerMismatch(sp, {{"tokenizer", "char"}, {"vocab_size", "40"}}), "");
  EXPECT_EQ(tokenizerMismatch(byte, {{"tokenizer", "byte"}, {"vocab_size", "256"}}), "");
}

// ---- tiny runs

std::vector<GeneratedText> evalTexts(const fs::path& dir, int64_t run_id) {
  RunStore store((dir / "lm.db").string());
  GeneratedFilter filter;
  filter.purpose = "eval";
  return store.generatedTexts(run_id, filter);
}

TEST(LmTokenizerRun, TrainsWithGpt2sTokenizerAndStoresDecodedSamples) {
  REQUIRE_GPT2_PACKAGE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto folder = testing::gpt2Folder(dir.path() / "gpt2");
  // A 50,257-token vocabulary over d_model 32: 1.6M embedding weights, a few steps.
  const auto f = runLm(dir.path(), lmConfig(corpus, {"lm.tokenizer=hf:" + folder, "teacher.epochs=2", "train.epochs=1",
                                                     "generation.eval_prompts=2", "generation.new_tokens=6"}));
  ASSERT_EQ(f.result.outcome, RunOutcome::Completed) << f.result.error;
  EXPECT_EQ(f.run.environment.at("tokenizer"), "hf:" + folder);
  EXPECT_EQ(f.run.environment.at("vocab_size"), "50257");
  EXPECT_NE(f.run.environment.at("tokenizer_description").find("byte-level BPE from " + folder), std::string::npos);
  EXPECT_EQ(f.run.environment.at("tokenizer_fingerprint"),
            Tokenizer::build("hf:" + folder, Documents{}).fingerprint());
  // The teacher learned something of the corpus in its 10 steps: far below a uniform guess over
  // 50,257 ids (about 2,600 here).
  EXPECT_LT(f.run.final_metrics.at(metric_key::kTeacherPerplexity), 50257 / 10.0);
  const auto samples = evalTexts(dir.path(), f.run.id);
  ASSERT_FALSE(samples.empty());
  for (const auto& sample : samples) {
    // Prompts are validation documents' beginnings, decoded by GPT-2's tokenizer.
    EXPECT_EQ(sample.prompt.rfind("the ", 0), 0u) << sample.prompt;
    EXPECT_FALSE(sample.completion.empty());
  }
}

TEST(LmTokenizerRun, TrainsWithASentencePieceModel) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto folder = writeSentencePiece(dir.path() / "sp", corpus);
  const auto f = runLm(dir.path(), lmConfig(corpus, {"lm.tokenizer=hf:" + folder, "teacher.epochs=3", "train.epochs=1",
                                                     "generation.eval_prompts=2", "generation.new_tokens=6"}));
  ASSERT_EQ(f.result.outcome, RunOutcome::Completed) << f.result.error;
  const auto tokenizer = Tokenizer::build("hf:" + folder, Documents{});
  EXPECT_EQ(f.run.environment.at("vocab_size"), std::to_string(tokenizer.vocabSize()));
  EXPECT_NE(f.run.environment.at("tokenizer_description").find("SentencePiece from " + folder + "/tokenizer.model"),
            std::string::npos);
  EXPECT_EQ(f.run.environment.at("tokenizer_fingerprint"), tokenizer.fingerprint());
  EXPECT_LT(f.run.final_metrics.at(metric_key::kTeacherPerplexity), 0.5 * tokenizer.vocabSize());
  const auto samples = evalTexts(dir.path(), f.run.id);
  ASSERT_FALSE(samples.empty());
  for (const auto& sample : samples) EXPECT_EQ(sample.prompt.rfind(" the ", 0), 0u) << sample.prompt;
}

TEST(LmTokenizerRun, ATeacherRunTokenizedOtherwiseIsRefused) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto folder = writeSentencePiece(dir.path() / "sp", corpus);
  const auto first = runLm(dir.path(), lmConfig(corpus, {"teacher.epochs=1", "train.epochs=1", "generation.eval_prompts=0"}));
  ASSERT_EQ(first.result.outcome, RunOutcome::Completed) << first.result.error;
  TrainingObserver observer;
  RunControl control;
  const auto config = lmConfig(corpus, {"lm.tokenizer=hf:" + folder, "teacher.source=run:" + std::to_string(first.run.id)});
  try {
    ExperimentRunner runner(config, (dir.path() / "lm.db").string(), observer, control);
    FAIL() << "a byte-tokenized teacher was accepted for a SentencePiece run";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("teacher.source"), std::string::npos) << message;
    EXPECT_NE(message.find("lm.tokenizer byte"), std::string::npos) << message;
    EXPECT_NE(message.find("SentencePiece from"), std::string::npos) << message;
  }
}

TEST(LmTokenizerRun, ATorchScriptTeacherOfAnotherSentencePieceModelIsRefused) {
  REQUIRE_SENTENCEPIECE();
  TempDir dir;
  const auto corpus = writeCorpus(dir.path() / "corpus");
  const auto mine = Tokenizer::build("hf:" + writeSentencePiece(dir.path() / "mine", corpus), Documents{});
  // Another model of the same size: pieces learned from other text.
  std::string other_text;
  for (int i = 0; i < 200; ++i) other_text += "a different corpus of words, number " + std::to_string(i) + ".\n";
  fs::create_directories(dir.path() / "other");
  std::ofstream(dir.path() / "other" / "tokenizer.model", std::ios::binary)
      << testing::trainSentencePiece(other_text, static_cast<int>(mine.vocabSize()));
  const auto other = Tokenizer::build("hf:" + (dir.path() / "other").string(), Documents{});
  ASSERT_EQ(other.vocabSize(), mine.vocabSize()) << "the test needs two models of one size";
  ASSERT_NE(other.fingerprint(), mine.fingerprint());

  const auto config = lmConfig(corpus);
  Gpt gpt(lmGptConfig(config.teacher.model, "train", "teacher", config.lm, other));
  exportTorchScript(*gpt, other, dir.file("teacher.pt"));
  try {
    loadTorchScriptTeacher("torchscript:" + dir.file("teacher.pt"), mine, config.lm.context);
    FAIL() << "a teacher of another tokenizer was accepted";
  } catch (const ModelError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("exported with another tokenizer"), std::string::npos) << message;
    EXPECT_NE(message.find(other.fingerprint()), std::string::npos) << message;
    EXPECT_NE(message.find(mine.fingerprint()), std::string::npos) << message;
  }
  // Its own tokenizer loads it.
  EXPECT_NO_THROW(loadTorchScriptTeacher("torchscript:" + dir.file("teacher.pt"), other, config.lm.context));
}

}  // namespace
}  // namespace distill
