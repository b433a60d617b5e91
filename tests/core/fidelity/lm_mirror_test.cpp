// The mirror test for language models (core/fidelity/lm_mirror.h) on tiny GPTs of the lm tests'
// corpus: a student distilled from a teacher mirrors it, a student trained alone does not, with
// references trained here (logits access) and with stored ones (topk and text access); and the
// statistics the verdict rests on.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/fidelity/lm_mirror.h"
#include "core/fidelity/mirror.h"
#include "core/fidelity/mirror_support.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

TEST(MirrorStatistics, SignedRankPValueIsExactForSmallSamples) {
  // Five positive differences of distinct sizes: only the all-positive pattern reaches W+ = 15.
  EXPECT_NEAR(signedRankPValue({0.1, 0.2, 0.3, 0.4, 0.5}), 1.0 / 32.0, 1e-12);
  // All negative: every pattern reaches W+ >= 0.
  EXPECT_NEAR(signedRankPValue({-0.1, -0.2, -0.3}), 1.0, 1e-12);
  // Zeros are dropped; nothing left: no evidence.
  EXPECT_EQ(signedRankPValue({0.0, 0.0}), 1.0);
  // Ranks 1..4, one negative of rank 1: W+ = 9 of 10; patterns with W+ >= 9: {2,3,4} and {1,2,3,4}.
  EXPECT_NEAR(signedRankPValue({-0.1, 0.2, 0.3, 0.4}), 2.0 / 16.0, 1e-12);
  // Ties share a mid-rank: two equal differences of rank 1.5 each, both positive: W+ = 3 of 3.
  EXPECT_NEAR(signedRankPValue({0.2, 0.2}), 1.0 / 4.0, 1e-12);
}

TEST(MirrorStatistics, SignedRankNormalApproximationAgreesWithTheExactTail) {
  // 60 differences: the normal approximation; 40 positive and 20 negative ranks interleaved.
  std::vector<double> d;
  for (int i = 1; i <= 60; ++i) d.push_back(i % 3 == 0 ? -i : i);
  const double p = signedRankPValue(d);
  // No ties: mean n(n + 1)/4 = 915, variance n(n + 1)(2n + 1)/24, a continuity correction of 1/2.
  double w = 0;
  for (int i = 1; i <= 60; ++i)
    if (i % 3 != 0) w += i;
  const double z = (w - 915.0 - 0.5) / std::sqrt(60.0 * 61.0 * 121.0 / 24.0);
  EXPECT_NEAR(p, 0.5 * std::erfc(z / std::sqrt(2.0)), 1e-12);
  EXPECT_GT(p, 0.01);
  EXPECT_LT(p, 0.05);
  // At 50 differences (still exact) the same pattern's exact tail is near the approximation's.
  d.resize(50);
  w = 0;
  for (int i = 1; i <= 50; ++i)
    if (i % 3 != 0) w += i;
  const double z50 = (w - 50.0 * 51.0 / 4.0 - 0.5) / std::sqrt(50.0 * 51.0 * 101.0 / 24.0);
  EXPECT_NEAR(signedRankPValue(d), 0.5 * std::erfc(z50 / std::sqrt(2.0)), 0.005);
}

TEST(MirrorStatistics, HolmAdjustsInOrderAndCapsAtOne) {
  const auto adjusted = holmAdjusted({0.01, 0.04, 0.03, 0.5});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.04, 1e-12);  // 4 x 0.01
  EXPECT_NEAR(adjusted[2], 0.09, 1e-12);  // 3 x 0.03
  EXPECT_NEAR(adjusted[1], 0.09, 1e-12);  // 2 x 0.04 = 0.08, raised to the previous 0.09
  EXPECT_NEAR(adjusted[3], 0.5, 1e-12);   // 1 x 0.5
  EXPECT_EQ(holmAdjusted({0.6, 0.7})[0], 1.0);
}

TEST(LmMirror, RefusesBadOptionsNamingThem) {
  LmMirrorOptions options;
  options.access = "probabilities";
  options.sequences = 3;
  options.alpha = 2;
  try {
    runLmMirrorTest("1:teacher", "1:student", options);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--access"), std::string::npos) << what;
    EXPECT_NE(what.find("--sequences"), std::string::npos) << what;
    EXPECT_NE(what.find("--alpha"), std::string::npos) << what;
  }
}

// Seven windows cannot give a verdict over four probe sets (the smallest corrected p is
// 8 / 2^7 = 0.0625): refused before any model is loaded; eight can (0.03125).
TEST(LmMirror, RefusesFewerWindowsThanAVerdictNeeds) {
  LmMirrorOptions options;
  options.sequences = 7;
  try {
    runLmMirrorTest("1:teacher", "1:student", options);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--sequences: expected at least 8 sequences"), std::string::npos) << what;
    EXPECT_NE(what.find("got 7"), std::string::npos) << what;
  }
}

// The lm tests' corpus; a second, unrelated text; run 1: a teacher and a student distilled from
// it (KD alone); run 2: a student of the same shape trained alone (alpha 0, another seed), the
// teacher reused. `more_baselines` adds that many more such students (runs 3, 4, ...) to serve as
// stored references.
struct Pair {
  std::string db, second_corpus;
};
Pair trainPair(const std::filesystem::path& dir, int more_baselines) {
  const std::string corpus = testing::writeCorpus(dir / "corpus");
  {
    std::ofstream second(dir / "second.txt");
    for (int i = 0; i < 60; ++i)
      second << "a " << (i % 2 ? "red" : "green") << " bird flew over " << (i % 3 ? "three" : "nine")
             << " tall trees, singing " << i << " songs.\n%\n";
  }
  testing::Finished run1 = testing::runLm(dir, testing::lmConfig(corpus, {"distill.alpha=1", "train.epochs=20"}));
  EXPECT_EQ(run1.result.outcome, RunOutcome::Completed) << run1.result.error;
  for (int k = 0; k <= more_baselines; ++k) {
    testing::Finished alone = testing::runLm(
        dir, testing::lmConfig(corpus, {"distill.alpha=0", "train.epochs=20", "seed=" + std::to_string(2 + k), "teacher.source=run:1"}));
    EXPECT_EQ(alone.result.outcome, RunOutcome::Completed) << alone.result.error;
  }
  return {(dir / "lm.db").string(), (dir / "second.txt").string()};
}

LmMirrorOptions optionsFor(const Pair& pair) {
  LmMirrorOptions options;
  options.database_path = pair.db;
  options.second_corpus = pair.second_corpus;
  options.sequences = 24;
  return options;
}

TEST(LmMirrorRuns, ADistilledStudentMirrorsItsTeacherAndAStudentTrainedAloneDoesNot) {
  TempDir dir;
  const Pair pair = trainPair(dir.path(), 0);
  LmMirrorOptions options = optionsFor(pair);
  options.references = 4;  // trained here as B was: run 1's student phase, alpha 0 (20 epochs, seeds 1000..1003)
  std::vector<std::string> progress;
  options.progress = [&](const std::string& line) { progress.push_back(line); };

  const LmMirrorReport distilled = runLmMirrorTest("1:teacher", "1:student", options);
  ASSERT_EQ(distilled.probes.size(), 4u);
  EXPECT_EQ(distilled.probes[3].name, "second-corpus");
  EXPECT_TRUE(distilled.mirrors) << distilled.verdict << "\n" << distilled.evidence;
  EXPECT_LT(distilled.p_value, 0.05);
  EXPECT_NE(distilled.verdict.find("B mirrors A"), std::string::npos);
  EXPECT_EQ(distilled.references, 4);
  for (const auto& p : distilled.probes) {
    EXPECT_LE(p.sequences, 24) << p.name;  // the tiny corpus's validation text has fewer windows
    EXPECT_GE(p.sequences, 20) << p.name;
    EXPECT_EQ(p.positions, p.sequences * 16) << p.name;  // every position of a window of lm.context tokens
    EXPECT_GE(p.p_adjusted, p.p_value) << p.name;
    EXPECT_TRUE(std::isfinite(p.kl) && std::isfinite(p.overlap)) << p.name;
    EXPECT_TRUE(std::isnan(p.cross_entropy)) << p.name;  // text access only
  }
  // Off the training text, the copy keeps its teacher's choices and the references do not.
  const auto& shuffled = distilled.probes[2];
  EXPECT_LT(shuffled.kl, shuffled.reference_kl_min) << distilled.evidence;
  EXPECT_NE(std::find(progress.begin(), progress.end(), "training reference model 4/4 (seed 1003)"), progress.end());

  // Run 2's student, trained alone, is no copy. (Measured: its closest call is the second corpus,
  // raw p 0.0075 for the greedy match against the farthest of the four references, 0.06 after
  // the Bonferroni and Holm corrections.)
  const LmMirrorReport alone = runLmMirrorTest("1:teacher", "2:student", options);
  EXPECT_FALSE(alone.mirrors) << alone.verdict << "\n" << alone.evidence;
  EXPECT_GE(alone.p_value, 0.05);
  EXPECT_NE(alone.verdict.find("no evidence"), std::string::npos);
}

TEST(LmMirrorRuns, BlackBoxAccessWithStoredReferencesTellsTheSame) {
  TempDir dir;
  const Pair pair = trainPair(dir.path(), 3);  // runs 3, 4, 5: more students trained alone
  LmMirrorOptions options = optionsFor(pair);
  options.reference_models = {"3:student", "4:student", "5:student"};
  for (const std::string access : {"topk", "text"}) {
    options.access = access;
    const LmMirrorReport distilled = runLmMirrorTest("1:teacher", "1:student", options);
    EXPECT_TRUE(distilled.mirrors) << access << ": " << distilled.verdict << "\n" << distilled.evidence;
    EXPECT_NE(distilled.reference_description.find("3 stored models"), std::string::npos);
    // Run 2's student, trained alone, is no copy. (Measured: its closest call is the second corpus,
  // raw p 0.0075 for the greedy match against the farthest of the four references, 0.06 after
  // the Bonferroni and Holm corrections.)
  const LmMirrorReport alone = runLmMirrorTest("1:teacher", "2:student", options);
    EXPECT_FALSE(alone.mirrors) << access << ": " << alone.verdict << "\n" << alone.evidence;
    for (const auto& p : distilled.probes) {
      if (access == "text") {
        EXPECT_EQ(p.positions, p.sequences * 8) << p.name;  // A's completion (8 tokens) of each window's first 8 tokens
        EXPECT_TRUE(std::isfinite(p.cross_entropy) && std::isnan(p.kl)) << p.name;
      } else {
        EXPECT_TRUE(std::isfinite(p.kl) && std::isnan(p.cross_entropy)) << p.name;
      }
    }
  }
  // A stored reference that is B itself is no independent model.
  options.reference_models = {"1:student", "3:student"};
  EXPECT_THROW(runLmMirrorTest("1:teacher", "1:student", options), ConfigError);
}

}  // namespace
}  // namespace distill
