// The metrics the language-model task evaluates on its validation blocks, named once, and what
// the window shows of them (lmTaskDisplay()). Per token, over the held-out documents.
#pragma once

#include "core/metrics/metric_info.h"

namespace distill {

namespace metric_key {
inline constexpr char kTeacherPerplexity[] = "eval/teacher_ppl";
inline constexpr char kStudentPerplexity[] = "eval/student_ppl";
inline constexpr char kTeacherValLoss[] = "eval/teacher_val_loss";  // cross-entropy, nats per token
inline constexpr char kStudentValLoss[] = "eval/student_val_loss";
inline constexpr char kTeacherTokenAcc[] = "eval/teacher_token_acc";  // next-token top-1 accuracy
inline constexpr char kStudentTokenAcc[] = "eval/student_token_acc";
inline constexpr char kTokenAgreement[] = "eval/token_agreement";  // same top-1 next token
inline constexpr char kTokenKl[] = "eval/token_kl";                // KL(teacher || student) per token, nats
inline constexpr char kTokenTopFiveOverlap[] = "eval/token_top5_overlap";
}  // namespace metric_key

// Charts: loss (training losses and validation cross-entropy), teacher-student agreement per
// token, validation perplexity.
const TaskDisplay& lmTaskDisplay();

}  // namespace distill
