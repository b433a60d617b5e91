// The fidelity analysis of stored runs and the mirror test, on a real Fashion-MNIST subset
// (skipped when Debian's dataset-fashion-mnist is not installed).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/fidelity/mirror.h"
#include "core/fidelity/run_fidelity.h"
#include "core/fidelity/run_models.h"
#include "core/store/run_store.h"
#include "core/train/experiment_runner.h"
#include "support/test_support.h"

namespace distill {
namespace {

using testing::TempDir;

bool haveFashionMnist() {
  std::error_code ec;
  return std::filesystem::is_directory(defaultDatasetPath("fashion-mnist"), ec);
}

int64_t runExperiment(const std::string& db, const std::vector<std::string>& overrides) {
  ExperimentConfig config = parseConfigWithOverrides("", overrides);
  TrainingObserver observer;
  RunControl control;
  ExperimentRunner runner(config, db, observer, control);
  const int64_t id = runner.createRun();
  const auto result = runner.run();
  EXPECT_EQ(result.outcome, RunOutcome::Completed) << result.error;
  return id;
}

// Run 1: a teacher and a student distilled from it. Run 2: the same teacher (reused), and a
// student of the same shape trained independently (alpha 0, another seed). Shared by the tests.
class FidelityRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!haveFashionMnist()) return;
    dir = new TempDir();
    db = dir->file("runs.db");
    const std::vector<std::string> common{"dataset.limit_train=3000", "dataset.limit_test=500",
                                          "teacher.hidden=[256]",     "teacher.epochs=3",
                                          "student.hidden=[128]",     "train.epochs=5",
                                          "threads=0"};
    auto distilled = common;
    distilled.insert(distilled.end(), {"seed=1", "distill.alpha=1"});
    distilled_run = runExperiment(db, distilled);
    auto independent = common;
    independent.insert(independent.end(),
                       {"seed=2", "distill.alpha=0", "teacher.source=run:" + std::to_string(distilled_run)});
    independent_run = runExperiment(db, independent);
  }
  static void TearDownTestSuite() {
    delete dir;
    dir = nullptr;
  }
  void SetUp() override {
    if (!haveFashionMnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  static MirrorOptions mirrorOptions() {
    MirrorOptions options;
    options.database_path = db;
    options.references = 3;
    options.reference_train_samples = 3000;
    options.reference_epochs = 4;
    options.probe_samples = 500;
    return options;
  }
  static inline TempDir* dir = nullptr;
  static inline std::string db;
  static inline int64_t distilled_run = 0;
  static inline int64_t independent_run = 0;
};

TEST_F(FidelityRunTest, AnalysisOfAStoredRunMatchesWhatTheTrainerStored) {
  const RunFidelity fidelity = analyzeRun(db, distilled_run);
  const auto& a = fidelity.analysis;
  EXPECT_EQ(a.samples, 500);
  int64_t total = 0;
  for (auto count : a.agreement_matrix) total += count;
  EXPECT_EQ(total, 500);
  EXPECT_EQ(a.class_names.at(0), "T-shirt/top");
  EXPECT_EQ(static_cast<int64_t>(a.disagreements.size()), std::llround((1.0 - a.agreement) * 500));
  ASSERT_EQ(fidelity.disagreement_images.size(), a.disagreements.size());
  EXPECT_EQ(fidelity.image_shape, (std::vector<int64_t>{1, 28, 28}));
  for (const auto& image : fidelity.disagreement_images) {
    ASSERT_EQ(image.size(), 784u);
    for (float p : image) ASSERT_TRUE(p >= 0.0f && p <= 1.0f);
  }

  // The models rebuilt from the checkpoints are the ones the trainer evaluated last.
  RunStore store(db, RunStore::Mode::ReadOnly);
  const auto run = store.getRun(distilled_run);
  EXPECT_NEAR(a.agreement, run->final_metrics.at("eval/agreement"), 1e-9);
  EXPECT_NEAR(a.student_acc, run->final_metrics.at("eval/student_acc"), 1e-9);
  EXPECT_NEAR(a.teacher_acc, run->final_metrics.at("eval/teacher_acc"), 1e-9);
  EXPECT_NEAR(a.kl, run->final_metrics.at("eval/kl"), 1e-6);
  EXPECT_NEAR(a.js, run->final_metrics.at("eval/js"), 1e-6);
  EXPECT_NEAR(a.top5_overlap, run->final_metrics.at("eval/top5_overlap"), 1e-9);
  EXPECT_NEAR(a.student_calibration.ece, run->final_metrics.at("eval/student_ece"), 1e-6);
  EXPECT_NEAR(a.teacher_calibration.ece, run->final_metrics.at("eval/teacher_ece"), 1e-6);
  // One fidelity point per student evaluation, beside the agreement.
  EXPECT_EQ(store.metrics(distilled_run, "eval/top5_overlap").size(), store.metrics(distilled_run, "eval/agreement").size());

  // A run whose teacher came from another run: the teacher is loaded from there.
  const RunFidelity reused = analyzeRun(db, independent_run);
  EXPECT_DOUBLE_EQ(reused.analysis.teacher_acc, a.teacher_acc);
}

// Configs write torchscript:PATH and run:ID; the mirror test took only a bare path and ID.
// The window can start a mirror test while its run trains. The test's reference models reseed
// LibTorch's global generator (the run's dropout draws from it) and set the process's threads:
// it must refuse while a run trains in the process, and the run must end exactly as it would
// have alone.
class PauseAtFirstCheckpoint : public TrainingObserver {
 public:
  void onCheckpoint(const CheckpointInfo&) override {
    std::unique_lock<std::mutex> lock(mutex);
    reached = true;
    changed.notify_all();
    changed.wait(lock, [&] { return released; });
  }
  std::mutex mutex;
  std::condition_variable changed;
  bool reached = false, released = false;
};

TEST_F(FidelityRunTest, AMirrorTestNeverChangesARunTrainingInTheSameProcess) {
  const std::vector<std::string> overrides{"dataset.limit_train=1000", "dataset.limit_test=200", "teacher.hidden=[64]",
                                           "teacher.dropout=0.3",      "teacher.epochs=2",       "student.hidden=[32]",
                                           "student.dropout=0.3",      "train.epochs=2",         "seed=5"};
  RunResult alone;
  {
    TrainingObserver quiet;
    RunControl control;
    ExperimentRunner runner(parseConfigWithOverrides("", overrides), dir->file("alone.db"), quiet, control);
    runner.createRun();
    alone = runner.run();
    ASSERT_EQ(alone.outcome, RunOutcome::Completed) << alone.error;
  }
  PauseAtFirstCheckpoint pause;
  RunControl control;
  ExperimentRunner runner(parseConfigWithOverrides("", overrides), dir->file("beside.db"), pause, control);
  runner.createRun();
  RunResult beside;
  std::thread training([&] { beside = runner.run(); });
  {
    std::unique_lock<std::mutex> lock(pause.mutex);
    pause.changed.wait(lock, [&] { return pause.reached; });
  }
  try {
    runMirrorTest(std::to_string(distilled_run) + ":teacher", std::to_string(distilled_run), mirrorOptions());
    ADD_FAILURE() << "the mirror test ran beside a training run";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("a run is training in this process"), std::string::npos) << e.what();
  }
  {
    std::lock_guard<std::mutex> lock(pause.mutex);
    pause.released = true;
  }
  pause.changed.notify_all();
  training.join();
  ASSERT_EQ(beside.outcome, RunOutcome::Completed) << beside.error;
  for (const char* key : {"eval/teacher_acc", "eval/student_acc", "eval/agreement", "eval/kl"})
    EXPECT_DOUBLE_EQ(beside.final.at(key), alone.final.at(key)) << key;
}

TEST(ModelSpec, AcceptsTheFormsConfigsUseAsWellAsBarePathsAndIds) {
  const TempDir folder;
  const std::string file = folder.file("teacher.pt");
  std::ofstream(file) << "stand-in";  // parsing checks only that the file exists
  EXPECT_EQ(parseModelSpec(file).torchscript_path, file);
  EXPECT_EQ(parseModelSpec("torchscript:" + file).torchscript_path, file);
  EXPECT_FALSE(parseModelSpec("torchscript:" + file).isRun());
  try {
    parseModelSpec("torchscript:" + folder.file("missing.pt"), "B");
    FAIL() << "a missing TorchScript file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().at(0).key, "B");
    EXPECT_NE(e.issues().at(0).message.find("no such TorchScript file"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parseModelSpec("run:3").run_id, 3);
  EXPECT_EQ(parseModelSpec("run:3").role, "student");
  EXPECT_EQ(parseModelSpec("run:3:teacher").role, "teacher");
  EXPECT_THROW(parseModelSpec("run:"), ConfigError);
  EXPECT_THROW(parseModelSpec("run:3:coach"), ConfigError);
}

TEST_F(FidelityRunTest, BadModelNamesAndRunsAreRefusedWithAMessage) {
  EXPECT_THROW(parseModelSpec("3:coach", "A"), ConfigError);
  EXPECT_THROW(parseModelSpec("/no/such/model.pt", "B"), ConfigError);
  EXPECT_EQ(parseModelSpec("3:teacher").role, "teacher");
  EXPECT_EQ(parseModelSpec("12").run_id, 12);
  EXPECT_THROW(analyzeRun(db, 99), StoreError);
  {
    // A run still in its first epoch: no student yet, and the message says so.
    RunStore store(db);
    NewRun record;
    record.name = "live";
    record.config_yaml = toYaml(defaultConfig());
    const int64_t live = store.createRun(record);
    try {
      analyzeRun(db, live);
      ADD_FAILURE() << "expected a ConfigError";
    } catch (const ConfigError& e) {
      EXPECT_NE(e.issues().at(0).message.find("no teacher checkpoint yet"), std::string::npos) << e.what();
    }
    store.deleteRun(live);
  }
  auto options = mirrorOptions();
  options.references = 1;
  EXPECT_THROW(runMirrorTest("1", "2", options), ConfigError);
  EXPECT_THROW(runMirrorTest("1", "99", mirrorOptions()), StoreError);
}

TEST_F(FidelityRunTest, MirrorTestRanksTheDistilledStudentCloserToItsTeacher) {
  const std::string teacher = std::to_string(distilled_run) + ":teacher";
  const MirrorReport distilled = runMirrorTest(teacher, std::to_string(distilled_run), mirrorOptions());
  const MirrorReport independent = runMirrorTest(teacher, std::to_string(independent_run), mirrorOptions());
  for (const auto* report : {&distilled, &independent}) {
    std::string table;
    for (const auto& p : report->probes)
      table += p.name + ": agreement " + std::to_string(p.agreement) + " kl " + std::to_string(p.kl) + " refs " +
               std::to_string(p.reference_agreement_mean) + " +/- " + std::to_string(p.reference_agreement_std) +
               " vsA " + std::to_string(p.reference_vs_a_agreement_mean) + " kl " + std::to_string(p.reference_vs_a_kl_mean) + "+-" + std::to_string(p.reference_vs_a_kl_std) + " min " + std::to_string(p.reference_vs_a_kl_min) + " z " + std::to_string(p.z) + (p.closer_than_references ? " CLOSER" : "") + "\n";
    std::cout << report->model_b << "\n" << table << report->verdict << "\n" << report->evidence << "\n";
  }
  ASSERT_EQ(distilled.probes.size(), independent.probes.size());
  ASSERT_GE(distilled.probes.size(), 5u);  // test, two noises, shifted, rotated
  EXPECT_FALSE(distilled.probes.front().off_distribution);
  // On the probes made from real images (test, shifted, rotated, mixup) the distilled student's
  // distribution is closer to its teacher's than the independent student's. (On pure noise a
  // student distilled on real images only extrapolates; no claim there.)
  int closer_probes[2] = {0, 0};
  for (size_t i = 0; i < distilled.probes.size(); ++i) {
    const auto& name = distilled.probes[i].name;
    ASSERT_EQ(name, independent.probes[i].name);
    closer_probes[0] += distilled.probes[i].closer_than_references;
    closer_probes[1] += independent.probes[i].closer_than_references;
    if (name == "test" || name == "shifted" || name == "rotated" || name == "mixup") {
      EXPECT_LT(distilled.probes[i].kl, independent.probes[i].kl) << name;
    }
  }
  EXPECT_GT(closer_probes[0], closer_probes[1]);
  EXPECT_TRUE(distilled.mirrors) << distilled.verdict;
  EXPECT_FALSE(independent.mirrors) << independent.verdict;
  EXPECT_EQ(distilled.references, 3);
}

// The references are trained by the one trainer: reference k is, weight for weight, the teacher
// that a run with its config trains: its seed, the architecture, recipe, training rows and
// epochs, on the CPU. Model A is such a run's teacher, seeded 1000 (the first reference's seed
// when options.seed is 0): the closest reference's KL to A is then exactly 0 on every probe
// set. The run's student has the teacher's shape, as a reference's config has: the trainer
// builds the student before phase 1, and the teacher it trains depends on what that build
// drew from LibTorch's global generator. The mirror test's former hand-written loop (its own
// optimizer, sampler seeding and schedule calls) trained other models from the same seed.
TEST_F(FidelityRunTest, AReferenceModelIsTheTeacherTheTrainerTrainsFromItsSeed) {
  const std::string reference_db = dir->file("reference.db");
  runExperiment(reference_db, {"dataset.limit_train=1000", "dataset.limit_test=200", "teacher.hidden=[64]",
                               "teacher.epochs=2", "student.hidden=[64]", "train.epochs=1", "seed=1000",
                               "device=cpu", "threads=0"});
  MirrorOptions options;
  options.database_path = reference_db;
  options.references = 2;  // seeds 1000 (the run's) and 1001
  options.probe_samples = 200;
  const MirrorReport report = runMirrorTest("1:teacher", "1:teacher", options);
  ASSERT_GE(report.probes.size(), 5u);
  for (const auto& probe : report.probes) {
    EXPECT_EQ(probe.reference_vs_a_kl_min, 0.0) << probe.name;  // reference 1 is A
    EXPECT_GT(probe.reference_vs_a_kl_mean, 0.0) << probe.name;  // reference 2 is not
  }
  EXPECT_EQ(report.references, 2);
}

std::vector<std::filesystem::path> scratchFolders() {
  std::vector<std::filesystem::path> found;
  const std::string prefix = "distill-mirror-" + std::to_string(getpid()) + "-";
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) found.push_back(entry.path());
  return found;
}

// A stop set while a reference model trains reaches its trainer, which stops between steps:
// the test ends with MirrorStopped long before 1000 epochs of the reference are done, and the
// reference's scratch folder is gone.
TEST_F(FidelityRunTest, StoppingTheMirrorTestStopsTheReferenceTrainer) {
  std::atomic<bool> stop{false};
  auto options = mirrorOptions();
  options.reference_epochs = 1000;  // minutes, if the stop were honoured only between references
  options.stop = &stop;
  options.progress = [&](const std::string& line) {
    if (line.rfind("training reference model 1/", 0) == 0) stop = true;  // read by reference 1's trainer
  };
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(runMirrorTest(std::to_string(distilled_run) + ":teacher", std::to_string(distilled_run), options),
               MirrorStopped);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 30.0);
  EXPECT_TRUE(scratchFolders().empty());
}

// A reference whose training diverges (the recipe of B's run: a learning rate far too high)
// is reported with its seed and what to change, in the words the mirror test always used.
TEST_F(FidelityRunTest, ADivergingReferenceIsReportedWithItsSeed) {
  const std::string diverging_db = dir->file("diverging.db");
  runExperiment(diverging_db, {"dataset.limit_train=500", "dataset.limit_test=100", "teacher.hidden=[32]",
                               "teacher.epochs=1", "student.hidden=[16]", "train.epochs=1", "threads=0"});
  {
    // Run 2 reuses run 1's teacher; its own recipe (train.lr) diverges, as its student did.
    ExperimentConfig config = parseConfigWithOverrides(
        "", {"dataset.limit_train=500", "dataset.limit_test=100", "teacher.hidden=[32]", "teacher.epochs=1",
             "teacher.source=run:1", "student.hidden=[16]", "train.epochs=1", "train.lr=1e30", "threads=0"});
    TrainingObserver quiet;
    RunControl control;
    ExperimentRunner runner(config, diverging_db, quiet, control);
    runner.createRun();
    ASSERT_EQ(runner.run().outcome, RunOutcome::Failed);
  }
  MirrorOptions options;
  options.database_path = diverging_db;
  options.references = 2;
  options.probe_samples = 100;
  try {
    runMirrorTest("1:teacher", "2:teacher", options);
    ADD_FAILURE() << "the references trained with train.lr=1e30";
  } catch (const ModelError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("reference model (seed 1000) diverged at step ", 0), 0u) << message;
    EXPECT_NE(message.find("; lower train.lr"), std::string::npos) << message;
  }
  EXPECT_TRUE(scratchFolders().empty());
}

}  // namespace
}  // namespace distill
