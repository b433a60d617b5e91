#include "core/dist/dist_group.h"

#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/dist/gradient_buckets.h"
#include "core/runtime/runtime.h"

namespace distill {

namespace {

constexpr auto kHeartbeatInterval = std::chrono::milliseconds(500);
// A peer whose counter did not move over this long is taken for dead: three missed beats.
constexpr auto kSilenceIsDeath = std::chrono::milliseconds(1600);

std::string keyOf(const std::string& what, int rank) { return "distill/" + what + "/" + std::to_string(rank); }

std::vector<uint8_t> bytesOf(const std::string& text) { return {text.begin(), text.end()}; }
std::string textOf(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

std::string seconds(std::chrono::milliseconds ms) {
  std::ostringstream out;
  out << ms.count() / 1000.0 << " s";
  return out.str();
}

// The IPv4 address of network interface `name`, empty when it has none.
std::string interfaceAddress(const std::string& name) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || name != a->ifa_name) continue;
    char text[INET_ADDRSTRLEN] = {};
    if (::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text)) found = text;
    break;
  }
  ::freeifaddrs(list);
  return found;
}

c10::intrusive_ptr<c10d::TCPStore> openStore(const DistEnv& env, bool server, std::chrono::milliseconds timeout,
                                             bool wait_for_workers) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(env.master_port);
  options.isServer = server;
  if (wait_for_workers) options.numWorkers = static_cast<std::size_t>(env.world_size);
  options.waitWorkers = wait_for_workers;
  options.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
}

}  // namespace

struct DistGroup::Impl {
  DistOptions options;
  std::string host;
  std::string address;
  std::string backend;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<CollectiveGroup> group;
  std::vector<std::string> peers;  // "pid P on HOST (ADDRESS)" per rank
  int barriers = 0;

  std::thread heartbeat;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  int rank() const { return options.env.rank; }
  int world() const { return options.env.world_size; }
  std::string rendezvous() const { return options.env.master_addr + ":" + std::to_string(options.env.master_port); }
  std::string name(int r) const {
    return "rank " + std::to_string(r) + (r < static_cast<int>(peers.size()) && !peers[r].empty() ? " (" + peers[r] + ")" : "");
  }

  // Adds to this rank's counter twice a second through a store connection of its own (a
  // TCPStore client is not shared between threads), until the group goes away.
  void startHeartbeat() {
    heartbeat = std::thread([this] {
      try {
        auto own = openStore(options.env, /*server=*/false, std::chrono::seconds(5), /*wait_for_workers=*/false);
        std::unique_lock<std::mutex> lock(mutex);
        while (!stopping) {
          own->add(keyOf("alive", rank()), 1);
          wake.wait_for(lock, kHeartbeatInterval, [this] { return stopping; });
        }
      } catch (const std::exception&) {
        // The store is gone (rank 0 ended): the training thread finds out at its next collective.
      }
    });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }
};

DistGroup::DistGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DistGroup::~DistGroup() = default;

std::unique_ptr<DistGroup> DistGroup::connect(const DistOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const DistEnv& env = options.env;
  const std::string me = "rank " + std::to_string(env.rank);
  impl->host = hostName();

  // The port: rank 0 serves the rendezvous there (unless a launcher's store already does).
  const bool server = env.rank == 0 && !env.agent_store;
  if (server) {
    std::string why;
    if (!canListenOn(env.master_port, &why))
      throw DistributedError(me + " cannot serve the rendezvous on port " + std::to_string(env.master_port) +
                             " (MASTER_PORT): " + why + "; another run may hold it: choose another MASTER_PORT");
  }
  try {
    impl->store = openStore(env, server, options.rendezvous_timeout, /*wait_for_workers=*/!env.agent_store);
  } catch (const std::exception& e) {
    throw DistributedError(me + " could not meet the others at the rendezvous " + impl->rendezvous() + " (" + env.source +
                           ") within " + seconds(options.rendezvous_timeout) + ": " + e.what());
  }

  // The address this rank offers its peers.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  std::string interface;
  if (ifname && *ifname) {
    interface = std::string(ifname).substr(0, std::string(ifname).find(','));
    impl->address = interfaceAddress(interface);
    if (impl->address.empty())
      throw DistributedError(me + " on host '" + impl->host + "': GLOO_SOCKET_IFNAME='" + ifname +
                             "' names no network interface with an IPv4 address here");
  } else {
    impl->address = isLoopbackAddress(env.master_addr) ? "127.0.0.1" : localAddressToward(env.master_addr, env.master_port);
  }
  // Who is where: the address rule needs every rank's host.
  impl->store->set(keyOf("rank", env.rank), bytesOf(impl->host + "\t" + impl->address + "\t" + std::to_string(::getpid())));
  std::vector<std::string> hosts;
  impl->peers.resize(env.world_size);
  for (int r = 0; r < env.world_size; ++r) {
    const std::string info = textOf(impl->store->get(keyOf("rank", r)));
    std::istringstream fields(info);
    std::string host, address, pid;
    std::getline(fields, host, '\t');
    std::getline(fields, address, '\t');
    std::getline(fields, pid, '\t');
    hosts.push_back(host);
    impl->peers[r] = "pid " + pid + " on " + host + ", " + address;
  }
  if (const auto problem = checkRankAddress(env.rank, impl->address, impl->host, hosts); !problem.empty())
    throw DistributedError(problem);

  const std::string where = me + " (address " + impl->address + ", rendezvous " + impl->rendezvous() + ")";
  std::string backend = options.backend == "auto" ? (options.cuda ? "nccl" : "gloo") : options.backend;
#ifndef USE_C10D_NCCL
  if (backend == "nccl" && options.backend == "auto") backend = "gloo";
#endif
  impl->backend = backend;
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("distill/pg", impl->store);
  try {
    if (backend == "gloo") {
#ifdef USE_C10D_GLOO
      auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
      gloo->devices.push_back(interface.empty() ? c10d::ProcessGroupGloo::createDeviceForHostname(impl->address)
                                                : c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      gloo->threads = 2;
      impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank, env.world_size, gloo);
#else
      throw DistributedError("this build of the workbench has no Gloo (its LibTorch was found without the gloo "
                             "headers: install libgloo-dev and rebuild)");
#endif
    } else if (backend == "nccl") {
#ifdef USE_C10D_NCCL
      auto nccl = c10d::ProcessGroupNCCL::Options::create();
      nccl->timeout = options.timeout;
      impl->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world_size, nccl);
#else
      throw DistributedError("backend nccl: this build's LibTorch has no NCCL (a CPU build); use gloo");
#endif
    } else {
      throw DistributedError("unknown data-parallel backend '" + backend + "' (expected gloo, nccl or auto)");
    }
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(where + " could not connect to its peers within " + seconds(options.timeout) + ": " +
                           e.what() + ". If the hosts have several network interfaces, set GLOO_SOCKET_IFNAME to the one "
                           "that reaches the others");
  }
  impl->startHeartbeat();

  auto group = std::unique_ptr<DistGroup>(new DistGroup(std::move(impl)));
  // The pre-flight's last check: a small all-reduce completes and sums to the world size.
  auto probe = torch::ones({1}, torch::kFloat32);
  try {
    group->allReduceSum(probe);
  } catch (const std::exception& e) {
    throw DistributedError("pre-flight all-reduce failed on " + where + ": " + e.what() +
                           ". Check that the address is reachable from the other hosts; set GLOO_SOCKET_IFNAME to the "
                           "interface that reaches them");
  }
  if (probe.item<float>() != static_cast<float>(env.world_size))
    throw DistributedError("pre-flight all-reduce on " + where + " summed to " + std::to_string(probe.item<float>()) +
                           ", expected the world size " + std::to_string(env.world_size));
  return group;
}

int DistGroup::rank() const { return impl_->rank(); }
int DistGroup::worldSize() const { return impl_->world(); }
const std::string& DistGroup::address() const { return impl_->address; }
const std::string& DistGroup::backendName() const { return impl_->backend; }

std::string DistGroup::describe() const {
  return "rank " + std::to_string(rank()) + " of " + std::to_string(worldSize()) + " on " + impl_->host + " (" +
         impl_->address + "), rendezvous " + impl_->rendezvous() + " (" + impl_->options.env.source + "), backend " +
         impl_->backend + ", timeout " + seconds(impl_->options.timeout);
}

std::string DistGroup::diagnose(const std::string& what, const std::string& error) {
  const int me = rank();
  std::string cause;
  try {
    std::map<int, int64_t> before;
    for (int r = 0; r < worldSize(); ++r)
      if (r != me) before[r] = impl_->store->add(keyOf("alive", r), 0);
    std::this_thread::sleep_for(kSilenceIsDeath);
    std::vector<std::string> silent, failed;
    for (const auto& [r, count] : before) {
      if (impl_->store->check({keyOf("error", r)})) {
        failed.push_back(impl_->name(r) + " failed: " + textOf(impl_->store->get(keyOf("error", r))));
      } else if (impl_->store->add(keyOf("alive", r), 0) == count) {
        silent.push_back(impl_->name(r));
      }
    }
    for (const auto& s : silent) cause += (cause.empty() ? "" : "; ") + s + " died or stopped responding (no heartbeat for " + seconds(kSilenceIsDeath) + ")";
    // A rank that failed first is the cause; others that failed after it only saw it go.
    if (silent.empty() && !failed.empty()) cause = failed.front();
  } catch (const std::exception&) {
    cause = impl_->name(0) + ", which serves the rendezvous store at " + impl_->rendezvous() + ", has ended";
  }
  std::string message = cause.empty() ? std::string("a collective failed") : cause;
  message += " (seen by rank " + std::to_string(me) + " waiting for " + what + ": " + error + ")";
  return message;
}

void DistGroup::wait(c10d::Work& work, const std::string& what, std::chrono::milliseconds timeout) {
  try {
    if (timeout.count() > 0)
      work.wait(timeout);
    else
      work.wait();
  } catch (const DistributedError&) {
    throw;
  } catch (const c10::Error& e) {
    const std::string message = diagnose(what, e.what_without_backtrace());
    postError(message);
    throw DistributedError(message);
  } catch (const std::exception& e) {
    const std::string message = diagnose(what, e.what());
    postError(message);
    throw DistributedError(message);
  }
}

void DistGroup::postError(const std::string& error) {
  try {
    impl_->store->set(keyOf("error", rank()), bytesOf(error));
  } catch (const std::exception&) {
    // The store is gone with rank 0; nobody is left to read it.
  }
}

std::unique_ptr<GradientReducer> DistGroup::gradientReducer(const std::vector<torch::Tensor>& parameters) {
  return std::make_unique<GradientBuckets>(*impl_->group, parameters,
                                           [this](c10d::Work& work, const std::string& what) { wait(work, what); });
}

void DistGroup::broadcastFromRankZero(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  std::vector<std::vector<torch::Tensor>> held;  // each call's list stays alive until its wait
  held.reserve(tensors.size());
  for (const auto& tensor : tensors) {
    if (!tensor.defined() || tensor.numel() == 0) continue;
    held.push_back({tensor.detach()});
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    works.push_back(impl_->group->broadcast(held.back(), options));
  }
  for (auto& work : works) wait(*work, "the broadcast of rank 0's weights");
}

void DistGroup::allReduceSum(torch::Tensor& values) {
  // NCCL reduces CUDA tensors only: a CPU tensor makes the trip to the current device.
  const bool to_device = impl_->backend == "nccl" && !values.is_cuda();
  torch::Tensor buffer = to_device ? values.to(torch::kCUDA) : (values.is_contiguous() ? values : values.contiguous());
  std::vector<torch::Tensor> tensors{buffer};
  auto work = impl_->group->allreduce(tensors);
  wait(*work, "an all-reduce");
  if (to_device || !values.is_contiguous()) values.copy_(tensors.front());
}

void DistGroup::waitForAll(const std::string& what) {
  // Through the store, not Gloo: Gloo's barrier has the collective timeout, and rank 0 may take
  // minutes alone (loading, evaluating, checkpointing). Each rank adds itself to the barrier's
  // count; the last one marks it done. While waiting, a rank that has not arrived and whose
  // heartbeat stopped is named.
  const std::string key = "distill/barrier/" + std::to_string(impl_->barriers++);
  try {
    if (impl_->store->add(key, 1) == worldSize()) impl_->store->set(key + "/done", bytesOf("1"));
    const auto start = std::chrono::steady_clock::now();
    std::map<int, std::pair<int64_t, std::chrono::steady_clock::time_point>> last_beat;
    while (!impl_->store->check({key + "/done"})) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const auto now = std::chrono::steady_clock::now();
      if (now - start > impl_->options.wait_timeout)
        throw DistributedError("rank " + std::to_string(rank()) + " waited " + seconds(impl_->options.wait_timeout) +
                               " for the other ranks (" + what + ")");
      for (int r = 0; r < worldSize(); ++r) {
        if (r == rank()) continue;
        if (impl_->store->check({keyOf("error", r)}))
          throw DistributedError(impl_->name(r) + " failed: " + textOf(impl_->store->get(keyOf("error", r))) +
                                 " (seen by rank " + std::to_string(rank()) + " waiting for " + what + ")");
        const int64_t beat = impl_->store->add(keyOf("alive", r), 0);
        auto [it, fresh] = last_beat.try_emplace(r, beat, now);
        if (!fresh && beat != it->second.first) it->second = {beat, now};
        if (now - it->second.second > kSilenceIsDeath)
          throw DistributedError(impl_->name(r) + " died or stopped responding (no heartbeat for " +
                                 seconds(kSilenceIsDeath) + "; seen by rank " + std::to_string(rank()) +
                                 " waiting for " + what + ")");
      }
    }
  } catch (const DistributedError& e) {
    postError(e.what());
    throw;
  } catch (const std::exception& e) {
    const std::string message = impl_->name(0) + ", which serves the rendezvous store at " + impl_->rendezvous() +
                                ", has ended (seen by rank " + std::to_string(rank()) + " waiting for " + what +
                                ": " + e.what() + ")";
    throw DistributedError(message);
  }
}

void DistGroup::leave() {
  try {
    if (rank() != 0) {
      impl_->store->set(keyOf("left", rank()), bytesOf("1"));
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    std::map<int, std::pair<int64_t, std::chrono::steady_clock::time_point>> last_beat;
    for (int r = 1; r < worldSize(); ++r) {
      while (!impl_->store->check({keyOf("left", r)}) && !impl_->store->check({keyOf("error", r)})) {
        const auto now = std::chrono::steady_clock::now();
        if (now - start > impl_->options.timeout) return;
        const int64_t beat = impl_->store->add(keyOf("alive", r), 0);
        auto [it, fresh] = last_beat.try_emplace(r, beat, now);
        if (!fresh && beat != it->second.first) it->second = {beat, now};
        if (now - it->second.second > kSilenceIsDeath) break;  // gone already
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  } catch (const std::exception&) {
    // Leaving: a store that is gone has nobody left to wait for.
  }
}

void DistGroup::publish(const std::string& key, const std::string& value) { impl_->store->set("distill/" + key, bytesOf(value)); }

std::string DistGroup::read(const std::string& key) {
  try {
    return textOf(impl_->store->get("distill/" + key));
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(rank()) + " could not read '" + key + "' from the rendezvous store at " +
                           impl_->rendezvous() + " (" + impl_->name(0) + " ended first, or took longer than " +
                           seconds(impl_->options.rendezvous_timeout) + "): " + e.what());
  }
}

}  // namespace distill
