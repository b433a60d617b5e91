// The metric keys the trainer logs for every task, named once. Every file that reads or writes
// one uses these names, not string literals; what each means, its unit, bounds, direction and
// chart are declared in trainingMetrics() (core/metrics/metric_info.cpp). A task's own keys
// (eval/...) are named in its room (core/tasks/image/image_metrics.h). Tests keep
// the literal strings on purpose: they are the names stored in users' databases, which a
// renamed constant must not silently change.
#pragma once

namespace distill::metric_key {

// Training, every few steps (means over the interval).
inline constexpr char kTeacherTrainLoss[] = "train/teacher_loss";
inline constexpr char kStudentTrainLoss[] = "train/student_loss";
inline constexpr char kKdLoss[] = "train/kd_loss";
inline constexpr char kCeLoss[] = "train/ce_loss";
inline constexpr char kHintLoss[] = "train/hint_loss";
inline constexpr char kSamplesPerSecond[] = "perf/samples_per_s";  // a task counting samples
inline constexpr char kTokensPerSecond[] = "perf/tokens_per_s";    // a task counting tokens

}  // namespace distill::metric_key
