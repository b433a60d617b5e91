// A language-model run's trained model back from the store, with the tokenizer it was trained
// with: what `distill generate`, `samples`, `fidelity`, `mirror` and `export-model` need. The
// image task's counterpart is core/fidelity/run_models.h.
//
// The architecture: a model the run recorded a Hugging Face config.json for (its environment's
// teacher_hf_config, student_hf_config: hf: sources, teacher-blocks students, models over a
// padded vocabulary; core/tasks/lm/lm_task.h) is rebuilt from that, so a run does not depend on
// where a student's source folder is now; any other is the task's GPT of the stored config's keys.
// The weights: the run's own checkpoint; a teacher the run took from elsewhere (teacher.source
// run:<id>, a .pt file, an hf: folder) from there.
//
// Thread contract: plain functions; the store is used by the calling thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/hf/hf_config.h"
#include "core/tasks/lm/causal_lm.h"
#include "core/tasks/lm/corpus.h"

namespace distill {

class RunStore;

struct StoredLm {
  Tokenizer tokenizer;     // rebuilt from the run's stored config (its corpus, for char; its files)
  CausalLm model{nullptr};  // trained weights, eval mode, on the CPU: the task's GPT, a GPT-2 or a Llama
  std::string checkpoint;  // the file (or Hugging Face folder) the weights came from
  // The config.json the run recorded for the model (with its source's token ids), when it did.
  std::optional<HfConfig> hf_config;
};

// Rebuilds `role` (teacher | student) of run `run_id`, a run of task lm, as described above (the
// owner tag of its checkpoint checked, as for export-model). Throws StoreError for an unknown run,
// ConfigError (key RUN) for a run of another task ("run 3 is an image run; generate needs task:
// lm") or one without such a checkpoint, ConfigError (key teacher.source) when the teacher's
// source is gone, DataError when the corpus or the tokenizer's files cannot rebuild the run's
// tokenizer (its fingerprint, else kind and size, differ) or a recorded config or a folder's
// weights do not fit, ModelError naming the run when the weights of a file do not fit.
StoredLm loadStoredLm(RunStore& store, int64_t run_id, const std::string& role);

}  // namespace distill
