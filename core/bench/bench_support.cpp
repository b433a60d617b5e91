#include "core/bench/bench_support.h"

#include <algorithm>
#include <stdexcept>

#include "core/metrics/metric_keys.h"
#include "core/models/linear.h"

namespace distill::bench {

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void synchronize(const torch::Device& device) {
  // The one place the benchmark waits for the device: before reading a clock.
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double timedRate(const std::function<void()>& work, double flops_per_call, double trial_s, int trials,
                 const torch::Device& device) {
  work();  // warm-up: first-call allocations and BLAS thread start-up
  synchronize(device);
  std::vector<double> rates;
  for (int t = 0; t < trials; ++t) {
    int64_t calls = 0;
    const auto start = Clock::now();
    do {
      work();
      ++calls;
      if (calls % 4 == 0) synchronize(device);
    } while (secondsSince(start) < trial_s);
    synchronize(device);
    rates.push_back(flops_per_call * static_cast<double>(calls) / secondsSince(start));
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

MatmulRate measureSquareMatmul(const torch::Device& device, double trial_s, bool linear_library) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto a = torch::randn({1024, 1024}, options), b = torch::randn({1024, 1024}, options);
  auto c = torch::empty({1024, 1024}, options);
  const double flops = 2.0 * 1024 * 1024 * 1024;
  if (linear_library)
    return {"1024x1024x1024 (" + currentLinearGemm().description + ")",
            timedRate([&] { matmulInto(c, a, false, b, false); }, flops, trial_s, 5, device) / 1e9};
  return {"1024x1024x1024 (LibTorch mm)", timedRate([&] { torch::mm_out(c, a, b); }, flops, trial_s, 5, device) / 1e9};
}

MatmulRate measureStepGemms(const std::string& name, const std::vector<GemmShape>& layers, bool linear_library,
                            const torch::Device& device, double trial_s, int trials) {
  torch::NoGradGuard no_grad;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  std::vector<torch::Tensor> xs, ws, dys, outs_f, outs_dx, outs_dw;
  double flops = 0.0;
  for (const auto& layer : layers) {
    xs.push_back(torch::randn({layer.rows, layer.in}, options));
    ws.push_back(torch::randn({layer.out, layer.in}, options));
    dys.push_back(torch::randn({layer.rows, layer.out}, options));
    outs_f.push_back(torch::empty({layer.rows, layer.out}, options));
    outs_dx.push_back(torch::empty({layer.rows, layer.in}, options));
    outs_dw.push_back(torch::empty({layer.out, layer.in}, options));
    flops += 3.0 * 2.0 * static_cast<double>(layer.rows * layer.in * layer.out);
  }
  const std::string library = linear_library ? currentLinearGemm().description : "LibTorch mm";
  auto work = [&] {
    for (size_t i = 0; i < xs.size(); ++i) {
      if (linear_library) {
        matmulInto(outs_f[i], xs[i], false, ws[i], true);
        matmulInto(outs_dx[i], dys[i], false, ws[i], false);
        matmulInto(outs_dw[i], dys[i], true, xs[i], false);
      } else {
        torch::mm_out(outs_f[i], xs[i], ws[i].t());
        torch::mm_out(outs_dx[i], dys[i], ws[i]);
        torch::mm_out(outs_dw[i], dys[i].t(), xs[i]);
      }
    }
  };
  return {name + (device.is_cpu() ? " (" + library + ")" : std::string()),
          timedRate(work, flops, trial_s, trials, device) / 1e9};
}

PhaseTimer::PhaseTimer(RunControl& control, Phase phase, double seconds, int64_t units_per_step)
    : control_(control), phase_(phase), seconds_(seconds), units_per_step_(units_per_step) {}

void PhaseTimer::onMetrics(const std::vector<MetricPoint>& points) {
  const std::string loss_key = phase_ == Phase::Teacher ? metric_key::kTeacherTrainLoss : metric_key::kStudentTrainLoss;
  for (const auto& p : points) {
    if (p.key != loss_key) continue;
    const auto now = Clock::now();
    if (first_step_ < 0) {
      first_step_ = p.step;
      first_time_ = now;
      continue;
    }
    last_step_ = p.step;
    last_time_ = now;
    if (measuredSeconds() >= seconds_) control_.requestStop();
  }
}

void PhaseTimer::onLog(LogLevel level, const std::string& message) {
  if (message.rfind("phase 2:", 0) == 0) phase2_start_ = Clock::now();
  // "cached the teacher's logits on N training inputs", "cached the teacher's top-20
  // log-probabilities ...", or "reused the teacher's top-20 cache ..." (a file from before).
  if (message.rfind("cached the teacher's", 0) == 0 || message.rfind("reused the teacher's", 0) == 0)
    cache_build_s_ = std::chrono::duration<double>(Clock::now() - phase2_start_).count();
  if (level == LogLevel::Error) error_ = message;
}

double PhaseTimer::measuredSeconds() const {
  return last_step_ > first_step_ ? std::chrono::duration<double>(last_time_ - first_time_).count() : 0.0;
}

int64_t PhaseTimer::measuredUnits() const {
  return last_step_ > first_step_ ? (last_step_ - first_step_) * units_per_step_ : 0;
}

std::vector<std::string> teacherCacheOverrides(const std::string& kind) {
  std::vector<std::string> overrides{"distill.teacher_cache=" + kind};
  if (kind == "topk") overrides.push_back("distill.teacher_cache_k=20");
  return overrides;
}

BenchPhase phaseResult(const std::string& name, double units_per_s, int64_t units, double seconds,
                       double flops_per_unit) {
  BenchPhase phase;
  phase.name = name;
  phase.units = units;
  phase.seconds = seconds;
  phase.units_per_s = units_per_s;
  phase.flops_per_unit = flops_per_unit;
  phase.gflops = units_per_s * flops_per_unit / 1e9;
  return phase;
}

BenchPhase trainedPhase(const std::string& name, const PhaseTimer& timer, double flops_per_unit) {
  const double seconds = timer.measuredSeconds();
  const int64_t units = timer.measuredUnits();
  if (units == 0 || seconds <= 0)
    throw std::runtime_error("bench " + name + ": the run ended before a full measured interval (" + timer.error() + ")");
  return phaseResult(name, static_cast<double>(units) / seconds, units, seconds, flops_per_unit);
}

}  // namespace distill::bench
