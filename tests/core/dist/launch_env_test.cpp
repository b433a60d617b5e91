#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "core/config/config.h"
#include "core/dist/launch_env.h"
#include "core/dist/launcher.h"

namespace distill {
namespace {

EnvLookup lookupIn(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

std::string configErrorKey(const std::map<std::string, std::string>& values) {
  try {
    distEnvFromEnvironment(lookupIn(values));
  } catch (const ConfigError& e) {
    return e.issues().front().key;
  }
  return "";
}

TEST(LaunchEnv, TorchrunsVariablesPlaceTheRank) {
  const auto env = distEnvFromEnvironment(lookupIn(
      {{"MASTER_ADDR", "node1"}, {"MASTER_PORT", "29500"}, {"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
       {"TORCHELASTIC_USE_AGENT_STORE", "True"}}));
  ASSERT_TRUE(env);
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "node1");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_TRUE(env->agent_store);
}

TEST(LaunchEnv, NoVariablesOrAWorldOfOneIsOneProcess) {
  EXPECT_FALSE(distEnvFromEnvironment(lookupIn({})));
  EXPECT_FALSE(distEnvFromEnvironment(
      lookupIn({{"MASTER_ADDR", "a"}, {"MASTER_PORT", "1234"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}})));
  // A Slurm job of one task (a sweep's worker) is one process too.
  EXPECT_FALSE(distEnvFromEnvironment(lookupIn({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}})));
}

TEST(LaunchEnv, SomeButNotAllOfTorchrunsVariablesAreRefusedNamingTheMissingOne) {
  EXPECT_EQ(configErrorKey({{"MASTER_ADDR", "a"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}}), "MASTER_PORT");
  EXPECT_EQ(configErrorKey({{"MASTER_ADDR", "a"}, {"MASTER_PORT", "x"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}}), "MASTER_PORT");
  EXPECT_EQ(configErrorKey({{"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}, {"RANK", "2"}, {"WORLD_SIZE", "2"}}), "RANK");
}

TEST(LaunchEnv, SlurmsVariablesUseTheJobsFirstNodeAndAPortFromTheJobId) {
  const auto env = distEnvFromEnvironment(lookupIn({{"SLURM_NTASKS", "8"},
                                                    {"SLURM_PROCID", "5"},
                                                    {"SLURM_LOCALID", "1"},
                                                    {"SLURM_JOB_NODELIST", "gpu[07-10],login1"},
                                                    {"SLURM_JOB_ID", "123456"},
                                                    {"PATH", "/nonexistent"}}));
  ASSERT_TRUE(env);
  EXPECT_EQ(env->source, "Slurm");
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "gpu07");
  EXPECT_EQ(env->master_port, 20000 + 123456 % 10000);
  EXPECT_EQ(configErrorKey({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}, {"SLURM_JOB_ID", "1"}}), "SLURM_JOB_NODELIST");
}

TEST(LaunchEnv, SlurmNodeListsExpand) {
  using V = std::vector<std::string>;
  EXPECT_EQ(parseSlurmNodeList("node1"), V({"node1"}));
  EXPECT_EQ(parseSlurmNodeList("gpu[01-03,07],login1"), V({"gpu01", "gpu02", "gpu03", "gpu07", "login1"}));
  EXPECT_EQ(parseSlurmNodeList("n[8-10]"), V({"n8", "n9", "n10"}));
  EXPECT_EQ(parseSlurmNodeList("rack[1-2]-n[1-2]"), V({"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"}));
}

TEST(LaunchEnv, ALoopbackAddressIsRefusedOnlyWhenTheRunSpansHosts) {
  // Debian's /etc/hosts maps the host name to 127.0.1.1: fine on one host, a Gloo failure on two.
  EXPECT_EQ(checkRankAddress(0, "127.0.1.1", "node1", {"node1", "node1"}), "");
  const std::string problem = checkRankAddress(1, "127.0.1.1", "node2", {"node1", "node2"});
  EXPECT_NE(problem.find("rank 1"), std::string::npos) << problem;
  EXPECT_NE(problem.find("127.0.1.1"), std::string::npos) << problem;
  EXPECT_NE(problem.find("GLOO_SOCKET_IFNAME"), std::string::npos) << problem;
  EXPECT_EQ(checkRankAddress(1, "10.0.0.2", "node2", {"node1", "node2"}), "");
  EXPECT_TRUE(isLoopbackAddress("127.0.0.1"));
  EXPECT_FALSE(isLoopbackAddress("10.1.2.3"));
  EXPECT_EQ(localAddressToward("127.0.0.1", 29500), "127.0.0.1");
}

TEST(LaunchEnv, APortInUseIsSeen) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  std::string why;
  EXPECT_FALSE(canListenOn(port, &why));
  EXPECT_FALSE(why.empty());
  ::close(fd);
  EXPECT_TRUE(canListenOn(port, &why)) << why;
}

TEST(Launcher, NprocIsTakenOutOfTheRanksCommandLine) {
  int n = 0;
  EXPECT_EQ(withoutNproc({"run", "--nproc", "4", "cfg.yaml", "-q"}, &n), std::vector<std::string>({"run", "cfg.yaml", "-q"}));
  EXPECT_EQ(n, 4);
  EXPECT_EQ(withoutNproc({"resume", "3", "--nproc=2"}, &n), std::vector<std::string>({"resume", "3"}));
  EXPECT_EQ(n, 2);
}

}  // namespace
}  // namespace distill
