// The gradient all-reduce of a data-parallel step, bucketed as PyTorch's DDP does it: the
// parameters in reverse order (roughly the order backward produces their gradients), cut into
// buckets of about 1 MiB for the first and 25 MiB for the rest; a gradient hook
// (Tensor::register_hook, which LibTorch 1.13's C++ frontend has) copies each gradient into its
// bucket as backward produces it, and a bucket whose gradients have all arrived starts its
// all-reduce at once, on the process group's own threads, while backward goes on. Buckets start
// in their index order only (a ready bucket waits for the ones before it), so every rank issues
// the same collectives in the same order, as Gloo requires.
//
// Weighting: each rank multiplies its bucket by its own units before the sum, and finishStep()
// divides by the global units (core/train/data_parallel.h says why). A parameter that got no
// gradient on a rank contributes zeros there; one that got none on any rank keeps no gradient
// (as in one process, so the optimizer skips it): a small all-reduce of "got one" flags decides.
//
// Thread contract: the training thread; the hooks run on the thread that runs backward (on the
// CPU, the same one). Construct after the parameters are where they train (device) and destroy
// before them: the destructor removes the hooks.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/train/data_parallel.h"

#include <torch/version.h>

// The type that runs collectives: c10d::ProcessGroup in LibTorch 1.x; from 2.0 on a process
// group wraps backends, and ProcessGroupGloo / ProcessGroupNCCL are c10d::Backend.
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
namespace distill {
using CollectiveGroup = c10d::Backend;
}
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
namespace distill {
using CollectiveGroup = c10d::ProcessGroup;
}
#endif

namespace distill {

struct BucketPlan {
  // Indices into the parameter list, bucket by bucket; the first bucket holds the last parameters.
  std::vector<std::vector<size_t>> buckets;
};
// The buckets for parameters of these sizes in bytes (`dtype_keys`: parameters of different
// dtype or device never share a bucket). Pure; tested on its own.
BucketPlan planBuckets(const std::vector<int64_t>& bytes, const std::vector<std::string>& dtype_keys,
                       int64_t first_bucket_bytes = int64_t{1} << 20, int64_t bucket_bytes = int64_t{25} << 20);

class GradientBuckets : public GradientReducer {
 public:
  // `wait` waits for one collective, turning a failure into a DistributedError that names the
  // rank (the process group's owner diagnoses); `group` outlives this object.
  using WaitFn = std::function<void(c10d::Work&, const std::string& what)>;
  GradientBuckets(CollectiveGroup& group, std::vector<torch::Tensor> parameters, WaitFn wait,
                  int64_t first_bucket_bytes = int64_t{1} << 20, int64_t bucket_bytes = int64_t{25} << 20);
  ~GradientBuckets() override;
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  void beginStep(const torch::Tensor& stats, double local_units) override;
  torch::Tensor finishStep() override;

  size_t bucketCount() const { return buckets_.size(); }
  // Buckets started from a hook during the last backward (the rest started in finishStep()).
  size_t startedDuringBackward() const { return started_during_backward_; }

 private:
  struct Bucket {
    std::vector<size_t> parameters;
    std::vector<int64_t> offsets;  // element offsets in `flat`
    torch::Tensor flat;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  void onGradient(size_t parameter, const torch::Tensor& gradient);
  void startReadyBuckets();
  void start(Bucket& bucket);

  CollectiveGroup& group_;
  std::vector<torch::Tensor> parameters_;
  WaitFn wait_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, slot_of_;  // per parameter
  std::vector<unsigned> hook_ids_;
  std::vector<bool> has_hook_;
  std::vector<uint8_t> received_;
  bool armed_ = false;
  double weight_ = 1.0;
  size_t next_to_start_ = 0;
  size_t started_during_backward_ = 0;
  bool in_finish_ = false;
  torch::Device device_{torch::kCPU};  // the parameters' (the collectives' tensors live there)
  torch::Tensor stats_;
  c10::intrusive_ptr<c10d::Work> stats_work_;
};

}  // namespace distill
