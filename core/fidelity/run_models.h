// Loading the trained models of a finished (or running) run back from the store: the run's
// stored config gives the architecture, its checkpoints (<db folder>/checkpoints/run-<id>)
// the weights. Also parses the model names the mirror test takes: `RUN` (its student),
// `RUN:teacher`, `RUN:student` (also `run:RUN[:role]`, as configs write a run), or a
// TorchScript file as `torchscript:PATH` (as configs write it) or its bare path.
// Thread contract: plain functions; the store is used by the calling thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/models/model.h"

namespace distill {

class RunStore;
struct RunRecord;

// A model named on the command line or in the mirror dialog.
struct ModelSpec {
  std::string text;             // as given
  int64_t run_id = 0;           // > 0: a run's model
  std::string role = "student";  // teacher | student (for a run)
  std::string torchscript_path;  // otherwise: a TorchScript file
  bool isRun() const { return run_id > 0; }
};
// Throws ConfigError (key `field`) for text that is neither [run:]RUN[:teacher|:student] nor an
// existing file ([torchscript:]PATH).
ModelSpec parseModelSpec(const std::string& text, const std::string& field = "MODEL");

// The stored config of a run (parsed from its config_yaml). Throws StoreError for an unknown run.
ExperimentConfig storedRunConfig(RunStore& store, int64_t run_id);

// Rebuilds `role` (teacher | student) of a run with its trained weights, in eval mode on the CPU.
// The teacher may come from the run's own checkpoint, or from where the run took it
// (teacher.source run:<id>, torchscript:<path> or a weights file). Throws ConfigError naming
// the run when it has no such checkpoint, ModelError when the weights do not fit.
Model loadRunModel(RunStore& store, int64_t run_id, const std::string& role, const std::vector<int64_t>& input_shape,
                   int64_t num_classes);

// A TorchScript file as a model for inputs of `input_shape` (eval mode). Throws ModelError.
Model loadTorchScriptFile(const std::string& path, const std::vector<int64_t>& input_shape, int64_t num_classes);

}  // namespace distill
