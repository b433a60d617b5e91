// Fidelity analysis of a stored run: its teacher and student rebuilt from the run's config and
// checkpoints, evaluated on the run's test split, analysed with analyzeFidelity(). What the
// GUI's Fidelity tab and `distill fidelity RUN` show. No torch types in this header.
// Thread contract: call from any one thread (the GUI calls it on a worker thread); it opens
// its own read-only store connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/fidelity/fidelity_report.h"

namespace distill {

struct RunFidelity {
  int64_t run_id = 0;
  std::string run_name;
  std::string status;       // the run's status when analysed
  std::string dataset;      // dataset.name
  double student_epoch = 0;  // epoch of the student checkpoint analysed
  FidelityAnalysis analysis;
  // Per sample {C, H, W} for images; empty for tables (no thumbnails then).
  std::vector<int64_t> image_shape;
  // One image per entry of analysis.disagreements (same order), C*H*W pixel values in [0, 1]
  // (the dataset normalisation undone); empty for tables.
  std::vector<std::vector<float>> disagreement_images;
};

// Throws StoreError (unknown run, unreadable database), ConfigError (no checkpoint yet),
// DataError (the run's dataset is gone) or ModelError (weights that do not fit).
RunFidelity analyzeRun(const std::string& database_path, int64_t run_id);

}  // namespace distill
