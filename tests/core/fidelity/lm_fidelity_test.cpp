// The language-model fidelity sums on hand-built teacher/student pairs whose agreement, KL,
// accuracy, calibration and buckets are worked out by hand, and on random ones against the
// streaming evaluation's sums (core/metrics/streaming.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "core/fidelity/lm_fidelity.h"
#include "core/metrics/streaming.h"

namespace distill {
namespace {

// Logits [1, T, V] whose softmax is exactly `probs` (one row per position).
torch::Tensor logitsOf(const std::vector<std::vector<double>>& probs) {
  std::vector<torch::Tensor> rows;
  for (const auto& row : probs) rows.push_back(torch::tensor(row, torch::kFloat64).log());
  return torch::stack(rows).unsqueeze(0).to(torch::kFloat32);
}

torch::Tensor tokens(const std::vector<int64_t>& ids) { return torch::tensor(ids, torch::kInt64).unsqueeze(0); }

// Vocabulary of 4: the separator, then a, b, c.
Tokenizer abc() {
  Documents documents;
  documents.texts = {"abc"};
  return Tokenizer::build("char", documents);
}

// Training counts: the separator never, a 90%, b 9.5%, c 0.5%.
FrequencyBuckets abcFrequencies() { return frequencyBuckets({0, 900, 95, 5}); }

// Four positions (the context); the student disagrees at position 1 only.
//   0: both 0.65 on token 0, target 0 (both right)
//   1: teacher 0.65 on 1, student 0.65 on 2, target 1 (teacher right): KL 0.55 ln 6.5
//   2: both 0.35 on 0 (different tails), target 3 (both wrong): KL 0.1 ln(5/3)
//   3: both 0.65 on 3, target 3 (both right)
struct HandBuilt {
  torch::Tensor teacher = logitsOf({{0.65, 0.15, 0.1, 0.1}, {0.15, 0.65, 0.1, 0.1}, {0.35, 0.25, 0.25, 0.15}, {0.1, 0.1, 0.15, 0.65}});
  torch::Tensor student = logitsOf({{0.65, 0.15, 0.1, 0.1}, {0.15, 0.1, 0.65, 0.1}, {0.35, 0.25, 0.15, 0.25}, {0.1, 0.1, 0.15, 0.65}});
  torch::Tensor inputs = tokens({1, 2, 3, 1});
  torch::Tensor targets = tokens({0, 1, 3, 3});
};

TEST(LmFidelity, HandBuiltPairGivesTheNumbersWorkedOutByHand) {
  const HandBuilt h;
  LmFidelitySums sums(/*context=*/4, abcFrequencies(), /*keep=*/10);
  sums.add(h.teacher, h.student, h.inputs, h.targets, {}, {7});
  const LmFidelityAnalysis a = sums.result(abc());

  const double kl1 = 0.55 * std::log(6.5), kl2 = 0.1 * std::log(5.0 / 3.0);
  EXPECT_EQ(a.tokens, 4);
  EXPECT_EQ(a.vocab, 4);
  EXPECT_DOUBLE_EQ(a.agreement, 0.75);
  EXPECT_NEAR(a.kl, (kl1 + kl2) / 4, 1e-6);
  EXPECT_DOUBLE_EQ(a.teacher_acc, 0.75);
  EXPECT_DOUBLE_EQ(a.student_acc, 0.5);
  EXPECT_NEAR(a.teacher_ce, -(std::log(0.65) * 2 + std::log(0.15) + std::log(0.65)) / 4, 1e-6);
  EXPECT_NEAR(a.student_ce, -(std::log(0.65) + std::log(0.1) + std::log(0.25) + std::log(0.65)) / 4, 1e-6);
  EXPECT_DOUBLE_EQ(a.top5_overlap, 1.0);  // k is the vocabulary of 4: every token is in both

  // One position per bucket at a context of 4.
  ASSERT_EQ(a.by_position.size(), 4u);
  const double position_agreement[] = {1, 0, 1, 1};
  const double position_kl[] = {0, kl1, kl2, 0};
  for (size_t p = 0; p < 4; ++p) {
    EXPECT_EQ(a.by_position[p].label, std::to_string(p));
    EXPECT_EQ(a.by_position[p].count, 1);
    EXPECT_DOUBLE_EQ(a.by_position[p].agreement, position_agreement[p]) << p;
    EXPECT_NEAR(a.by_position[p].kl, position_kl[p], 1e-6) << p;
  }

  // The teacher is 0.65 sure three times (one disagreement) and 0.35 once.
  ASSERT_EQ(a.by_confidence.size(), 10u);
  EXPECT_EQ(a.by_confidence[6].label, "0.6-0.7");
  EXPECT_EQ(a.by_confidence[6].count, 3);
  EXPECT_NEAR(a.by_confidence[6].agreement, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(a.by_confidence[6].kl, kl1 / 3, 1e-6);
  EXPECT_EQ(a.by_confidence[3].count, 1);
  EXPECT_DOUBLE_EQ(a.by_confidence[3].agreement, 1.0);
  EXPECT_EQ(a.by_confidence[9].count, 0);

  // Targets a (90%: >= 10%), c twice (0.5%: 0.1-1%), the separator (never in training).
  ASSERT_EQ(a.by_frequency.size(), 3u);
  EXPECT_EQ(a.by_frequency[0].label, ">=10%");
  EXPECT_EQ(a.by_frequency[0].count, 1);
  EXPECT_DOUBLE_EQ(a.by_frequency[0].agreement, 0.0);
  EXPECT_EQ(a.by_frequency[0].token_types, 1);
  EXPECT_EQ(a.by_frequency[1].label, "0.1%-1%");
  EXPECT_EQ(a.by_frequency[1].count, 2);
  EXPECT_DOUBLE_EQ(a.by_frequency[1].agreement, 1.0);
  EXPECT_DOUBLE_EQ(a.by_frequency[1].teacher_acc, 0.5);
  EXPECT_EQ(a.by_frequency[2].label, "unseen");
  EXPECT_EQ(a.by_frequency[2].count, 1);

  // Reliability: the teacher is right 3 of 3 times at 0.65 and wrong at 0.35; the student 2 of 3.
  ASSERT_EQ(a.teacher_calibration.bins.size(), 10u);
  EXPECT_EQ(a.teacher_calibration.bins[6].count, 3);
  EXPECT_NEAR(a.teacher_calibration.bins[6].mean_confidence, 0.65, 1e-6);
  EXPECT_DOUBLE_EQ(a.teacher_calibration.bins[6].accuracy, 1.0);
  EXPECT_NEAR(a.teacher_calibration.ece, (3 * 0.35 + 0.35) / 4, 1e-6);
  EXPECT_NEAR(a.student_calibration.bins[6].accuracy, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(a.student_calibration.ece, (0.05 + 0.35) / 4, 1e-6);

  // The one disagreement, with its text and both top tokens.
  EXPECT_EQ(a.disagreement_count, 1);
  ASSERT_EQ(a.disagreements.size(), 1u);
  const LmDisagreement& d = a.disagreements[0];
  EXPECT_EQ(d.block, 7);
  EXPECT_EQ(d.position, 1);
  EXPECT_NEAR(d.kl, kl1, 1e-6);
  EXPECT_NEAR(d.teacher_confidence, 0.65, 1e-6);
  EXPECT_EQ(d.before, "ab");  // the inputs up to the position
  EXPECT_EQ(d.token, "a");    // the true next token
  EXPECT_EQ(d.after, "cc");   // the targets after it
  ASSERT_EQ(d.teacher_top.size(), 4u);
  EXPECT_EQ(d.teacher_top[0].token, 1);
  EXPECT_EQ(d.teacher_top[0].text, "a");
  EXPECT_NEAR(d.teacher_top[0].probability, 0.65, 1e-6);
  EXPECT_EQ(d.student_top[0].text, "b");
  EXPECT_NEAR(d.student_top[1].probability, 0.15, 1e-6);
}

TEST(LmFidelity, MaskedPositionsDoNotCount) {
  const HandBuilt h;
  LmFidelitySums sums(4, abcFrequencies(), 10);
  sums.add(h.teacher, h.student, h.inputs, h.targets, torch::tensor({{true, false, true, true}}));
  const auto a = sums.result(abc());
  EXPECT_EQ(a.tokens, 3);
  EXPECT_DOUBLE_EQ(a.agreement, 1.0);
  EXPECT_EQ(a.disagreement_count, 0);
  EXPECT_TRUE(a.disagreements.empty());
  EXPECT_EQ(a.by_position[1].count, 0);
}

TEST(LmFidelity, ChunksAddUpToTheWholeAndMatchTheEvaluationSums) {
  torch::manual_seed(5);
  const int64_t blocks = 6, context = 8, vocab = 4;
  const auto teacher = 2 * torch::randn({blocks, context, vocab});
  const auto student = teacher + torch::randn({blocks, context, vocab});
  const auto inputs = torch::randint(0, vocab, {blocks, context});
  const auto targets = torch::randint(0, vocab, {blocks, context});
  LmFidelitySums whole(context, abcFrequencies(), 5), chunked(context, abcFrequencies(), 5);
  whole.add(teacher, student, inputs, targets, {});
  chunked.add(teacher.slice(0, 0, 2), student.slice(0, 0, 2), inputs.slice(0, 0, 2), targets.slice(0, 0, 2), {});
  chunked.add(teacher.slice(0, 2), student.slice(0, 2), inputs.slice(0, 2), targets.slice(0, 2), {});
  const auto a = whole.result(abc()), b = chunked.result(abc());

  AgreementSums agreement(/*top_k=*/4);
  agreement.add(teacher, student);
  PredictionSums teacher_sums(10), student_sums(10);
  teacher_sums.add(teacher, targets);
  student_sums.add(student, targets);
  for (const auto* x : {&a, &b}) {
    EXPECT_EQ(x->tokens, blocks * context);
    EXPECT_NEAR(x->agreement, agreement.agreement(), 1e-12);
    EXPECT_NEAR(x->kl, agreement.kl(), 1e-5);
    EXPECT_NEAR(x->top5_overlap, agreement.topKOverlap(), 1e-12);
    EXPECT_NEAR(x->teacher_acc, teacher_sums.accuracy(), 1e-12);
    EXPECT_NEAR(x->student_ce, student_sums.crossEntropy(), 1e-5);
    EXPECT_NEAR(x->teacher_calibration.ece, teacher_sums.calibrationError(), 1e-5);
    EXPECT_NEAR(x->student_calibration.ece, student_sums.calibrationError(), 1e-5);
  }
  // Eight positions, eight buckets; every position counted once in each bucketing.
  int64_t by_position = 0, by_confidence = 0, by_frequency = 0;
  for (const auto& bucket : a.by_position) by_position += bucket.count;
  for (const auto& bucket : a.by_confidence) by_confidence += bucket.count;
  for (const auto& bucket : a.by_frequency) by_frequency += bucket.count;
  EXPECT_EQ(by_position, blocks * context);
  EXPECT_EQ(by_confidence, blocks * context);
  EXPECT_EQ(by_frequency, blocks * context);

  // The five largest KL of all disagreements, largest first, whichever way they were added;
  // blocks numbered on across chunks.
  EXPECT_EQ(a.disagreement_count, b.disagreement_count);
  ASSERT_EQ(a.disagreements.size(), 5u);
  ASSERT_EQ(b.disagreements.size(), 5u);
  const auto log_p = torch::log_softmax(teacher, -1), log_q = torch::log_softmax(student, -1);
  const auto kl = (log_p.exp() * (log_p - log_q)).sum(-1);
  const auto disagree = teacher.argmax(-1).ne(student.argmax(-1));
  const auto largest = std::get<0>(kl.masked_select(disagree).topk(5));
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(a.disagreements[i].kl, largest[static_cast<int64_t>(i)].item<double>(), 1e-5);
    EXPECT_EQ(a.disagreements[i].block, b.disagreements[i].block);
    EXPECT_EQ(a.disagreements[i].position, b.disagreements[i].position);
    const int64_t block = a.disagreements[i].block, position = a.disagreements[i].position;
    EXPECT_NEAR(kl[block][position].item<double>(), a.disagreements[i].kl, 1e-5);
    EXPECT_NE(a.disagreements[i].teacher_top[0].token, a.disagreements[i].student_top[0].token);
  }
}

TEST(LmFidelity, ShapesThatDoNotFitAreRefusedByName) {
  LmFidelitySums sums(4, abcFrequencies(), 3);
  const auto logits = torch::zeros({1, 4, 4});
  try {
    sums.add(logits, torch::zeros({1, 4, 5}), tokens({1, 1, 1, 1}), tokens({1, 1, 1, 1}), {});
    FAIL() << "student logits of another vocabulary were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("student logits [1, 4, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sums.add(logits, logits, tokens({1, 1}), tokens({1, 1, 1, 1}), {}), std::invalid_argument);
  EXPECT_THROW(sums.add(torch::zeros({1, 5, 4}), torch::zeros({1, 5, 4}), torch::ones({1, 5}, torch::kInt64),
                        torch::ones({1, 5}, torch::kInt64), {}),
               std::invalid_argument);  // longer than the context
  EXPECT_THROW(sums.add(torch::zeros({1, 4, 3}), torch::zeros({1, 4, 3}), tokens({1, 1, 1, 1}), tokens({1, 1, 1, 1}), {}),
               std::invalid_argument);  // the frequencies cover 4 tokens
}

// Logits of 6 rows over the 4 ids of abc(): rows 4 and 5 are padding (a Hugging Face model's
// vocab_size beyond its tokenizer's). Everything is computed over the 6 rows, as the run's
// evaluation computes it (AgreementSums); the teacher ranks padding row 5 first at position 1,
// a disagreement whose top tokens show it as "<padding 5>", never as text; a target beyond the
// tokenizer's ids is refused naming the targets.
TEST(LmFidelity, APaddedVocabularyIsAnalysedOverEveryRowAndPaddingIsNoToken) {
  torch::manual_seed(11);
  const int64_t blocks = 3, context = 4, vocab = 6;
  auto teacher = torch::randn({blocks, context, vocab});
  teacher.index_put_({0, 1, 5}, 8.0);  // padding row 5 the teacher's arg-max
  auto student = teacher + torch::randn({blocks, context, vocab});
  student.index_put_({0, 1, 5}, -8.0);
  const auto inputs = torch::randint(0, 4, {blocks, context});
  const auto targets = torch::randint(0, 4, {blocks, context});
  LmFidelitySums sums(context, abcFrequencies(), /*keep=*/20);
  sums.add(teacher, student, inputs, targets, {});
  const auto a = sums.result(abc());
  EXPECT_EQ(a.vocab, 6);
  EXPECT_EQ(a.tokenizer_vocab, 4);
  AgreementSums agreement(/*top_k=*/5);
  agreement.add(teacher, student);
  EXPECT_NEAR(a.agreement, agreement.agreement(), 1e-12);
  EXPECT_NEAR(a.kl, agreement.kl(), 1e-5);
  EXPECT_NEAR(a.top5_overlap, agreement.topKOverlap(), 1e-12);

  bool found = false;
  int padding_shown = 0;
  for (const auto& d : a.disagreements) {
    if (d.block == 0 && d.position == 1) {
      found = true;
      EXPECT_EQ(d.teacher_top[0].token, 5);
      EXPECT_EQ(d.teacher_top[0].text, "<padding 5>");
    }
    for (const auto* top : {&d.teacher_top, &d.student_top})
      for (const auto& entry : *top) {
        if (entry.token < 4) {
          EXPECT_EQ(entry.text.find("<padding"), std::string::npos) << entry.token;
        } else {
          EXPECT_EQ(entry.text, "<padding " + std::to_string(entry.token) + ">");
          ++padding_shown;
        }
      }
  }
  EXPECT_TRUE(found);
  EXPECT_GT(padding_shown, 1);
  EXPECT_EQ(displayTokenText(abc(), 4), "<padding 4>");

  try {
    sums.add(teacher, student, inputs, torch::full({blocks, context}, 4, torch::kInt64), {});
    FAIL() << "a target beyond the tokenizer's ids was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("targets hold ids 4..4, beyond the 4 tokens"), std::string::npos) << e.what();
  }
}

TEST(LmFidelity, FrequencyBucketsAreDecadesOfTheTrainingShare) {
  // 10,000,000 tokens: shares 0.5, 0.05, 0.005, 5e-4, 5e-5, 5e-6, 5e-7, 0, 0.44.
  const auto f = frequencyBuckets({5000000, 500000, 50000, 5000, 500, 50, 5, 0, 4444445});
  EXPECT_EQ(f.total, 10000000);
  EXPECT_EQ(f.bucket_of_token, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 0}));
  ASSERT_EQ(f.buckets.size(), 8u);
  const char* labels[] = {">=10%", "1%-10%", "0.1%-1%", "0.01%-0.1%", "0.001%-0.01%", "0.0001%-0.001%", "<0.0001%", "unseen"};
  for (size_t b = 0; b < 8; ++b) EXPECT_EQ(f.buckets[b].label, labels[b]);
  EXPECT_EQ(f.buckets[0].token_types, 2);
  EXPECT_EQ(f.buckets[7].token_types, 1);
}

TEST(LmFidelity, TokensAreShownVisibly) {
  const Tokenizer bytes = Tokenizer::build("byte", {});
  EXPECT_EQ(displayTokenText(bytes, 'a'), "a");
  EXPECT_EQ(displayTokenText(bytes, ' '), "\xE2\x90\xA3");
  EXPECT_EQ(displayTokenText(bytes, '\n'), "\xE2\x86\xB5");
  EXPECT_EQ(displayTokenText(bytes, 0), "<sep>");
  EXPECT_EQ(displayTokenText(bytes, 0xE2), "<0xE2>");
  EXPECT_EQ(displayTokenText(bytes, 7), "\\x07");
  EXPECT_EQ(tokenCounts({"aa", "b"}, bytes)['a'], 2);
  EXPECT_EQ(tokenCounts({"aa", "b"}, bytes)[0], 2);  // a separator after each document
}

// A model's tokenizer separates documents with its end-of-text token, not id 0: the counts and
// the display follow it.
TEST(LmFidelity, AModelTokenizersSeparatorIsItsEndOfText) {
  const std::string folder = std::string(DISTILL_SOURCE_DIR) + "/tests/core/text/bpe/data/llama3-style";
  const Tokenizer bpe = Tokenizer::build("hf:" + folder, {});
  ASSERT_EQ(bpe.separator(), 301);  // <|end_of_text|>
  const auto counts = tokenCounts({"aa", "b"}, bpe);
  EXPECT_EQ(counts[301], 2);  // one after each document
  EXPECT_EQ(counts[0], static_cast<int64_t>(0)) << "id 0 is an ordinary token here";
  EXPECT_EQ(displayTokenText(bpe, 301), "<sep>");
  EXPECT_NE(displayTokenText(bpe, 0), "<sep>");
}

}  // namespace
}  // namespace distill
