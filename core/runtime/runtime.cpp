#include "core/runtime/runtime.h"

#include <atomic>
#include <dlfcn.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <thread>

#include "core/config/config.h"
#include "core/runtime/gemm.h"
#include "core/version.h"

namespace distill {

std::string resolveDevice(const std::string& spec) {
  const bool cuda = torch::cuda::is_available();
  if (spec == "auto") return cuda ? "cuda:0" : "cpu";
  if (spec == "cpu") return "cpu";
  if (!cuda) throw ConfigError({{"device", "'" + spec + "' asked for, but no CUDA device is available (use auto or cpu)"}});
  if (spec == "cuda") return "cuda:0";
  const int index = std::stoi(spec.substr(5));
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count)
    throw ConfigError({{"device", "'" + spec + "': this machine has " + std::to_string(count) + " CUDA device(s)"}});
  return spec;
}

std::vector<std::string> availableDevices() {
  std::vector<std::string> devices{"cpu"};
  if (torch::cuda::is_available())
    for (size_t i = 0; i < torch::cuda::device_count(); ++i) devices.push_back("cuda:" + std::to_string(i));
  return devices;
}

int cpuCores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadSettings applyThreadSettings(int requested, const std::string& gemm) {
  using SetThreads = void (*)(int);
  using GetThreads = int (*)();
  using GetConfig = char* (*)();
  // Looked up at run time: LibTorch links whichever BLAS the system provides.
  auto set_blas_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get_blas_threads = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  auto get_blas_config = reinterpret_cast<GetConfig>(dlsym(RTLD_DEFAULT, "openblas_get_config"));

  ThreadSettings settings;
  const int cores = cpuCores();
  settings.blas = get_blas_config ? std::string(get_blas_config()) : "unknown BLAS (not OpenBLAS)";
  // oneDNN runs on OpenMP, the pool of torch's intra-op threads: its products (linear layers,
  // core/models/linear.h) and ATen's oneDNN convolutions get as many threads as torch.
  const LinearGemmChoice products = selectLinearGemm(gemm, requested > 0 ? requested : cores);
  settings.gemm = products.description;
  int blas_threads = cores;
  if (requested > 0) {
    settings.intra_op_threads = requested;
    blas_threads = std::max(1, std::min(cores, cores / requested));
    settings.reason = "threads set in the config";
  } else if (products.onednn) {
    // The GEMMs run on OpenMP now, so torch's threads no longer compete with OpenBLAS's for
    // them; OpenBLAS keeps one thread for what still calls it (so its threads never spin
    // against OpenMP's).
    settings.intra_op_threads = cores;
    blas_threads = 1;
    settings.reason = "auto: oneDNN products and torch threads on all " + std::to_string(cores) +
                      " cores, OpenBLAS 1 thread";
  } else if (set_blas_threads) {
    settings.intra_op_threads = 1;
    settings.reason = "auto: 1 torch thread, OpenBLAS on all " + std::to_string(cores) + " cores";
  } else {
    settings.intra_op_threads = cores;
    settings.reason = "auto: no OpenBLAS found, torch threads on all " + std::to_string(cores) + " cores";
  }
  if (set_blas_threads) {
    set_blas_threads(blas_threads);
    settings.blas_threads = get_blas_threads ? get_blas_threads() : blas_threads;
  } else {
    settings.blas_threads = 0;
  }
  torch::set_num_threads(settings.intra_op_threads);
  return settings;
}

std::string torchVersion() {
#ifdef TORCH_VERSION
  return TORCH_VERSION;
#else
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
#endif
}

std::string workbenchVersion() { return DISTILL_VERSION; }

std::string hostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

namespace {
std::atomic<int> g_training_runs{0};
}  // namespace

TrainingInProcess::TrainingInProcess() { g_training_runs.fetch_add(1); }
TrainingInProcess::~TrainingInProcess() { g_training_runs.fetch_sub(1); }
bool trainingInProcess() { return g_training_runs.load() > 0; }

}  // namespace distill
