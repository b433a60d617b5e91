// The c10d Gloo all-reduce alone, outside the trainer: two processes on 127.0.0.1 (a TCPStore
// served by rank 0, ProcessGroupGloo on the loopback device), one torch thread each, 3 warm-up
// calls then 20 timed all-reduces of N float32 values; rank 0 prints median, min and max.
// BENCHMARKS.md, "Data-parallel runs", quotes it. Not built by CMake:
//
//   g++ -std=c++17 -O2 -DUSE_C10D_GLOO tests/benchmarks/gloo_allreduce.cpp \
//     -I/usr/include/torch/csrc/api/include -ltorch -ltorch_cpu -lc10 -o /tmp/gloo_allreduce
//   /tmp/gloo_allreduce 2395210     # the default image teacher's gradients
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <iostream>
static int rankMain(int rank, int world, int port, int64_t n) {
  torch::set_num_threads(1);
  c10d::TCPStoreOptions so; so.port = port; so.isServer = rank == 0; so.numWorkers = world;
  auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(30));
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  c10d::ProcessGroupGloo pg(store, rank, world, opts);
  std::vector<at::Tensor> t{torch::ones({n})};
  for (int i = 0; i < 3; ++i) pg.allreduce(t)->wait();
  std::vector<double> ms;
  for (int i = 0; i < 20; ++i) { auto a = std::chrono::steady_clock::now(); pg.allreduce(t)->wait(); ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count()); }
  std::sort(ms.begin(), ms.end());
  if (rank == 0) std::cout << n * 4 / 1e6 << " MB: median " << ms[10] << " ms, min " << ms[0] << " ms, max " << ms[19] << " ms\n";
  return 0;
}
int main(int argc, char** argv) {
  int64_t n = std::atoll(argv[1]); int port = 29600 + (n % 1000);
  pid_t child = fork();
  if (child == 0) _exit(rankMain(1, 2, port, n));
  int rc = rankMain(0, 2, port, n); int st = 0; waitpid(child, &st, 0); return rc;
}
