// A language-model run's trained GPT back from the store, with the tokenizer it was trained
// with: what `distill generate` needs. The image task's counterpart is core/fidelity/run_models.h.
//
// Thread contract: plain functions; the store is used by the calling thread only.
#pragma once

#include <cstdint>
#include <string>

#include "core/tasks/lm/corpus.h"
#include "core/tasks/lm/gpt.h"

namespace distill {

class RunStore;

struct StoredLm {
  Tokenizer tokenizer;  // rebuilt from the run's stored config (its corpus, for char; its files)
  Gpt model{nullptr};   // trained weights, eval mode, on the CPU
  std::string checkpoint;  // the file the weights came from
};

// Rebuilds `role` (teacher | student) of run `run_id`, a run of task lm, from its stored config
// and its own checkpoint (the owner tag checked, as for export-model); a teacher the run took
// from elsewhere (teacher.source) is loaded from there. Throws StoreError for an unknown run,
// ConfigError (key RUN) for a run of another task ("run 3 is an image run; generate needs task:
// lm") or one without such a checkpoint, DataError when the corpus or the tokenizer's files
// cannot rebuild the run's tokenizer (its fingerprint, else kind and size, differ), ModelError naming the run when the weights do not fit.
StoredLm loadStoredLm(RunStore& store, int64_t run_id, const std::string& role);

}  // namespace distill
