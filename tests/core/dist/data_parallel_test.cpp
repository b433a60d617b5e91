// A 2-rank Gloo run on loopback trains the run one process trains: the same global batch and
// seed give the same curves (every logged loss and evaluation, step for step) to float32
// tolerance, for the image task (a tiny MLP) and the language-model task (a tiny GPT), each
// with its evaluation sharded over the ranks. Rank 0
// is this test process; rank 1 is this binary started again as a worker (dist_test_main.cpp).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/config/config.h"
#include "core/dist/dist_group.h"
#include "core/dist/launch_env.h"
#include "core/tasks/task_registry.h"
#include "core/train/trainer.h"
#include "support/lm_test_support.h"
#include "support/test_support.h"

namespace distill {
namespace testing {

namespace {

ExperimentConfig imageConfig(const std::string& folder) {
  return parseConfigWithOverrides(
      "", {"dataset.name=idx", "dataset.path=" + folder, "dataset.mean=0.2", "dataset.std=0.3", "teacher.hidden=[64]",
           "teacher.dropout=0", "teacher.epochs=2", "student.hidden=[16]", "train.epochs=2", "train.batch_size=32",
           "train.log_every=5", "seed=5", "threads=1"});
}

ExperimentConfig configFor(const std::string& role) {
  // role: "image:<data folder>", "lm:<corpus folder>" or "lm-blocks:<corpus folder>" (a 2-layer
  // teacher the run trains, a student of its blocks 0: student.source teacher-blocks:2)
  const auto colon = role.find(':');
  const std::string kind = role.substr(0, colon), folder = role.substr(colon + 1);
  if (kind == "image") return imageConfig(folder);
  if (kind == "lm-blocks")
    return lmConfig(folder, {"teacher.epochs=2", "train.epochs=2", "train.log_every=3", "teacher.layers=2",
                             "student.source=teacher-blocks:2"});
  return lmConfig(folder, {"teacher.epochs=2", "train.epochs=2", "train.log_every=3"});
}

class Recorder : public TrainingObserver {
 public:
  std::map<std::string, std::vector<MetricPoint>> series;
  std::map<std::string, std::string> environment;
  void onStarted(const std::map<std::string, std::string>& env) override { environment = env; }
  void onMetrics(const std::vector<MetricPoint>& points) override {
    for (const auto& p : points) series[p.key].push_back(p);
  }
  std::vector<GeneratedText> texts;
  void onGenerated(const std::vector<GeneratedText>& batch) override { texts.insert(texts.end(), batch.begin(), batch.end()); }
};

// Rank 1: this binary again, with the rank's variables.
pid_t startRankOne(const std::string& role, int port) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("DISTILL_DIST_TEST_WORKER", role.c_str(), 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    ::setenv("RANK", "1", 1);
    ::setenv("WORLD_SIZE", "2", 1);
    ::execl("/proc/self/exe", "/proc/self/exe", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  return pid;
}

Recorder trainOneProcess(const ExperimentConfig& config, const std::filesystem::path& artifacts) {
  Recorder recorder;
  RunControl control;
  auto task = makeTask(config);
  TrainerOptions options;
  options.artifacts_dir = artifacts.string();
  Trainer trainer(config, *task, options, recorder, control);
  const auto result = trainer.run();
  EXPECT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  return recorder;
}

Recorder trainTwoRanks(const std::string& role, const std::filesystem::path& artifacts) {
  const int port = freeLoopbackPort();
  const pid_t rank_one = startRankOne(role, port);
  Recorder recorder;
  {
    DistOptions options;
    options.env.rank = 0;
    options.env.world_size = 2;
    options.env.master_addr = "127.0.0.1";
    options.env.master_port = port;
    options.env.source = "test";
    options.timeout = std::chrono::seconds(30);
    auto group = DistGroup::connect(options);
    const auto config = configFor(role);
    RunControl control;
    auto task = makeTask(config);
    TrainerOptions trainer_options;
    trainer_options.artifacts_dir = artifacts.string();
    trainer_options.parallel = group.get();
    Trainer trainer(config, *task, trainer_options, recorder, control);
    const auto result = trainer.run();
    EXPECT_EQ(result.outcome, RunOutcome::Completed) << result.error;
    group->leave();
  }
  int status = 0;
  ::waitpid(rank_one, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "rank 1 ended with status " << status;
  return recorder;
}

// Every series of the one-process run, point for point, in the two-rank run (speeds aside).
void expectSameCurves(const Recorder& one, const Recorder& two, double tolerance) {
  size_t compared = 0;
  double largest = 0.0;  // the largest relative difference, printed for the record
  for (const auto& [key, points] : one.series) {
    if (key.rfind("perf/", 0) == 0) continue;
    ASSERT_TRUE(two.series.count(key)) << key << " is missing from the two-rank run";
    const auto& other = two.series.at(key);
    ASSERT_EQ(points.size(), other.size()) << key;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].step, other[i].step) << key << " point " << i;
      EXPECT_NEAR(points[i].value, other[i].value, tolerance * std::max(1.0, std::abs(points[i].value)))
          << key << " at step " << points[i].step;
      largest = std::max(largest, std::abs(points[i].value - other[i].value) / std::max(1.0, std::abs(points[i].value)));
      ++compared;
    }
  }
  EXPECT_GT(compared, 20u);
  std::printf("compared %zu points; largest relative difference %.3g\n", compared, largest);
}

}  // namespace

int runDistWorker(const std::string& role) {
  try {
    const auto env = distEnvFromEnvironment();
    if (!env) return 3;
    DistOptions options;
    options.env = *env;
    auto group = DistGroup::connect(options);
    const auto config = configFor(role);
    RunControl control;
    auto task = makeTask(config);
    TrainerOptions trainer_options;
    trainer_options.parallel = group.get();  // no artifacts: rank 0 alone writes
    TrainingObserver silent;
    Trainer trainer(config, *task, trainer_options, silent, control);
    const auto result = trainer.run();
    group->leave();
    if (result.outcome != RunOutcome::Completed) {
      std::fprintf(stderr, "rank 1: %s\n", result.error.c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank 1: %s\n", e.what());
    return 2;
  }
}

namespace {

TEST(DataParallel, TwoGlooRanksTrainTheImageRunOneProcessTrains) {
  TempDir dir;
  writeToyIdxDataset(dir.path() / "data", 600, 200, 4, false);
  const std::string role = "image:" + (dir.path() / "data").string();
  const auto one = trainOneProcess(configFor(role), dir.path() / "one");
  const auto two = trainTwoRanks(role, dir.path() / "two");
  expectSameCurves(one, two, 1e-4);
  EXPECT_NE(two.environment.at("data_parallel").find("rank 0 of 2"), std::string::npos) << two.environment.at("data_parallel");
  // The image task's evaluation is sharded: each rank its chunks of the test split, sums added.
  EXPECT_NE(two.environment.at("data_parallel").find("evaluation sharded"), std::string::npos);
  // Rank 0 alone writes: its checkpoints are there, and rank 1 was given no folder.
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "two" / "state.pt"));
}

TEST(DataParallel, TwoGlooRanksTrainTheLanguageModelRunOneProcessTrains) {
  TempDir dir;
  const std::string role = "lm:" + writeCorpus(dir.path() / "corpus");
  const auto one = trainOneProcess(configFor(role), dir.path() / "one");
  const auto two = trainTwoRanks(role, dir.path() / "two");
  expectSameCurves(one, two, 1e-4);
  // The language-model evaluation is sharded too: each rank its share of the validation blocks,
  // the sums added; rank 0 alone writes the samples.
  EXPECT_NE(two.environment.at("data_parallel").find("evaluation sharded"), std::string::npos);
  EXPECT_FALSE(two.texts.empty());
  EXPECT_EQ(two.texts.size(), one.texts.size()) << "rank 0 writes every sample, once";
}

// A student made of the blocks of the teacher the ranks train: each rank copies its trained
// teacher's blocks after phase 1 (Task::teacherTrained), and the two ranks' teachers are equal,
// so the student phase is the one process's.
TEST(DataParallel, TwoGlooRanksStartATeacherBlocksStudentFromTheTeacherTheyTrained) {
  TempDir dir;
  const std::string role = "lm-blocks:" + writeCorpus(dir.path() / "corpus");
  const auto one = trainOneProcess(configFor(role), dir.path() / "one");
  const auto two = trainTwoRanks(role, dir.path() / "two");
  expectSameCurves(one, two, 1e-4);
}

}  // namespace
}  // namespace testing
}  // namespace distill
