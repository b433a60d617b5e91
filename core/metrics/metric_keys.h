// The metric keys the image-classification trainer logs, named once. Every file that reads or
// writes a metric uses these names, not string literals; what each means, its unit, bounds and
// whether higher is better are declared beside them in core/metrics/metric_info.cpp. Tests keep
// the literal strings on purpose: they are the names stored in users' databases, which a
// renamed constant must not silently change.
#pragma once

namespace distill::metric_key {

// Evaluation on the test split, once an epoch.
inline constexpr char kTeacherAcc[] = "eval/teacher_acc";
inline constexpr char kStudentAcc[] = "eval/student_acc";
inline constexpr char kTeacherTestLoss[] = "eval/teacher_loss";
inline constexpr char kStudentTestLoss[] = "eval/student_loss";
inline constexpr char kTeacherEce[] = "eval/teacher_ece";
inline constexpr char kStudentEce[] = "eval/student_ece";
inline constexpr char kAgreement[] = "eval/agreement";  // top-1 agreement of student with teacher
inline constexpr char kKl[] = "eval/kl";                // KL(teacher || student), nats
inline constexpr char kTopFiveOverlap[] = "eval/top5_overlap";
inline constexpr char kJs[] = "eval/js";

// Training, every few steps (means over the interval).
inline constexpr char kTeacherTrainLoss[] = "train/teacher_loss";
inline constexpr char kStudentTrainLoss[] = "train/student_loss";
inline constexpr char kKdLoss[] = "train/kd_loss";
inline constexpr char kCeLoss[] = "train/ce_loss";
inline constexpr char kHintLoss[] = "train/hint_loss";
inline constexpr char kSamplesPerSecond[] = "perf/samples_per_s";

}  // namespace distill::metric_key
