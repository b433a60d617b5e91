// The compute environment: device choice, thread settings, versions. No torch types in this
// header, so the GUI can list devices and versions without LibTorch's headers.
// Thread contract: applyThreadSettings() changes process-wide settings; call it from the
// thread that will train, before training. The rest may be called from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace distill {

// "cpu" or "cuda:N" for a device spec (auto | cpu | cuda | cuda:N). Throws ConfigError
// (key "device") when CUDA is asked for but not available, or N is out of range.
std::string resolveDevice(const std::string& spec);

// Devices this machine offers, e.g. {"cpu", "cuda:0"}.
std::vector<std::string> availableDevices();

struct ThreadSettings {
  int intra_op_threads = 1;  // torch::set_num_threads
  int blas_threads = 1;      // OpenBLAS threads (0 when the BLAS cannot be steered)
  std::string blas;          // e.g. "OpenBLAS 0.3.21 pthread"
  std::string reason;        // why these numbers were chosen
  std::string gemm;          // the linear layers' matrix products, e.g. "oneDNN 2.6.3 (avx512_core), 2 threads"
};

// Chooses and applies thread settings. `gemm` (auto | onednn | blas) picks the library of the
// linear layers' products (core/models/linear.h). `requested` = 0 picks from the machine:
// - oneDNN products (auto where LibTorch exposes oneDNN): torch's intra-op threads on every core,
//   since oneDNN runs on the same OpenMP pool, and OpenBLAS on one thread;
// - LibTorch's matmul with a multi-threaded OpenBLAS: one torch intra-op thread and OpenBLAS on
//   every core (torch's own default of one intra-op thread per core made the plain KD loop ~4x
//   slower here, its OpenMP threads competing with OpenBLAS's);
// - otherwise one intra-op thread per core.
// Throws ConfigError (key "gemm") for a request this process cannot meet.
ThreadSettings applyThreadSettings(int requested, const std::string& gemm = "auto");

// Marks that a run trains in this process, for as long as it lives (the Trainer holds one).
// Work that would change process-wide state a run depends on (LibTorch's global generator,
// thread settings), such as the mirror test, checks trainingInProcess() and refuses.
class TrainingInProcess {
 public:
  TrainingInProcess();
  ~TrainingInProcess();
  TrainingInProcess(const TrainingInProcess&) = delete;
  TrainingInProcess& operator=(const TrainingInProcess&) = delete;
};
bool trainingInProcess();

int cpuCores();
std::string torchVersion();
std::string workbenchVersion();
std::string hostName();

}  // namespace distill
