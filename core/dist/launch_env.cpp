#include "core/dist/launch_env.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>

#include "core/config/config.h"
#include "core/sweep/process.h"

namespace distill {

namespace {

// A whole non-negative number in `text`, else ConfigError naming the variable.
int envNumber(const char* name, const char* text, int minimum) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < minimum || value > 1 << 30)
    throw ConfigError({ConfigIssue{name, std::string("expected a whole number >= ") + std::to_string(minimum) + ", got '" +
                                  text + "'"}});
  return static_cast<int>(value);
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::optional<DistEnv> distEnvFromEnvironment(const EnvLookup& lookup) {
  const char* torchrun[] = {"MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"};
  int present = 0;
  for (const char* name : torchrun) present += lookup(name) && *lookup(name) ? 1 : 0;
  if (present > 0 && present < 4) {
    for (const char* name : torchrun)
      if (!lookup(name) || !*lookup(name))
        throw ConfigError({ConfigIssue{name, "not set, while some of MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE are: a "
                                  "data-parallel rank needs all four (as torchrun sets them)"}});
  }
  DistEnv env;
  if (present == 4) {
    const char* launcher = lookup("DISTILL_LAUNCHED_BY");
    env.source = launcher && *launcher ? launcher : "torchrun variables";
    env.master_addr = lookup("MASTER_ADDR");
    env.master_port = envNumber("MASTER_PORT", lookup("MASTER_PORT"), 1);
    env.rank = envNumber("RANK", lookup("RANK"), 0);
    env.world_size = envNumber("WORLD_SIZE", lookup("WORLD_SIZE"), 1);
    if (const char* local = lookup("LOCAL_RANK"); local && *local) env.local_rank = envNumber("LOCAL_RANK", local, 0);
    if (const char* agent = lookup("TORCHELASTIC_USE_AGENT_STORE"))
      env.agent_store = std::string(agent) == "True" || std::string(agent) == "true" || std::string(agent) == "1";
  } else {
    const char* ntasks = lookup("SLURM_NTASKS");
    if (!ntasks || !*ntasks || envNumber("SLURM_NTASKS", ntasks, 1) <= 1) return std::nullopt;
    env.source = "Slurm";
    env.world_size = envNumber("SLURM_NTASKS", ntasks, 1);
    const char* procid = lookup("SLURM_PROCID");
    if (!procid || !*procid) throw ConfigError({ConfigIssue{"SLURM_PROCID", "not set while SLURM_NTASKS is (run the ranks with srun)"}});
    env.rank = envNumber("SLURM_PROCID", procid, 0);
    if (const char* local = lookup("SLURM_LOCALID"); local && *local) env.local_rank = envNumber("SLURM_LOCALID", local, 0);
    if (const char* addr = lookup("MASTER_ADDR"); addr && *addr) {
      env.master_addr = addr;
    } else {
      const char* nodes = lookup("SLURM_JOB_NODELIST");
      if (!nodes || !*nodes) nodes = lookup("SLURM_NODELIST");
      if (!nodes || !*nodes)
        throw ConfigError({ConfigIssue{"SLURM_JOB_NODELIST", "not set: the first node of the job is the rendezvous (or set MASTER_ADDR)"}});
      const auto hosts = expandSlurmNodeList(nodes);
      if (hosts.empty()) throw ConfigError({ConfigIssue{"SLURM_JOB_NODELIST", std::string("names no node: '") + nodes + "'"}});
      env.master_addr = hosts.front();
    }
    if (const char* port = lookup("MASTER_PORT"); port && *port) {
      env.master_port = envNumber("MASTER_PORT", port, 1);
    } else {
      const char* job = lookup("SLURM_JOB_ID");
      if (!job || !*job) throw ConfigError({ConfigIssue{"SLURM_JOB_ID", "not set: the rendezvous port is derived from it (or set MASTER_PORT)"}});
      env.master_port = 20000 + envNumber("SLURM_JOB_ID", job, 0) % 10000;
    }
  }
  if (env.world_size <= 1) return std::nullopt;
  if (env.rank >= env.world_size)
    throw ConfigError({{env.source == "Slurm" ? "SLURM_PROCID" : "RANK",
                        "rank " + std::to_string(env.rank) + " is not below the world size " + std::to_string(env.world_size)}});
  if (env.master_port > 65535) throw ConfigError({ConfigIssue{"MASTER_PORT", "expected a TCP port (1-65535), got " + std::to_string(env.master_port)}});
  return env;
}

std::optional<DistEnv> distEnvFromEnvironment() {
  return distEnvFromEnvironment([](const char* name) { return std::getenv(name); });
}

std::vector<std::string> parseSlurmNodeList(const std::string& list) {
  // Comma-separated at the top level; "prefix[a-b,c]suffix" expands its one bracket (Slurm's
  // node names carry at most one range group in practice; a second is expanded recursively).
  std::vector<std::string> hosts;
  std::vector<std::string> items;
  int depth = 0;
  std::string current;
  for (char c : list) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      if (!current.empty()) items.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) items.push_back(current);
  for (const auto& item : items) {
    const auto open = item.find('[');
    const auto close = item.find(']', open == std::string::npos ? 0 : open);
    if (open == std::string::npos || close == std::string::npos) {
      hosts.push_back(item);
      continue;
    }
    const std::string prefix = item.substr(0, open), inside = item.substr(open + 1, close - open - 1);
    const std::string rest = item.substr(close + 1);
    size_t start = 0;
    while (start <= inside.size()) {
      size_t comma = inside.find(',', start);
      if (comma == std::string::npos) comma = inside.size();
      const std::string range = inside.substr(start, comma - start);
      const auto dash = range.find('-');
      std::vector<std::string> names;
      if (dash == std::string::npos) {
        names.push_back(range);
      } else {
        const std::string low = range.substr(0, dash), high = range.substr(dash + 1);
        const long a = std::strtol(low.c_str(), nullptr, 10), b = std::strtol(high.c_str(), nullptr, 10);
        for (long n = a; n <= b && n - a < 100000; ++n) {
          std::string number = std::to_string(n);
          if (number.size() < low.size()) number.insert(0, low.size() - number.size(), '0');  // node007
          names.push_back(number);
        }
      }
      const std::vector<std::string> tails =
          rest.find('[') == std::string::npos ? std::vector<std::string>{rest} : parseSlurmNodeList(rest);
      for (const auto& name : names)
        for (const auto& tail : tails) hosts.push_back(prefix + name + tail);
      start = comma + 1;
    }
  }
  return hosts;
}

std::vector<std::string> expandSlurmNodeList(const std::string& list) {
  const auto result = runProgram({"scontrol", "show", "hostnames", list});
  if (result.exit_code == 0) {
    std::vector<std::string> hosts;
    size_t start = 0;
    while (start < result.output.size()) {
      size_t end = result.output.find('\n', start);
      if (end == std::string::npos) end = result.output.size();
      if (end > start) hosts.push_back(result.output.substr(start, end - start));
      start = end + 1;
    }
    if (!hosts.empty()) return hosts;
  }
  return parseSlurmNodeList(list);
}

int freeLoopbackPort() {
  Socket socket(::socket(AF_INET, SOCK_STREAM, 0));
  if (socket.fd() < 0) throw DistributedError(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw DistributedError(std::string("cannot bind a socket on 127.0.0.1: ") + std::strerror(errno));
  socklen_t length = sizeof address;
  ::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

bool canListenOn(int port, std::string* why) {
  Socket socket(::socket(AF_INET6, SOCK_STREAM, 0));
  const bool v6 = socket.fd() >= 0;
  Socket socket4(v6 ? -1 : ::socket(AF_INET, SOCK_STREAM, 0));
  const int fd = v6 ? socket.fd() : socket4.fd();
  if (fd < 0) {
    if (why) *why = std::string("cannot open a socket: ") + std::strerror(errno);
    return false;
  }
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // as TCPStore's server does
  int rc;
  if (v6) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (rc == 0) rc = ::listen(fd, 1);
  if (rc != 0 && why) *why = std::strerror(errno);
  return rc == 0;
}

std::string localAddressToward(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0 || !found)
    throw DistributedError("the rendezvous host '" + host + "' (MASTER_ADDR) does not resolve: " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  for (addrinfo* a = found; a; a = a->ai_next) {
    Socket socket(::socket(a->ai_family, SOCK_DGRAM, 0));
    if (socket.fd() < 0 || ::connect(socket.fd(), a->ai_addr, a->ai_addrlen) != 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&local), &length) != 0) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = local.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                                                 : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
    if (::inet_ntop(local.ss_family, raw, text, sizeof text)) return text;
  }
  throw DistributedError("no local address reaches the rendezvous host '" + host + "' (MASTER_ADDR)");
}

bool isLoopbackAddress(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

std::string checkRankAddress(int rank, const std::string& address, const std::string& host_name,
                             const std::vector<std::string>& hosts_of_ranks) {
  const std::set<std::string> hosts(hosts_of_ranks.begin(), hosts_of_ranks.end());
  if (hosts.size() <= 1 || !isLoopbackAddress(address)) return {};
  return "rank " + std::to_string(rank) + " on host '" + host_name + "' would offer its peers the address " + address +
         ", a loopback address, while the run spans " + std::to_string(hosts.size()) +
         " hosts: the others cannot reach it (Debian maps the host name to 127.0.1.1 in /etc/hosts). Set "
         "GLOO_SOCKET_IFNAME to the network interface that reaches the other hosts (e.g. GLOO_SOCKET_IFNAME=eth0), "
         "or make MASTER_ADDR an address on that network";
}

}  // namespace distill
