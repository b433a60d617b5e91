// Where a language-model student differs from its teacher, token by token, as plain values (no
// torch types), so that the window and the CLI hold and show it without LibTorch in their
// headers. Computed by LmFidelitySums (core/fidelity/lm_fidelity.h) over a run's validation
// blocks; the language-model counterpart of FidelityAnalysis (fidelity_report.h).
//
// Every number is over the positions that count (a prompt's targets in instruction data do
// not), with probabilities at T = 1: agreement is the teacher's and the student's arg-max
// being the same token, KL is KL(teacher || student) in nats, accuracy is the arg-max being
// the true next token.
//
// Thread contract: plain values; copy or move them between threads freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/fidelity/fidelity_report.h"

namespace distill {

// The language-model view's reliability diagrams use ten equal-width bins (tenths of the
// top-1 probability), as do the teacher-confidence buckets.
constexpr int kLmCalibrationBins = 10;
// Position buckets: at most this many equal ranges over positions 0 .. context - 1.
constexpr int kLmPositionBuckets = 16;
// Tokens before and after the highlighted one in a disagreement's text.
constexpr int kLmContextBefore = 64;
constexpr int kLmContextAfter = 16;
// Top tokens of each model listed for a disagreement.
constexpr int kLmTopTokens = 5;

// One group of positions: a range of positions in the context, of the teacher's confidence or
// of the true next token's training frequency.
struct LmBucket {
  std::string label;   // "0-7", "0.9-1.0", "1-10%"
  double lower = 0.0;  // the range [lower, upper) in the bucketing's own unit (positions,
  double upper = 0.0;  // probability, or share of the training tokens)
  int64_t count = 0;   // validation positions in it
  double agreement = 0.0;  // 0 when empty, as every mean here
  double kl = 0.0;
  double teacher_acc = 0.0;
  double student_acc = 0.0;
  int64_t token_types = 0;  // frequency buckets: vocabulary entries whose training share falls in it
};

// One of a model's most probable next tokens.
struct TokenProbability {
  int64_t token = 0;
  std::string text;  // displayTokenText(): visible even for a space, a newline or a lone byte
  double probability = 0.0;
};

// A position where the two arg-max tokens differ, among the largest KL of the validation text.
struct LmDisagreement {
  int64_t block = 0;     // the validation block (of all the run's validation blocks)
  int64_t position = 0;  // the position in it, 0 .. context - 1
  double kl = 0.0;
  double teacher_confidence = 0.0;
  int64_t target = 0;    // the true next token
  // The text: up to kLmContextBefore tokens the models saw (ending with the one at `position`),
  // the true next token (the one to highlight) and up to kLmContextAfter tokens after it, each
  // decoded by the run's tokenizer (valid UTF-8).
  std::string before, token, after;
  std::vector<TokenProbability> teacher_top;  // kLmTopTokens, most probable first
  std::vector<TokenProbability> student_top;
};

struct LmFidelityAnalysis {
  std::string tokenizer;       // byte | char | bpe | sentencepiece
  int64_t vocab = 0;           // the models' vocabulary: rows of their logits
  int64_t tokenizer_vocab = 0;  // the tokenizer's ids; rows from here to vocab are padding (lm_fidelity.h)
  int64_t context = 0;
  int64_t blocks = 0;          // validation blocks analysed
  int64_t blocks_available = 0;  // the run's validation blocks (blocks <= this: a cap picked evenly)
  int64_t tokens = 0;          // positions counted
  int64_t train_tokens = 0;    // tokens of the training documents the frequencies are counted on
  double teacher_acc = 0.0;
  double student_acc = 0.0;
  double teacher_ce = 0.0;     // cross-entropy against the true next token, nats per token
  double student_ce = 0.0;
  double agreement = 0.0;
  double kl = 0.0;
  double top5_overlap = 0.0;   // mean |top-5(teacher) ∩ top-5(student)| / 5
  std::vector<LmBucket> by_position;    // over 0 .. context - 1, in order
  std::vector<LmBucket> by_confidence;  // the teacher's top-1 probability in tenths, low to high
  // The true next token's share of the training tokens, in decades from frequent to rare, then
  // "unseen" (tokens the training split never has); only buckets with validation positions.
  std::vector<LmBucket> by_frequency;
  Calibration teacher_calibration;  // per token, kLmCalibrationBins bins
  Calibration student_calibration;
  // The disagreeing positions of largest KL, largest first (at most as many as asked for).
  std::vector<LmDisagreement> disagreements;
  int64_t disagreement_count = 0;  // every disagreeing position counted
  double seconds = 0.0;            // the analysis's wall-clock time
};

}  // namespace distill
