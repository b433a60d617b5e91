#include "app/cli/dist_command.h"

#include <fmt/format.h>

#include <csignal>
#include <filesystem>

#include "app/cli/cli_common.h"
#include "core/dist/distributed_run.h"
#include "core/dist/launch_env.h"
#include "core/dist/launcher.h"

namespace distill::cli {

namespace {

RunControl* g_rank_control = nullptr;
extern "C" void onRankInterrupt(int) {
  if (g_rank_control && !g_rank_control->stopRequested()) {
    g_rank_control->requestStop();
    return;
  }
  std::_Exit(kExitStopped);
}

}  // namespace

bool shouldLaunch(const DistArgs& args) { return args.nproc > 1 && !distEnvFromEnvironment(); }

int launchRanks(int argc, char** argv, const DistArgs& args) {
  std::vector<std::string> words(argv + 1, argv + argc);
  LaunchOptions options;
  options.argv = withoutNproc(words, nullptr);
  options.argv.insert(options.argv.begin(), std::filesystem::read_symlink("/proc/self/exe").string());
  options.nproc = args.nproc;
  // The others see a dead rank at their next collective; give them that long and some to store the run.
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(args.timeout_s * 1000)) + std::chrono::seconds(30);
  options.report = [](const std::string& line) { fmt::print(stderr, "distill: {}\n", line); };
  return launchLocalRanks(options);
}

std::unique_ptr<DistGroup> joinFromEnvironment(const DistArgs& args, bool cuda) {
  const auto env = distEnvFromEnvironment();
  if (!env) return nullptr;
  if (!(args.timeout_s > 0))
    throw ConfigError({{"--dist-timeout", "expected a positive number of seconds, got " + std::to_string(args.timeout_s)}});
  DistOptions options;
  options.env = *env;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(args.timeout_s * 1000));
  options.cuda = cuda;
  return DistGroup::connect(options);
}

int followRank(DistGroup& group) {
  RunControl control;
  g_rank_control = &control;
  std::signal(SIGINT, onRankInterrupt);
  std::signal(SIGTERM, onRankInterrupt);
  int code = kExitOk;
  try {
    const RunResult result = followRun(group, control);
    if (result.outcome == RunOutcome::Failed) {
      fmt::print(stderr, "error: rank {}: {}\n", group.rank(), result.error);
      code = kExitRunFailed;
    } else if (result.outcome == RunOutcome::Stopped) {
      code = kExitStopped;
    }
  } catch (const DistributedError& e) {
    fmt::print(stderr, "error: rank {}: {}\n", group.rank(), e.what());
    code = kExitRunFailed;
  }
  g_rank_control = nullptr;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  group.leave();
  return code;
}

}  // namespace distill::cli
