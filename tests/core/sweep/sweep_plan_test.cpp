// Sweep files and plans (core/sweep/sweep_spec.h, sweep_plan.h): the product of the axes in
// file order, ranges and random draws, canonical values, hashes, the shared teacher, and
// bad axes refused before anything runs, naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/sweep/sweep_plan.h"
#include "core/sweep/sweep_spec.h"

namespace distill {
namespace {

SweepPlan plan(const std::string& text, const TeacherResolver& resolver = nullptr) {
  return planSweep(parseSweep(text, "test.yaml", "/tmp"), resolver);
}

std::vector<std::string> values(const SweepPlan& p, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& task : p.tasks)
    for (const auto& [k, v] : task.axis_values)
      if (k == key) out.push_back(v);
  return out;
}

// The message of the ConfigError `text` raises when planned, with its key.
std::string refusal(const std::string& text) {
  try {
    plan(text);
  } catch (const ConfigError& e) {
    return e.issues().front().toString();
  }
  return "(accepted)";
}

TEST(SweepPlan, GridsMultiplyInFileOrderFirstAxisSlowest) {
  const SweepPlan p = plan("name: t\naxes:\n  distill.temperature: [2, 4.0]\n  seed: [0, 1, 2]\n");
  ASSERT_EQ(p.tasks.size(), 6u);
  EXPECT_EQ(values(p, "distill.temperature"), (std::vector<std::string>{"2", "2", "2", "4", "4", "4"}));
  EXPECT_EQ(values(p, "seed"), (std::vector<std::string>{"0", "1", "2", "0", "1", "2"}));
  EXPECT_EQ(p.tasks[4].config.distill.temperature, 4.0);
  EXPECT_EQ(p.tasks[4].config.seed, 1u);
  EXPECT_EQ(p.tasks[4].config.name, "t/4 temperature=4 seed=1");
  EXPECT_EQ(p.tasks[4].index, 4);
}

TEST(SweepPlan, ListKeysTakeListsOrSingleWidths) {
  const SweepPlan p = plan("axes:\n  student.hidden: [[64, 64], 128]\n");
  EXPECT_EQ(values(p, "student.hidden"), (std::vector<std::string>{"[64, 64]", "[128]"}));
  EXPECT_EQ(p.tasks[1].config.student.hidden, (std::vector<int64_t>{128}));
}

TEST(SweepPlan, SetAppliesToEveryTaskAndChoicesAreGrids) {
  const SweepPlan p = plan("set:\n  train.epochs: 2\n  teacher: {epochs: 1}\naxes:\n  distill.method: [kd, jsd]\n");
  ASSERT_EQ(p.tasks.size(), 2u);
  for (const auto& task : p.tasks) {
    EXPECT_EQ(task.config.train.epochs, 2);
    EXPECT_EQ(task.config.teacher.epochs, 1);
  }
  EXPECT_EQ(p.tasks[1].config.distill.method, "jsd");
}

TEST(SweepPlan, RangesIncludeBothEndsWithoutRoundingNoise) {
  EXPECT_EQ(values(plan("axes:\n  distill.alpha: {from: 0.1, to: 0.5, step: 0.1}\n"), "distill.alpha"),
            (std::vector<std::string>{"0.1", "0.2", "0.3", "0.4", "0.5"}));
  EXPECT_EQ(values(plan("axes:\n  train.batch_size: {from: 32, to: 128, step: 32}\n"), "train.batch_size"),
            (std::vector<std::string>{"32", "64", "96", "128"}));
  EXPECT_EQ(values(plan("axes:\n  train.lr: {from: 0.001, to: 0.1, count: 3, log: true}\n"), "train.lr"),
            (std::vector<std::string>{"0.001", "0.01", "0.1"}));
  EXPECT_EQ(values(plan("axes:\n  distill.temperature: {from: 8, to: 2, step: -3}\n"), "distill.temperature"),
            (std::vector<std::string>{"8", "5", "2"}));
}

TEST(SweepPlan, RandomDrawsAreReproducibleInBoundsAndDrawnTogether) {
  const std::string file = "axes:\n  train.lr: {random: [0.0001, 0.1], count: 10, seed: 7, log: true}\n"
                           "  train.batch_size: {random: [16, 20], count: 10, seed: 7}\n";
  const SweepPlan p = plan(file);
  ASSERT_EQ(p.tasks.size(), 10u);  // drawn together: 10 points, not 100
  std::set<std::string> batches;
  for (const auto& task : p.tasks) {
    EXPECT_GE(task.config.train.lr, 0.0001);
    EXPECT_LT(task.config.train.lr, 0.1);
    EXPECT_GE(task.config.train.batch_size, 16);
    EXPECT_LE(task.config.train.batch_size, 20);
    batches.insert(std::to_string(task.config.train.batch_size));
  }
  EXPECT_GE(batches.size(), 3u);  // both ends included, integers spread
  // Log-uniform: about half the draws in the lowest 1.5 of the 3 decades.
  int below = 0;
  for (const auto& task : p.tasks) below += task.config.train.lr < 0.003;
  EXPECT_GE(below, 2);
  EXPECT_EQ(values(plan(file), "train.lr"), values(p, "train.lr"));
  const SweepPlan other = plan("axes:\n  train.lr: {random: [0.0001, 0.1], count: 10, seed: 8, log: true}\n");
  EXPECT_NE(values(other, "train.lr"), values(p, "train.lr"));
}

TEST(SweepPlan, RandomBlockMultipliesWithGrids) {
  const SweepPlan p = plan("axes:\n  seed: [0, 1]\n  train.lr: {random: [0.01, 0.1], count: 3}\n");
  ASSERT_EQ(p.tasks.size(), 6u);
  const auto lrs = values(p, "train.lr");
  EXPECT_EQ(std::vector<std::string>(lrs.begin(), lrs.begin() + 3), std::vector<std::string>(lrs.begin() + 3, lrs.end()));
}

struct BadAxis {
  const char* file;
  const char* message;  // a part of the first issue, with its key
};

class SweepPlanRefuses : public ::testing::TestWithParam<BadAxis> {};

TEST_P(SweepPlanRefuses, BeforeAnythingRunsNamingTheKey) {
  EXPECT_NE(refusal(GetParam().file).find(GetParam().message), std::string::npos) << refusal(GetParam().file);
}

INSTANTIATE_TEST_SUITE_P(
    Axes, SweepPlanRefuses,
    ::testing::Values(
        BadAxis{"axes:\n  distill.temprature: [2]\n", "axes.distill.temprature: unknown config key"},
        BadAxis{"axes:\n  distill.temperature: [2, 0]\n", "axes.distill.temperature: value '0': expected a temperature > 0"},
        BadAxis{"axes:\n  distill.method: [kd, kdd]\n", "axes.distill.method: value 'kdd': expected"},
        BadAxis{"axes:\n  distill.temperature: []\n", "axes.distill.temperature: empty grid"},
        BadAxis{"axes:\n  distill.method: {from: 1, to: 2, step: 1}\n", "axes.distill.method: a range needs a numeric key"},
        BadAxis{"axes:\n  train.lr: {from: 0.1, to: 0.5, stride: 0.1}\n", "axes.train.lr: unknown field 'stride'"},
        BadAxis{"axes:\n  train.lr: {from: 0.5, to: 0.1, step: 0.1}\n", "axes.train.lr: step 0.1 never goes from 0.5 to 0.1"},
        BadAxis{"axes:\n  train.epochs: {from: 1, to: 4, step: 1.5}\n", "axes.train.epochs: step: expected a whole number"},
        BadAxis{"axes:\n  train.lr: {random: [0, 1], count: 2, log: true}\n", "axes.train.lr: log: the range must be above 0"},
        BadAxis{"axes:\n  train.lr: {random: [0.1, 1], count: 2}\n  distill.alpha: {random: [0, 1], count: 3}\n",
                "axes.distill.alpha: count 3 differs from train.lr's 2"},
        BadAxis{"axes:\n  seed: [0, 0]\n", "axes: runs 0 and 1 have the same configuration"},
        BadAxis{"axes:\n  name: [a, b]\n", "axes.name: the sweep names its runs"},
        BadAxis{"axes:\n  student.hidden: [[64, x]]\n", "axes.student.hidden: value '[64, x]'"},
        BadAxis{"set:\n  train.nesterov: true\naxes:\n  train.momentum: [0.9, 0]\n", "axes.train.momentum: value '0': train.nesterov: needs train.momentum > 0"},
        BadAxis{"axes:\n  train.nesterov: [false, true]\n  train.momentum: [0.9, 0]\n",
                "axes: run 3 (train.nesterov=true, train.momentum=0): train.nesterov: needs train.momentum > 0"},
        BadAxis{"set:\n  train.lrr: 1\naxes:\n  seed: [0]\n", "set.train.lrr: unknown config key"},
        BadAxis{"axes:\n  seed: [0]\ncolour: red\n", "colour: unknown section"},
        BadAxis{"base: no-such-preset\naxes:\n  seed: [0]\n", "base: 'no-such-preset' is neither a config file"},
        BadAxis{"axes: {}\n", "axes"},
        BadAxis{"teacher: shared\naxes:\n  teacher.hidden: [[64], [32]]\n", "teacher: shared, but axis teacher.hidden changes the teacher"},
        BadAxis{"teacher: run:3\naxes:\n  seed: [0, 1]\n", "teacher: run:3: no database"},
        BadAxis{"teacher: /t.pt\naxes:\n  teacher.hidden: [[64]]\n", "axes.teacher.hidden: the teacher comes from /t.pt"},
        BadAxis{"slurm: {partitions: gpu}\naxes:\n  seed: [0]\n", "slurm.partitions: unknown field"}));

TEST(SweepPlan, HashIsTheConfigNotItsNameThreadsOrAxisOrder) {
  const SweepPlan a = plan("name: a\naxes:\n  distill.temperature: [2, 4]\n  seed: [0, 1]\n");
  const SweepPlan b = plan("name: b\nset: {threads: 3}\naxes:\n  seed: [0, 1]\n  distill.temperature: [2, 4]\n");
  std::set<std::string> hashes_a, hashes_b;
  for (const auto& t : a.tasks) hashes_a.insert(t.hash);
  for (const auto& t : b.tasks) hashes_b.insert(t.hash);
  EXPECT_EQ(hashes_a.size(), 4u);
  EXPECT_EQ(hashes_a, hashes_b);
  EXPECT_EQ(a.tasks[0].hash.size(), 16u);
  ExperimentConfig defaults = defaultConfig();
  ExperimentConfig named = defaults;
  named.name = "x";
  EXPECT_EQ(configHash(defaults), configHash(named));
  named.train.lr = 0.01;
  EXPECT_NE(configHash(defaults), configHash(named));
  EXPECT_NE(configHash(defaults), configHash(defaults, "teacher=shared:1\n"));
}

TEST(SweepPlan, StudentAxesShareOneTeacherTrainedByTheFirstRun) {
  const SweepPlan p = plan("axes:\n  distill.temperature: [2, 4]\n  seed: [0, 1]\n");
  EXPECT_EQ(p.teacher, SweepTeacher::Shared);
  EXPECT_TRUE(p.tasks[0].trains_teacher);
  EXPECT_FALSE(p.tasks[0].uses_shared_teacher);
  for (size_t i = 1; i < p.tasks.size(); ++i) {
    EXPECT_TRUE(p.tasks[i].uses_shared_teacher);
    EXPECT_FALSE(p.tasks[i].trains_teacher);
  }
  // The hash of a task that reads the shared teacher names that teacher's task.
  EXPECT_NE(p.tasks[1].hash, configHash(p.tasks[1].config));
  EXPECT_EQ(p.tasks[1].hash, configHash(p.tasks[1].config, "teacher=shared:" + p.tasks[0].hash + "\n"));
  const auto tags = sweepTags("t-1", p.tasks[0]);
  EXPECT_EQ(tags, (std::vector<std::string>{"sweep:t-1", "distill.temperature=2", "seed=0", "sweep-teacher"}));
}

TEST(SweepPlan, TeacherAxesOrAGivenTeacherMeanEveryRunHasItsOwn) {
  EXPECT_EQ(plan("axes:\n  teacher.hidden: [[64], [32]]\n").teacher, SweepTeacher::PerTask);
  EXPECT_EQ(plan("axes:\n  dataset.limit_train: [100, 200]\n").teacher, SweepTeacher::PerTask);
  EXPECT_EQ(plan("teacher: per-task\naxes:\n  seed: [0, 1]\n").teacher, SweepTeacher::PerTask);
  EXPECT_EQ(plan("axes:\n  seed: [0]\n").teacher, SweepTeacher::PerTask);  // one run
  const SweepPlan file = plan("teacher: models/t.pt\naxes:\n  seed: [0, 1]\n");
  EXPECT_EQ(file.teacher, SweepTeacher::File);
  EXPECT_EQ(file.tasks[1].config.teacher.source, "/tmp/models/t.pt");  // against the sweep file's folder
}

TEST(SweepPlan, TeacherFromARunOfTheMainDatabaseIsItsFile) {
  std::string asked;
  const TeacherResolver resolver = [&](const std::string& run) {
    asked = run;
    FixedTeacher teacher;
    teacher.source = "/db/runs.files/run-3-abc/teacher.pt";
    teacher.model.hidden = {300};
    teacher.origin = "run 3 of /db/runs.db";
    return teacher;
  };
  for (const char* file : {"teacher: run:3\naxes:\n  seed: [0, 1]\n", "set: {teacher.source: 'run:3'}\naxes:\n  seed: [0, 1]\n"}) {
    const SweepPlan p = plan(file, resolver);
    EXPECT_EQ(asked, "run:3");
    EXPECT_EQ(p.teacher, SweepTeacher::FromRun);
    for (const auto& task : p.tasks) {
      EXPECT_EQ(task.config.teacher.source, "/db/runs.files/run-3-abc/teacher.pt");
      EXPECT_EQ(task.config.teacher.model.hidden, (std::vector<int64_t>{300}));
      EXPECT_FALSE(task.uses_shared_teacher);
    }
    EXPECT_NE(p.teacher_note.find("run 3 of /db/runs.db"), std::string::npos);
  }
}

}  // namespace
}  // namespace distill
