// Where a data-parallel rank finds its place in the run: the environment a launcher gives it
// (torchrun's MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE; Slurm's SLURM_PROCID, SLURM_NTASKS and
// the first node of the job as the rendezvous; `distill run --nproc N` sets torchrun's), and the
// address checks the pre-flight makes before any collective. No torch here.
//
// Thread contract: plain functions; any thread.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace distill {

// A data-parallel run cannot go on: a rank died or stopped answering, the rendezvous or the
// pre-flight failed. The message names the rank (and, where it applies, the address).
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;  // the rendezvous host (the TCPStore server runs there)
  int master_port = 0;
  // The store already runs in the launcher (torchrun sets TORCHELASTIC_USE_AGENT_STORE=True):
  // every rank is a client of it, rank 0 too.
  bool agent_store = false;
  std::string source;  // "torchrun variables" or "Slurm", for messages
};

using EnvLookup = std::function<const char*(const char*)>;

// The run this process joins, or none (one process): torchrun's variables first (all four must
// be set; some but not all is refused), else Slurm's when SLURM_NTASKS > 1. Under Slurm the
// rendezvous is the job's first node (MASTER_ADDR when set) and the port MASTER_PORT, else
// 20000 + the job id modulo 10000 (the same in every task of the job). A WORLD_SIZE of 1 is one
// process. Throws ConfigError naming the variable that is missing or malformed.
std::optional<DistEnv> distEnvFromEnvironment(const EnvLookup& lookup);
std::optional<DistEnv> distEnvFromEnvironment();

// The host names of a Slurm node list ("gpu[01-03,07],login1"): through `scontrol show
// hostnames` where scontrol is on PATH, else by this file's own reading of the syntax.
std::vector<std::string> expandSlurmNodeList(const std::string& list);
std::vector<std::string> parseSlurmNodeList(const std::string& list);  // the reading alone

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice).
int freeLoopbackPort();
// Whether a TCP server can listen on `port` on every interface; `why` says what is in the way.
bool canListenOn(int port, std::string* why);

// The local address this host would use to reach `host` (a UDP socket's source address after
// connect: no packet is sent). Throws DistributedError when `host` does not resolve.
std::string localAddressToward(const std::string& host, int port);
// 127.0.0.0/8 or ::1.
bool isLoopbackAddress(const std::string& address);
// The pre-flight's address rule: on a run whose ranks sit on more than one host, a rank may not
// use a loopback address (Debian maps the host name to 127.0.1.1 in /etc/hosts, and Gloo would
// then offer peers an address only this host can reach). Empty when fine, else the message,
// naming the rank, the address, the host name and GLOO_SOCKET_IFNAME.
std::string checkRankAddress(int rank, const std::string& address, const std::string& host_name,
                             const std::vector<std::string>& hosts_of_ranks);

}  // namespace distill
