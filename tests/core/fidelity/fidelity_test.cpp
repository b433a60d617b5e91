#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/fidelity/fidelity.h"
#include "core/metrics/smoothing.h"

namespace distill {
namespace {

// Logits whose softmax is exactly `probs` (row-wise).
torch::Tensor logitsOf(const std::vector<std::vector<double>>& probs) {
  std::vector<torch::Tensor> rows;
  for (const auto& row : probs) rows.push_back(torch::tensor(row, torch::kFloat64).log());
  return torch::stack(rows);
}

TEST(Fidelity, AgreementMatrixCountsTeacherRowsAgainstStudentColumns) {
  // teacher predicts 0 0 1 2 2 2, student 0 1 1 2 0 2
  const auto teacher = torch::eye(3, torch::kFloat64).index_select(0, torch::tensor({0, 0, 1, 2, 2, 2}));
  const auto student = torch::eye(3, torch::kFloat64).index_select(0, torch::tensor({0, 1, 1, 2, 0, 2}));
  const auto matrix = agreementMatrix(teacher, student);
  const auto expected = torch::tensor({{1, 1, 0}, {0, 1, 0}, {1, 0, 2}}, torch::kInt64);
  EXPECT_TRUE(torch::equal(matrix, expected)) << matrix;
  EXPECT_EQ(matrix.sum().item<int64_t>(), 6);
  EXPECT_EQ(disagreementIndices(teacher, student), (std::vector<int64_t>{1, 4}));
}

TEST(Fidelity, AnalysisMatrixSumsToSamplesAndGalleryListsExactlyTheDisagreements) {
  torch::manual_seed(3);
  const auto teacher = torch::randn({500, 10});
  const auto student = teacher + 0.8 * torch::randn({500, 10});
  const auto targets = torch::randint(0, 10, {500});
  const auto analysis = analyzeFidelity(teacher, student, targets);
  int64_t total = 0, diagonal = 0;
  for (int64_t t = 0; t < 10; ++t)
    for (int64_t s = 0; s < 10; ++s) {
      total += analysis.matrixAt(t, s);
      if (t == s) diagonal += analysis.matrixAt(t, s);
    }
  EXPECT_EQ(total, 500);
  EXPECT_NEAR(analysis.agreement, diagonal / 500.0, 1e-12);

  const auto differs = teacher.argmax(1).ne(student.argmax(1));
  std::vector<int64_t> expected, listed;
  for (int64_t i = 0; i < 500; ++i)
    if (differs[i].item<bool>()) expected.push_back(i);
  for (const auto& d : analysis.disagreements) listed.push_back(d.index);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(static_cast<int64_t>(listed.size()), 500 - diagonal);
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, expected);
  // The gallery is ordered by the teacher's confidence, most confident first.
  for (size_t i = 1; i < analysis.disagreements.size(); ++i)
    EXPECT_GE(analysis.disagreements[i - 1].teacher_confidence, analysis.disagreements[i].teacher_confidence);
  // Each entry's top-1 is its model's prediction and the distributions are complete.
  for (const auto& d : analysis.disagreements) {
    EXPECT_EQ(d.teacher_top.front().label, teacher[d.index].argmax().item<int64_t>());
    EXPECT_EQ(d.student_top.front().label, student[d.index].argmax().item<int64_t>());
    EXPECT_NE(d.teacher_top.front().label, d.student_top.front().label);
    ASSERT_EQ(d.teacher_top.size(), 3u);
    EXPECT_GE(d.teacher_top[0].probability, d.teacher_top[1].probability);
    ASSERT_EQ(d.teacher_probs.size(), 10u);
    double sum = 0;
    for (float p : d.student_probs) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_EQ(d.target, targets[d.index].item<int64_t>());
  }
}

TEST(Fidelity, PerClassAccuraciesAndAgreementOverEachTrueClass) {
  // class 0: samples 0,1 ; class 1: samples 2,3,4
  const auto targets = torch::tensor({0, 0, 1, 1, 1});
  const auto teacher = torch::eye(2, torch::kFloat64).index_select(0, torch::tensor({0, 1, 1, 1, 0}));
  const auto student = torch::eye(2, torch::kFloat64).index_select(0, torch::tensor({0, 0, 1, 0, 0}));
  const auto analysis = analyzeFidelity(teacher, student, targets, {"cat", "dog"});
  ASSERT_EQ(analysis.per_class.size(), 2u);
  EXPECT_EQ(analysis.per_class[0].name, "cat");
  EXPECT_EQ(analysis.per_class[0].count, 2);
  EXPECT_DOUBLE_EQ(analysis.per_class[0].teacher_acc, 0.5);
  EXPECT_DOUBLE_EQ(analysis.per_class[0].student_acc, 1.0);
  EXPECT_DOUBLE_EQ(analysis.per_class[0].agreement, 0.5);
  EXPECT_EQ(analysis.per_class[1].count, 3);
  EXPECT_DOUBLE_EQ(analysis.per_class[1].teacher_acc, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(analysis.per_class[1].student_acc, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(analysis.per_class[1].agreement, 2.0 / 3.0);  // samples 2 and 4
  EXPECT_DOUBLE_EQ(analysis.teacher_acc, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(analysis.agreement, 3.0 / 5.0);  // samples 0, 2 and 4
}

TEST(Fidelity, EceIsZeroForAPerfectlyCalibratedSet) {
  // Ten predictions at 80% confidence, eight right; five at 60%, three right.
  std::vector<std::vector<double>> probs;
  std::vector<int64_t> targets;
  for (int i = 0; i < 10; ++i) {
    probs.push_back({0.8, 0.2});
    targets.push_back(i < 8 ? 0 : 1);
  }
  for (int i = 0; i < 5; ++i) {
    probs.push_back({0.4, 0.6});
    targets.push_back(i < 3 ? 1 : 0);
  }
  const auto result = calibration(logitsOf(probs), torch::tensor(targets), 15);
  EXPECT_NEAR(result.ece, 0.0, 1e-9);
  ASSERT_EQ(result.bins.size(), 15u);
  EXPECT_EQ(result.bins[12].count, 10);  // 0.8 * 15 = 12
  EXPECT_NEAR(result.bins[12].mean_confidence, 0.8, 1e-9);
  EXPECT_NEAR(result.bins[12].accuracy, 0.8, 1e-12);
  EXPECT_EQ(result.bins[9].count, 5);    // 0.6 * 15 = 9
  int64_t total = 0;
  for (const auto& bin : result.bins) total += bin.count;
  EXPECT_EQ(total, 15);
  EXPECT_DOUBLE_EQ(result.bins.front().lower, 0.0);
  EXPECT_DOUBLE_EQ(result.bins.back().upper, 1.0);
}

TEST(Fidelity, EceOfOverconfidentPredictionsByHand) {
  // Four at 90% confidence, two right: |0.5 - 0.9| weighted 4/6; two at ~100%, both wrong: 2/6.
  std::vector<std::vector<double>> probs{{0.9, 0.1}, {0.9, 0.1}, {0.9, 0.1}, {0.9, 0.1}, {1.0, 0.0}, {1.0, 0.0}};
  const auto targets = torch::tensor({0, 0, 1, 1, 1, 1});
  const double expected = 4.0 / 6.0 * 0.4 + 2.0 / 6.0 * 1.0;
  EXPECT_NEAR(expectedCalibrationError(logitsOf(probs), targets), expected, 1e-9);
  // A confidence of exactly 1 falls in the last bin.
  EXPECT_EQ(calibration(logitsOf(probs), targets).bins.back().count, 2);
}

TEST(Fidelity, TopFiveOverlapCountsSharedClasses) {
  // teacher ranks 0..9 descending, student ranks 9..0: top-5 sets {0..4} and {5..9} share nothing.
  const auto ascending = torch::arange(10, torch::kFloat64).unsqueeze(0);
  EXPECT_DOUBLE_EQ(topKOverlap(-ascending, ascending), 0.0);
  EXPECT_DOUBLE_EQ(topKOverlap(ascending, ascending), 1.0);
  // Student swaps classes 4 and 5: 4 of 5 shared.
  auto swapped = (-ascending).clone();
  swapped[0][4] = -5.0;
  swapped[0][5] = -4.0;
  EXPECT_DOUBLE_EQ(topKOverlap(-ascending, swapped), 0.8);
  // With three classes k is capped at 3: always a full overlap.
  EXPECT_DOUBLE_EQ(topKOverlap(torch::tensor({{1.0, 2.0, 3.0}}), torch::tensor({{3.0, 2.0, 1.0}})), 1.0);
}

TEST(Fidelity, JsDivergenceOnKnownDistributions) {
  // P = (1, 0), Q = (0, 1): disjoint supports give ln 2.
  const auto p = logitsOf({{1.0, 0.0}});
  const auto q = logitsOf({{0.0, 1.0}});
  EXPECT_NEAR(jsDivergence(p, q), std::log(2.0), 1e-12);
  EXPECT_NEAR(jsDivergence(p, p), 0.0, 1e-12);
  // P = (0.5, 0.5), Q = (0.25, 0.75): M = (0.375, 0.625).
  const auto a = logitsOf({{0.5, 0.5}});
  const auto b = logitsOf({{0.25, 0.75}});
  const double kl_am = 0.5 * std::log(0.5 / 0.375) + 0.5 * std::log(0.5 / 0.625);
  const double kl_bm = 0.25 * std::log(0.25 / 0.375) + 0.75 * std::log(0.75 / 0.625);
  EXPECT_NEAR(jsDivergence(a, b), 0.5 * (kl_am + kl_bm), 1e-12);
  EXPECT_NEAR(jsDivergence(a, b), jsDivergence(b, a), 1e-15);
}

TEST(Fidelity, MismatchedShapesAreRefusedWithTheShapes) {
  try {
    analyzeFidelity(torch::zeros({4, 3}), torch::zeros({4, 2}), torch::zeros({4}, torch::kInt64));
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[4, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(analyzeFidelity(torch::zeros({4, 3}), torch::zeros({4, 3}), torch::zeros({5}, torch::kInt64)),
               std::invalid_argument);
}

TEST(Fidelity, CompareViewRanksTheFidelityMetricsTheRightWayRound) {
  // The compare view and `distill compare` mark the best run of each metric with this.
  EXPECT_TRUE(higherIsBetter("eval/top5_overlap"));
  EXPECT_FALSE(higherIsBetter("eval/js"));
  EXPECT_FALSE(higherIsBetter("eval/teacher_ece"));
  EXPECT_FALSE(higherIsBetter("eval/student_ece"));
}

}  // namespace
}  // namespace distill
