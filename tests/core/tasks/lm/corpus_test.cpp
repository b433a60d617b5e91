// The language-model task's text: documents, the whole-document split, tokenizers, blocks,
// JSON Lines and instruction masks, and the bad-input messages (each names the file or key).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/metrics/metric_keys.h"
#include "core/store/run_store.h"
#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/lm_metrics.h"
#include "core/tasks/lm/lm_task.h"
#include "core/train/experiment_runner.h"
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
  EXPECT_FALSE(blocks.mask.defined());  // plain text: every target counts
  EXPECT_TRUE(torch::equal(packBlocks(docs, tokenizer, 4, 0, "test").inputs, blocks.inputs));
  EXPECT_FALSE(packBlocks(docs, tokenizer, 4, 0, "test").mask.defined());
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

std::string message(const std::function<void()>& call) {
  try {
    call();
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(LmCorpus, JsonLinesDocumentsAreTheirTextField) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "j");
  write(dir.path() / "j" / "a.jsonl",
        "{\"text\": \"first line\\nsecond line\\n\\n\", \"id\": 1}\n"
        "\n"
        "   \r\n"
        "{\"text\": \"caf\\u00e9\"}\r\n"
        "{\"text\": \"  \"}\n");  // an empty text is skipped, as an empty fortune is
  write(dir.path() / "j" / "b.jsonl", "{\"body\": \"other field\", \"text\": \"ignored\"}\n");
  const Documents docs = readDocuments((dir.path() / "j" / "a.jsonl").string());
  ASSERT_EQ(docs.texts.size(), 2u);
  EXPECT_EQ(docs.texts[0], "first line\nsecond line\n");  // one newline at the end, as every document
  EXPECT_EQ(docs.texts[1], "caf\xc3\xa9\n");
  EXPECT_TRUE(docs.prompt_bytes.empty());
  EXPECT_TRUE(prompts(docs).empty());
  // A folder of .jsonl files; the text field named by lm.text_field.
  JsonFields body;
  body.text = "body";
  EXPECT_THROW(readDocuments((dir.path() / "j").string(), body), DataError);  // a.jsonl has no 'body'
  std::filesystem::remove(dir.path() / "j" / "a.jsonl");
  const Documents folder = readDocuments((dir.path() / "j").string(), body);
  ASSERT_EQ(folder.texts.size(), 1u);
  EXPECT_EQ(folder.texts[0], "other field\n");
}

// {"prompt": "ab", "response": "xy"}, {"text": "pq"}, {"prompt": "c", "response": "z"}: the stream
//   a b \n x y \n | p q \n | c \n z \n |     (| the separator)
// with the prompt parts "ab\n" and "c\n" not counted as targets.
TEST(LmCorpus, InstructionTargetsCountOnlyInTheResponse) {
  TempDir dir;
  write(dir.path() / "chat.jsonl",
        "{\"prompt\": \"ab\", \"response\": \"xy\"}\n"
        "{\"text\": \"pq\"}\n"
        "{\"prompt\": \"c\", \"response\": \"z\", \"text\": \"prompt and response win\"}\n");
  const Documents docs = readDocuments((dir.path() / "chat.jsonl").string());
  ASSERT_EQ(docs.texts, (std::vector<std::string>{"ab\nxy\n", "pq\n", "c\nz\n"}));
  EXPECT_EQ(docs.prompt_bytes, (std::vector<size_t>{3, 0, 2}));
  EXPECT_EQ(prompts(docs), (std::vector<std::string>{"ab\n", "c\n"}));
  const auto bytes = Tokenizer::build("byte", docs);
  // 16 tokens, blocks of 4 + 1: 3 blocks, targets stream[1..4], [5..8], [9..12].
  const auto blocks = packBlocks(docs, bytes, /*context=*/4, /*limit=*/0, "chat.jsonl");
  ASSERT_TRUE(blocks.mask.defined());
  ASSERT_EQ(blocks.mask.sizes(), blocks.targets.sizes());
  EXPECT_EQ(blocks.mask.scalar_type(), torch::kBool);
  const auto expected = torch::tensor({{0, 0, 1, 1},    // b \n | x y
                                       {1, 1, 1, 1},    // \n | p q
                                       {1, 1, 0, 0}})   // \n | c \n
                            .to(torch::kBool);
  EXPECT_TRUE(torch::equal(blocks.mask, expected)) << blocks.mask;
  // Every target left out is a byte of a prompt part.
  const auto left_out = blocks.targets.masked_select(blocks.mask.logical_not());
  for (int64_t i = 0; i < left_out.numel(); ++i)
    EXPECT_NE(std::string("ab\nc").find(static_cast<char>(left_out[i].item<int64_t>())), std::string::npos);
  // The packing itself is the plain packing of the same texts: the mask is all that differs.
  EXPECT_TRUE(torch::equal(blocks.inputs, packBlocks(docs.texts, bytes, 4, 0, "x").inputs));

  // Char tokens: the prompt's characters, not its bytes ("é" is two bytes, one character).
  write(dir.path() / "accents.jsonl", "{\"prompt\": \"\u00e9\u00e9\", \"response\": \"\u00fc\"}\n");
  const Documents accents = readDocuments((dir.path() / "accents.jsonl").string());
  EXPECT_EQ(accents.prompt_bytes, (std::vector<size_t>{5}));  // two 2-byte characters and the newline
  const auto chars = Tokenizer::build("char", accents);
  // é é \n ü \n | : 6 tokens, one block of 5 + 1; targets é \n ü \n |.
  const auto char_blocks = packBlocks(accents, chars, /*context=*/5, 0, "accents.jsonl");
  EXPECT_TRUE(torch::equal(char_blocks.mask, torch::tensor({{0, 0, 1, 1, 1}}).to(torch::kBool))) << char_blocks.mask;
}

TEST(LmCorpus, TheSplitKeepsPromptLengths) {
  Documents docs;
  for (int i = 0; i < 20; ++i) {
    const std::string prompt = "q" + std::to_string(i) + "\n";
    docs.texts.push_back(prompt + "a\n");
    docs.prompt_bytes.push_back(i == 4 || i == 19 ? 0 : prompt.size());  // two plain documents
  }
  const DocumentSplit split = splitDocuments(docs);
  ASSERT_EQ(split.validation.texts, (std::vector<std::string>{"q9\na\n", "q19\na\n"}));
  EXPECT_EQ(split.validation.prompt_bytes, (std::vector<size_t>{3, 0}));
  EXPECT_EQ(prompts(split.validation), (std::vector<std::string>{"q9\n"}));
  ASSERT_EQ(split.train.texts.size(), 18u);
  ASSERT_EQ(split.train.prompt_bytes.size(), 18u);
  EXPECT_EQ(split.train.prompt_bytes[4], 0u);  // q4
  EXPECT_EQ(split.train.prompt_bytes[9], 4u);  // q10: q9 went to validation
  EXPECT_EQ(prompts(split.train).size(), 17u);
  EXPECT_EQ(prompts(split.train).front(), "q0\n");
  EXPECT_EQ(prompts(split.train).back(), "q18\n");
  // Plain documents stay plain through the split.
  Documents plain;
  plain.texts.assign(10, "x\n");
  EXPECT_TRUE(splitDocuments(plain).train.prompt_bytes.empty());
}

TEST(LmCorpus, APromptLongerThanABlockLeavesNoBlockOfPromptOnly) {
  Documents docs;
  // A 37-byte prompt part, then "ok\n" and the separator: 41 tokens, 10 blocks of 4 + 1, of
  // which only the last has targets outside the prompt (stream[37..40]: o, k, \n, separator).
  docs.texts = {std::string(36, 'p') + "\nok\n"};
  docs.prompt_bytes = {37};
  const auto tokenizer = Tokenizer::build("byte", docs);
  const auto blocks = packBlocks(docs, tokenizer, /*context=*/4, 0, "long.jsonl");
  ASSERT_EQ(blocks.inputs.size(0), 1);
  EXPECT_EQ(blocks.mask.sum().item<int64_t>(), 4);
  EXPECT_EQ(blocks.targets[0][0].item<int64_t>(), 'o');
  // With no counted target in any whole block (the response falls in the dropped tail): an
  // error naming what was packed.
  docs.texts = {std::string(45, 'p') + "\n\n"};  // 46 + 1 + separator = 48 tokens, 11 blocks
  docs.prompt_bytes = {46};
  const auto all_prompt = message([&] { packBlocks(docs, tokenizer, 4, 0, "long.jsonl (training documents)"); });
  EXPECT_NE(all_prompt.find("long.jsonl (training documents): every target"), std::string::npos) << all_prompt;
  EXPECT_NE(all_prompt.find("inside a prompt"), std::string::npos) << all_prompt;
}

TEST(LmCorpus, BadJsonLinesNameTheFileTheLineAndWhatWasExpected) {
  TempDir dir;
  auto errorOf = [&](const std::string& lines) {
    write(dir.path() / "bad.jsonl", "{\"text\": \"fine\"}\n\n" + lines + "\n");  // the bad line is line 3
    return message([&] { readDocuments((dir.path() / "bad.jsonl").string()); });
  };
  const auto not_json = errorOf("{\"text\": oops}");
  EXPECT_NE(not_json.find("bad.jsonl: line 3: not JSON (column"), std::string::npos) << not_json;
  EXPECT_NE(not_json.find("expected one JSON object a line"), std::string::npos) << not_json;
  EXPECT_EQ(not_json.find("json.exception"), std::string::npos) << not_json;
  const auto array = errorOf("[\"text\"]");
  EXPECT_NE(array.find("line 3: a JSON array, expected an object with a string field 'text'"), std::string::npos)
      << array;
  const auto missing = errorOf("{\"prompt\": \"only a prompt\"}");
  EXPECT_NE(missing.find("line 3: no field 'text' (nor 'prompt' and 'response'); expected"), std::string::npos)
      << missing;
  EXPECT_NE(missing.find("lm.text_field"), std::string::npos) << missing;
  const auto number = errorOf("{\"text\": 42}");
  EXPECT_NE(number.find("line 3: field 'text' is a number, expected a string"), std::string::npos) << number;
  const auto response = errorOf("{\"prompt\": \"q\", \"response\": null}");
  EXPECT_NE(response.find("line 3: field 'response' is a null, expected a string"), std::string::npos) << response;
  // JSON is UTF-8: a Latin-1 byte in a line is not JSON.
  const auto latin1 = errorOf("{\"text\": \"caf\xe9\"}");
  EXPECT_NE(latin1.find("line 3: not JSON"), std::string::npos) << latin1;
  // Only empty lines: an empty corpus.
  write(dir.path() / "blank.jsonl", "\n  \n\n");
  EXPECT_NE(message([&] { readDocuments((dir.path() / "blank.jsonl").string()); }).find("the corpus is empty"),
            std::string::npos);
}

TEST(LmCorpus, ANonUtf8FileInAFolderIsNamed) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "c");
  write(dir.path() / "c" / "a.txt", "fine\n\nalso fine\n");
  write(dir.path() / "c" / "b.txt", "ok\n\ncaf\xe9\n");
  const auto docs = readDocuments((dir.path() / "c").string());
  const auto not_utf8 = message([&] { Tokenizer::build("char", docs); });
  EXPECT_NE(not_utf8.find("b.txt: document 2 is not valid UTF-8"), std::string::npos) << not_utf8;
}

TEST(LmCorpus, JsonFieldKeysAreReadAndAnEmptyNameIsRefused) {
  const std::vector<std::string> lm = {"task=lm", "teacher.arch=gpt", "student.arch=gpt"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), lm.begin(), lm.end());
    return more;
  };
  const auto config = parseConfigWithOverrides(
      "", with({"lm.text_field=body", "lm.prompt_field=question", "lm.response_field=answer"}), "test");
  EXPECT_EQ(config.lm.text_field, "body");
  EXPECT_EQ(config.lm.prompt_field, "question");
  EXPECT_EQ(config.lm.response_field, "answer");
  EXPECT_EQ(defaultConfig().lm.text_field, "text");
  try {
    parseConfigWithOverrides("", with({"lm.prompt_field=''"}), "test");
    FAIL() << "an empty field name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().front().key, "lm.prompt_field");
  }
}

// An instruction corpus through the trainer: the batches carry the mask, the run completes.
TEST(LmCorpus, AnInstructionCorpusTrainsThroughTheTrainer) {
  TempDir dir;
  {
    std::ofstream out(dir.path() / "chat.jsonl");
    const char* animals[] = {"cat", "dog", "owl", "fox"};
    const char* places[] = {"mat", "log", "hill", "barn"};
    for (int i = 0; i < 60; ++i)
      out << "{\"question\": \"" << animals[i % 4] << "?\", \"answer\": \"on the " << places[(i / 4) % 4] << ".\"}\n";
  }
  const auto config = parseConfigWithOverrides(
      "",
      {"task=lm", "lm.corpus=" + (dir.path() / "chat.jsonl").string(), "lm.prompt_field=question",
       "lm.response_field=answer", "lm.context=16", "teacher.arch=gpt", "teacher.layers=1", "teacher.heads=2",
       "teacher.d_model=32", "teacher.dropout=0", "teacher.epochs=2", "student.arch=gpt", "student.layers=1",
       "student.heads=2", "student.d_model=32", "train.epochs=2", "train.batch_size=8", "train.optimizer=adamw",
       "train.lr=0.01", "train.log_every=5", "seed=1"},
      "instruction test");
  LmTask task(config);
  const Batch probe = task.probeBatch();
  ASSERT_TRUE(probe.mask.defined());
  EXPECT_EQ(probe.units, probe.mask.sum().item<int64_t>());
  EXPECT_LT(probe.units, probe.targets.numel());  // prompts do not count

  // The validation loss is the mean over the response targets alone.
  torch::manual_seed(0);
  const Model teacher = task.buildTeacher(config);
  task.prepare(torch::kCPU);
  const MetricValues values = task.evaluator()->evaluateTeacher(*teacher);
  const auto loss = std::find_if(values.begin(), values.end(),
                                 [](const auto& kv) { return kv.first == metric_key::kTeacherValLoss; });
  ASSERT_NE(loss, values.end());
  const Documents all = readDocuments(config.lm.corpus, {"text", "question", "answer"});
  const auto validation = packBlocks(splitDocuments(all).validation, task.tokenizer(), 16, 0, "validation");
  ASSERT_TRUE(validation.mask.defined());
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    teacher->eval();
    logits = teacher->forward(validation.inputs);
  }
  const auto kept = validation.mask;
  const double expected =
      torch::nn::functional::cross_entropy(logits.index({kept}), validation.targets.index({kept})).item<double>();
  const double all_positions =
      torch::nn::functional::cross_entropy(logits.flatten(0, 1), validation.targets.flatten()).item<double>();
  EXPECT_NEAR(loss->second, expected, 1e-4);
  EXPECT_GT(std::abs(loss->second - all_positions), 1e-3);  // the prompts would have changed it

  TrainingObserver observer;
  RunControl control;
  ExperimentRunner runner(config, (dir.path() / "lm.db").string(), observer, control);
  const int64_t id = runner.createRun();
  const RunResult result = runner.run();
  ASSERT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  const auto run = RunStore((dir.path() / "lm.db").string()).getRun(id);
  ASSERT_TRUE(run.has_value());
  const auto& m = run->final_metrics;
  EXPECT_TRUE(std::isfinite(m.at(metric_key::kTeacherPerplexity)));
  EXPECT_TRUE(std::isfinite(m.at(metric_key::kStudentPerplexity)));
  EXPECT_TRUE(std::isfinite(m.at(metric_key::kKdLoss)));
  EXPECT_EQ(run->environment.at("corpus_documents"), "60");
}

}  // namespace
}  // namespace distill
