#include "core/dist/launcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "core/dist/launch_env.h"

namespace distill {

namespace {

std::atomic<int> g_signal{0};
std::atomic<int> g_signal_count{0};
extern "C" void onLauncherSignal(int signal) {
  g_signal = signal;
  ++g_signal_count;
}

std::string describeStatus(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "was killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

std::vector<std::string> withoutNproc(const std::vector<std::string>& args, int* nproc) {
  std::vector<std::string> kept;
  if (nproc) *nproc = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--nproc" && i + 1 < args.size()) {
      if (nproc) *nproc = std::atoi(args[i + 1].c_str());
      ++i;
    } else if (a.rfind("--nproc=", 0) == 0) {
      if (nproc) *nproc = std::atoi(a.c_str() + 8);
    } else {
      kept.push_back(a);
    }
  }
  return kept;
}

int launchLocalRanks(const LaunchOptions& options) {
  const int port = options.master_port > 0 ? options.master_port : freeLoopbackPort();
  auto report = [&](const std::string& line) {
    if (options.report) options.report(line);
  };
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  struct sigaction action {};
  action.sa_handler = onLauncherSignal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::vector<pid_t> pids(options.nproc, -1);
  std::vector<int> status(options.nproc, 0);
  std::vector<bool> ended(options.nproc, false);
  pid_t group = 0;
  for (int r = 0; r < options.nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (int k = 0; k < r; ++k) ::kill(pids[k], SIGKILL);
      throw std::runtime_error(std::string("cannot start rank ") + std::to_string(r) + ": " + std::strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, group);  // the ranks share one process group, apart from the terminal's
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
      ::setenv("DISTILL_LAUNCHED_BY", "distill --nproc", 1);
      ::execv(argv[0], argv.data());
      std::fprintf(stderr, "error: cannot run %s: %s\n", argv[0], std::strerror(errno));
      std::_Exit(127);
    }
    if (group == 0) group = pid;
    ::setpgid(pid, group);
    pids[r] = pid;
  }
  report("started " + std::to_string(options.nproc) + " ranks on 127.0.0.1:" + std::to_string(port) + " (pids " +
         [&] {
           std::string list;
           for (int r = 0; r < options.nproc; ++r) list += (r ? ", " : "") + std::to_string(pids[r]);
           return list;
         }() +
         ")");

  int forwarded = 0;
  bool someone_failed = false;
  std::chrono::steady_clock::time_point failed_at;
  bool terminated = false;
  int running = options.nproc;
  while (running > 0) {
    if (g_signal_count > forwarded) {
      forwarded = g_signal_count;
      ::kill(-group, g_signal.load());
    }
    bool changed = false;
    for (int r = 0; r < options.nproc; ++r) {
      if (ended[r]) continue;
      int s = 0;
      if (::waitpid(pids[r], &s, WNOHANG) != pids[r]) continue;
      ended[r] = true;
      status[r] = s;
      --running;
      changed = true;
      const bool ok = WIFEXITED(s) && WEXITSTATUS(s) == 0;
      if (!ok && !(WIFEXITED(s) && WEXITSTATUS(s) == 130)) {
        report("rank " + std::to_string(r) + " (pid " + std::to_string(pids[r]) + ") " + describeStatus(s));
        if (!someone_failed) failed_at = std::chrono::steady_clock::now();
        someone_failed = true;
      }
    }
    if (someone_failed && running > 0 && std::chrono::steady_clock::now() - failed_at > options.grace) {
      report("stopping the " + std::to_string(running) + " rank(s) still running " +
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options.grace).count()) +
             " s after a rank failed");
      ::kill(-group, terminated ? SIGKILL : SIGTERM);
      terminated = true;
      failed_at = std::chrono::steady_clock::now() - options.grace + std::chrono::seconds(10);
    }
    if (!changed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  const int rank0 = status[0];
  if (WIFEXITED(rank0) && (WEXITSTATUS(rank0) != 0 || !someone_failed)) return WEXITSTATUS(rank0);
  return 1;
}

}  // namespace distill
