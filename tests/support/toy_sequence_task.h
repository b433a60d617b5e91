// A toy second task, to prove the task seam (core/tasks/task.h): copy a sequence of tokens.
// Sequences of 2 to 8 tokens over a vocabulary of 12 are padded to 8 (pad id 0, masked out:
// the loss, the speed in tokens/s and the evaluation count only real tokens); the target at
// position i is the token at position i. Models are an embedding, a
// hidden layer over the flattened sequence and one logit row per position ([B, 8, 12]).
// Nothing in the trainer, store, form or charts knows it: it runs through them as the image
// task does, and the tests check what a user would see (metrics stored, charts drawn).
#pragma once

#include "core/metrics/metric_info.h"  // no torch here: window tests (Qt) include this header

namespace distill::testing {

inline constexpr char kToyTask[] = "toy_copy";
inline constexpr char kToyTeacherAccuracy[] = "eval/toy_teacher_token_acc";
inline constexpr char kToyStudentAccuracy[] = "eval/toy_student_token_acc";
inline constexpr char kToyAgreement[] = "eval/toy_token_agreement";
inline constexpr char kToyKl[] = "eval/toy_token_kl";

// What the toy task shows: a loss chart and a "Copying" chart of token accuracies.
const TaskDisplay& toyTaskDisplay();
// Registers the toy task under kToyTask (idempotent). Its config: `task: toy_copy`;
// teacher.hidden[0] and student.hidden[0] size the models, dataset.limit_train and
// dataset.limit_test the splits (0: 512 and 128 sequences).
void registerToyTask();

}  // namespace distill::testing
