// One data-parallel rank's membership of its run: the rendezvous through c10d's TCPStore (rank 0
// hosts it, unless a launcher's agent store is there already), the process group (c10d's
// ProcessGroupGloo on the CPU; ProcessGroupNCCL on CUDA builds that have it), the pre-flight
// (the address is no loopback alias in a multi-host run, the port is free, a small all-reduce
// completes) and the naming of a rank that failed. It implements the trainer's DataParallel.
//
//   auto group = DistGroup::connect(options);  // throws DistributedError naming rank and address
//   trainer options.parallel = group.get();
//
// A failed collective (a peer died: Gloo sees its connection close at once; a peer hung: the
// timeout) becomes a DistributedError that names the rank: every rank keeps a heartbeat counter
// in the store and posts its error there before it leaves, and the rank that sees the failure
// reads them. Every rank, from a thread of its own, adds to its counter twice a second.
//
// Thread contract: the training thread, except the heartbeat thread this class owns.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/dist/launch_env.h"
#include "core/train/data_parallel.h"

namespace c10d {
class Work;
}  // namespace c10d

namespace distill {

struct DistOptions {
  DistEnv env;
  // What one collective may take before the run fails (Gloo's timeout); `distill run
  // --dist-timeout`.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // What the rendezvous may take (ranks start at different times under srun), and how long the
  // other ranks wait while rank 0 loads the data, evaluates or checkpoints alone.
  std::chrono::milliseconds rendezvous_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds wait_timeout{std::chrono::minutes(60)};
  // "gloo", or "nccl" (CUDA builds with NCCL); "auto": nccl for a CUDA device where built, else gloo.
  std::string backend = "auto";
  bool cuda = false;  // the run trains on a CUDA device
};

class DistGroup : public DataParallel {
 public:
  // Rendezvous, process group, pre-flight. Throws DistributedError naming the rank, the
  // address and GLOO_SOCKET_IFNAME when the pre-flight fails.
  static std::unique_ptr<DistGroup> connect(const DistOptions& options);
  ~DistGroup() override;

  int rank() const override;
  int worldSize() const override;
  std::unique_ptr<GradientReducer> gradientReducer(const std::vector<torch::Tensor>& parameters) override;
  void broadcastFromRankZero(const std::vector<torch::Tensor>& tensors) override;
  void allReduceSum(torch::Tensor& values) override;
  void waitForAll(const std::string& what) override;

  // Small texts through the store: rank 0 publishes what the run is, the others read it.
  void publish(const std::string& key, const std::string& value);
  // Blocks until `key` is published (the rendezvous timeout); throws DistributedError when the
  // store went away (rank 0 ended first) or the wait timed out.
  std::string read(const std::string& key);
  // The end of the run, on every rank: the others say they are done; rank 0, which serves the
  // store, waits for them (up to the collective timeout, or until one's heartbeat stops) so
  // that no rank finds the store gone while it finishes.
  void leave();
  // Tells the others this rank leaves with `error` (a peer that then fails names it and the error).
  void postError(const std::string& error);

  const std::string& address() const;   // the address this rank's Gloo device uses
  const std::string& backendName() const;
  // "rank R of W on HOST (ADDRESS), rendezvous MASTER_ADDR:PORT (SOURCE), backend B": for logs.
  std::string describe() const override;
  // Waits for `work`; a failure becomes a DistributedError naming the failed rank.
  void wait(c10d::Work& work, const std::string& what, std::chrono::milliseconds timeout = {});

 private:
  struct Impl;
  explicit DistGroup(std::unique_ptr<Impl> impl);
  std::string diagnose(const std::string& what, const std::string& error);
  std::unique_ptr<Impl> impl_;
};

}  // namespace distill
