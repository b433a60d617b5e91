// A test helper process: runs (or resumes) an experiment into a database, optionally slowed at
// each checkpoint so that a test can SIGKILL it at a known point.
//   run_experiment DB [--slow-ms N] [--resume RUN] [KEY=VALUE...]
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.h"
#include "core/train/experiment_runner.h"

namespace {
class SlowCheckpoints : public distill::TrainingObserver {
 public:
  explicit SlowCheckpoints(int ms) : ms_(ms) {}
  void onCheckpoint(const distill::CheckpointInfo& checkpoint) override {
    if (checkpoint.role == "state") std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
  }

 private:
  int ms_;
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string db = argv[1];
  int slow_ms = 0;
  int64_t resume = 0;
  std::vector<std::string> overrides;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--slow-ms" && i + 1 < argc) slow_ms = std::stoi(argv[++i]);
    else if (arg == "--resume" && i + 1 < argc) resume = std::stoll(argv[++i]);
    else overrides.push_back(arg);
  }
  try {
    SlowCheckpoints observer(slow_ms);
    distill::RunControl control;
    auto runner = resume > 0 ? std::make_unique<distill::ExperimentRunner>(distill::ResumeRun{resume}, db, observer, control)
                             : std::make_unique<distill::ExperimentRunner>(
                                   distill::parseConfigWithOverrides("", overrides), db, observer, control);
    const int64_t id = runner->createRun();
    std::printf("%lld\n", static_cast<long long>(id));
    std::fflush(stdout);
    return runner->run().outcome == distill::RunOutcome::Completed ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
