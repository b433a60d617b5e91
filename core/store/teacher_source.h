// Resolves `teacher.source` into weights to load: `train` needs none; `run:<id>` takes the
// teacher checkpoint of that run and its teacher architecture; `torchscript:<path>` is
// checked to exist (the trainer loads it); anything else is a path to a .pt file for the
// configured teacher architecture. student.source torchscript:<path> is checked too.
#pragma once

#include <optional>
#include <string>

#include "core/config/config.h"

namespace distill {

class RunStore;

struct ResolvedTeacher {
  std::string weights_path;              // empty: train from scratch
  std::optional<int64_t> source_run_id;  // lineage for run:<id>
};

// Adjusts config.teacher.model to the source run's teacher architecture. Throws ConfigError
// (key teacher.source) when the run or its checkpoint does not exist, or when an lm run's
// teacher was tokenized otherwise than config.lm.tokenizer says (both tokenizers named).
ResolvedTeacher resolveTeacherSource(ExperimentConfig& config, RunStore& store);

}  // namespace distill
