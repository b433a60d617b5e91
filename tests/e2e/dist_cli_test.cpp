// `distill run --nproc 2` end to end on a toy dataset: a rank killed mid-run ends the run as
// failed with the rank named, and `distill resume --nproc 2` finishes it from its last
// checkpoint; the pre-flight refuses a rendezvous port in use, naming rank and port.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "core/store/run_store.h"
#include "support/cli_support.h"
#include "support/test_support.h"

namespace distill::testing {
namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool anyStateCheckpoint(const std::filesystem::path& folder) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(folder, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec))
    if (it->path().filename() == "state.pt") return true;
  return false;
}

std::string toyArgs(const std::filesystem::path& data) {
  return "--set dataset.name=idx --set dataset.path=" + quote(data.string()) +
         " --set dataset.mean=0.2 --set dataset.std=0.3 --set teacher.hidden=[128] --set teacher.dropout=0"
         " --set teacher.epochs=12 --set student.hidden=[16] --set train.epochs=6 --set train.batch_size=32"
         " --set train.log_every=5 --set seed=3 --set threads=1";
}

TEST(DistCli, ARankThatDiesFailsTheRunNamingItAndResumeFinishesIt) {
  TempDir dir;
  writeToyIdxDataset(dir.path() / "data", 1200, 200, 4, false);
  const std::string db = dir.file("runs.db");
  const auto err = dir.path() / "err.txt";
  const std::string command = std::string(DISTILL_CLI_PATH) + " run --nproc 2 -q --dist-timeout 10 --db " + quote(db) +
                              " " + toyArgs(dir.path() / "data") + " > " + quote(dir.file("out.txt")) + " 2> " +
                              quote(err.string());
  const pid_t launcher = ::fork();
  if (launcher == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  // The launcher names the ranks' pids; rank 1 is killed once the first checkpoint is written.
  pid_t rank_one = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string text = readFile(err);
    static const std::regex pids(R"(pids (\d+), (\d+))");
    if (!rank_one && std::regex_search(text, match, pids)) rank_one = std::stoi(match[2]);
    if (rank_one && anyStateCheckpoint(dir.path())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(rank_one, 0) << readFile(err);
  ASSERT_EQ(::kill(rank_one, SIGKILL), 0);
  int status = 0;
  ::waitpid(launcher, &status, 0);
  const std::string errors = readFile(err);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << errors;
  EXPECT_NE(errors.find("rank 1 (pid " + std::to_string(rank_one) + ") was killed by signal 9"), std::string::npos)
      << errors;
  {
    RunStore store(db);
    const auto run = store.getRun(1);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, RunStatus::Failed) << run->error;
    EXPECT_NE(run->error.find("rank 1 (pid " + std::to_string(rank_one)), std::string::npos) << run->error;
    EXPECT_NE(run->error.find("died or stopped responding"), std::string::npos) << run->error;
    EXPECT_NE(run->environment.at("data_parallel").find("rank 0 of 2"), std::string::npos);
  }

  const auto resumed = distillCli("resume 1 --nproc 2 -q --db " + quote(db));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  RunStore store(db);
  const auto run = store.getRun(1);
  EXPECT_EQ(run->status, RunStatus::Completed);
  EXPECT_GT(run->final_metrics.at("eval/student_acc"), 0.5);
  // The student's last evaluation is at its last step: 6 epochs of 38 steps.
  int64_t last_step = 0;
  for (const auto& point : store.metrics(1))
    if (point.key == "eval/student_acc") last_step = std::max(last_step, point.step);
  EXPECT_EQ(last_step, 6 * 38);
}

TEST(DistCli, ThePreFlightRefusesARendezvousPortInUseNamingTheRankAndPort) {
  TempDir dir;
  writeToyIdxDataset(dir.path() / "data", 200, 50, 4, false);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  const auto result = runCommand("MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
                                 " RANK=0 WORLD_SIZE=2 " + std::string(DISTILL_CLI_PATH) + " run -q --db " +
                                 quote(dir.file("runs.db")) + " " + toyArgs(dir.path() / "data"));
  ::close(fd);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("rank 0 cannot serve the rendezvous on port " + std::to_string(port)), std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("runs.db")));  // refused before anything was recorded
}

}  // namespace
}  // namespace distill::testing
