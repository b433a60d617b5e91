// A smaller student made from its teacher: the teacher's decoder with only every k-th block
// kept, every other weight (embeddings, positions, final norm, head) copied. This is how
// DistilBERT and DistilGPT2 were initialised (Sanh et al. 2019, "DistilBERT, a distilled version
// of BERT": "taking one layer out of two"): the student starts from the teacher's own features
// instead of noise, and distillation then teaches the kept blocks to stand in for the dropped
// ones.
//
// Blocks 0, k, 2k, ... below the teacher's block count L are kept, ceil(L / k) of them, in order;
// k = 1 is a copy of the whole teacher. Works for any model hfConfigOf() describes (the task's
// GPT, a GPT-2, the Llama family): the student is built by buildHfModel() from the teacher's
// config with fewer layers, so it has the teacher's class, vocabulary and context.
//
// Usage:
//   Model teacher = loadHfModel("/models/gpt2");            // 12 blocks
//   Model student = keepEveryKthBlock(*teacher, 2);          // 6 blocks: 0, 2, 4, 6, 8, 10
//
// Thread contract: a plain function; the teacher is read on the calling thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "core/models/model.h"

namespace distill {

// The blocks of a teacher of `layers` blocks that every `k`-th keeps: 0, k, 2k, ... (< layers).
std::vector<int64_t> keptBlocks(int64_t layers, int64_t k);

// The student described above, in training mode, on the CPU. Throws ModelError for k < 1 and for
// a teacher hfConfigOf() cannot describe (names the model's summary).
Model keepEveryKthBlock(const ModelImpl& teacher, int64_t k);

// The weights of keepEveryKthBlock(teacher, k) copied into `student`, a model of that shape
// (one keepEveryKthBlock made from a teacher of the same config), on whatever device and dtype
// the student is. What a run whose teacher it trains itself does after phase 1: the student was
// made from the untrained teacher, and starts phase 2 from the trained one's blocks. Throws
// ModelError naming a parameter the two do not share or whose shapes differ.
void copyEveryKthBlock(const ModelImpl& teacher, int64_t k, ModelImpl& student);

}  // namespace distill
