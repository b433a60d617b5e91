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
};

// Chooses and applies thread settings. `requested` = 0 picks from the machine: with a
// multi-threaded OpenBLAS, one torch intra-op thread and OpenBLAS on every core (torch's
// own default of one intra-op thread per core made the plain KD loop ~4x slower here, its
// OpenMP threads competing with OpenBLAS's); otherwise one intra-op thread per core.
ThreadSettings applyThreadSettings(int requested);

int cpuCores();
std::string torchVersion();
std::string workbenchVersion();
std::string hostName();

}  // namespace distill
