// The metrics the image-classification task evaluates, named once, and what the window shows
// of them (imageTaskDisplay()). Tests keep the literal strings on purpose: they are the names
// stored in users' databases, which a renamed constant must not silently change.
#pragma once

#include "core/metrics/metric_info.h"

namespace distill {

namespace metric_key {
// Evaluation on the test split, once an epoch (or every train.eval_every steps).
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
}  // namespace metric_key

// Charts: loss (with the trainer's training losses), teacher-student agreement, test accuracy.
const TaskDisplay& imageTaskDisplay();

}  // namespace distill
