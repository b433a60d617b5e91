// Resolves `teacher.source` into weights to load: `train` needs none; `run:<id>` takes the
// teacher checkpoint of that run and its teacher architecture; `torchscript:<path>` is
// checked to exist (the trainer loads it); `hf:<folder>` is checked to be a model folder the
// workbench reads (core/hf/hf_source.h) and its folder is the weights to load; anything else is
// a path to a .pt file for the configured teacher architecture. student.source
// torchscript:<path> and hf:<folder> are checked too. For an lm run, lm.tokenizer's default
// becomes the Hugging Face model's tokenizer (runTokenizerSpec), so the run records the value.
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

// Adjusts config.teacher.model to the source run's teacher architecture, sets
// config.teacher.weights to the weights found and config.lm.tokenizer as above. Throws
// ConfigError (key teacher.source, student.source) when the run or its checkpoint does not
// exist, a file or folder is missing or is no model the workbench reads, or when an lm run's
// teacher was tokenized otherwise than config.lm.tokenizer says (both tokenizers named).
ResolvedTeacher resolveTeacherSource(ExperimentConfig& config, RunStore& store);

}  // namespace distill
