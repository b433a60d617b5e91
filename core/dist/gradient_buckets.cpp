#include "core/dist/gradient_buckets.h"

#include <utility>

namespace distill {

BucketPlan planBuckets(const std::vector<int64_t>& bytes, const std::vector<std::string>& dtype_keys,
                       int64_t first_bucket_bytes, int64_t bucket_bytes) {
  BucketPlan plan;
  int64_t filled = 0;
  std::string key;
  for (size_t k = bytes.size(); k-- > 0;) {
    // While one bucket exists it is the first, filled to first_bucket_bytes; later ones to
    // bucket_bytes. A bucket closes once it holds at least its size (so a parameter larger than
    // a bucket gets one of its own), or when the dtype or device changes.
    const int64_t limit = plan.buckets.size() == 1 ? first_bucket_bytes : bucket_bytes;
    if (plan.buckets.empty() || filled >= limit || dtype_keys[k] != key) {
      plan.buckets.emplace_back();
      filled = 0;
      key = dtype_keys[k];
    }
    plan.buckets.back().push_back(k);
    filled += bytes[k];
  }
  return plan;
}

GradientBuckets::GradientBuckets(CollectiveGroup& group, std::vector<torch::Tensor> parameters, WaitFn wait,
                                 int64_t first_bucket_bytes, int64_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)), wait_(std::move(wait)) {
  const size_t n = parameters_.size();
  if (n > 0) device_ = parameters_.front().device();
  std::vector<int64_t> bytes(n);
  std::vector<std::string> keys(n);
  for (size_t k = 0; k < n; ++k) {
    const auto& p = parameters_[k];
    bytes[k] = p.requires_grad() ? p.numel() * static_cast<int64_t>(p.element_size()) : 0;
    keys[k] = std::string(c10::toString(p.scalar_type())) + "@" + p.device().str();
  }
  const BucketPlan plan = planBuckets(bytes, keys, first_bucket_bytes, bucket_bytes);
  bucket_of_.assign(n, 0);
  slot_of_.assign(n, 0);
  received_.assign(n, 0);
  has_hook_.assign(n, false);
  hook_ids_.assign(n, 0);
  for (const auto& members : plan.buckets) {
    Bucket bucket;
    int64_t elements = 0;
    for (size_t k : members) {
      if (!parameters_[k].requires_grad()) continue;
      bucket_of_[k] = buckets_.size();
      slot_of_[k] = bucket.parameters.size();
      bucket.parameters.push_back(k);
      bucket.offsets.push_back(elements);
      elements += parameters_[k].numel();
    }
    if (bucket.parameters.empty()) continue;
    const auto& first = parameters_[bucket.parameters.front()];
    bucket.flat = torch::zeros({elements}, first.options().requires_grad(false));
    buckets_.push_back(std::move(bucket));
  }
  for (size_t k = 0; k < n; ++k) {
    if (!parameters_[k].requires_grad()) continue;
    hook_ids_[k] = parameters_[k].register_hook([this, k](const torch::Tensor& gradient) { onGradient(k, gradient); });
    has_hook_[k] = true;
  }
}

GradientBuckets::~GradientBuckets() {
  for (size_t k = 0; k < parameters_.size(); ++k)
    if (has_hook_[k]) parameters_[k].remove_hook(hook_ids_[k]);
}

void GradientBuckets::beginStep(const torch::Tensor& stats, double local_units) {
  for (auto& bucket : buckets_) {
    bucket.pending = bucket.parameters.size();
    bucket.work.reset();
  }
  std::fill(received_.begin(), received_.end(), 0);
  next_to_start_ = 0;
  started_during_backward_ = 0;
  weight_ = local_units;
  // The step's sums (units, loss terms, the stop flag) go first: every rank issues them before
  // any bucket, so the collectives line up.
  // On the parameters' device: NCCL reduces CUDA tensors only (Gloo takes either).
  stats_ = stats.to(device_, torch::kFloat64).contiguous().clone();
  std::vector<torch::Tensor> tensors{stats_};
  stats_work_ = group_.allreduce(tensors);
  armed_ = true;
}

void GradientBuckets::onGradient(size_t k, const torch::Tensor& gradient) {
  if (!armed_ || received_[k]) return;  // outside a step (none happens), or a second call
  Bucket& bucket = buckets_[bucket_of_[k]];
  const auto& p = parameters_[k];
  bucket.flat.narrow(0, bucket.offsets[slot_of_[k]], p.numel()).view_as(p).copy_(gradient);
  received_[k] = 1;
  if (--bucket.pending == 0) startReadyBuckets();
}

void GradientBuckets::startReadyBuckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending == 0) {
    start(buckets_[next_to_start_]);
    if (!in_finish_) ++started_during_backward_;
    ++next_to_start_;
  }
}

void GradientBuckets::start(Bucket& bucket) {
  // This rank's share of the weighted sum; a rank with no units (an empty shard) adds zeros,
  // whatever its gradients hold (a mean over nothing is NaN).
  if (weight_ == 0.0)
    bucket.flat.zero_();
  else if (weight_ != 1.0)
    bucket.flat.mul_(weight_);
  std::vector<torch::Tensor> tensors{bucket.flat};
  bucket.work = group_.allreduce(tensors);
}

torch::Tensor GradientBuckets::finishStep() {
  armed_ = false;
  in_finish_ = true;
  // Parameters backward left without a gradient on this rank add zeros.
  for (auto& bucket : buckets_) {
    if (bucket.pending == 0) continue;
    for (size_t s = 0; s < bucket.parameters.size(); ++s) {
      const size_t k = bucket.parameters[s];
      if (received_[k]) continue;
      bucket.flat.narrow(0, bucket.offsets[s], parameters_[k].numel()).zero_();
    }
    bucket.pending = 0;
  }
  startReadyBuckets();
  in_finish_ = false;
  // Which parameters got a gradient on any rank: those alone get one (one process leaves an
  // unused parameter's gradient undefined, and the optimizer skips it).
  auto host_flags = torch::empty({static_cast<int64_t>(received_.size())}, torch::kFloat32);
  auto* f = host_flags.data_ptr<float>();
  for (size_t k = 0; k < received_.size(); ++k) f[k] = received_[k] ? 1.0f : 0.0f;
  std::vector<torch::Tensor> flag_tensors{host_flags.to(device_)};
  auto flags_work = group_.allreduce(flag_tensors);

  wait_(*stats_work_, "the step's loss sums");
  for (auto& bucket : buckets_) wait_(*bucket.work, "a gradient bucket");
  wait_(*flags_work, "the gradient flags");
  host_flags.copy_(flag_tensors.front());

  const double global_units = stats_[0].item<double>();
  const double scale = global_units > 0 ? 1.0 / global_units : 0.0;
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    bucket.flat.mul_(scale);
    for (size_t s = 0; s < bucket.parameters.size(); ++s) {
      const size_t k = bucket.parameters[s];
      auto& p = parameters_[k];
      if (f[k] == 0.0f) continue;
      const auto reduced = bucket.flat.narrow(0, bucket.offsets[s], p.numel()).view_as(p);
      if (p.grad().defined())
        p.mutable_grad().copy_(reduced);
      else
        p.mutable_grad() = reduced.clone();
    }
  }
  return stats_.to(torch::kCPU);
}

}  // namespace distill
