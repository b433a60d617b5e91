// Fidelity analysis of a stored run: its teacher and student rebuilt from the run's config and
// checkpoints, evaluated on the run's test split, analysed with analyzeFidelity(); for a
// language-model run (task lm), on its validation blocks, token by token, with LmFidelitySums
// (core/fidelity/lm_fidelity.h). What the GUI's Fidelity tab and `distill fidelity RUN` show.
// No torch types in this header.
// Thread contract: call from any one thread (the GUI calls it on a worker thread); it opens
// its own read-only store connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/fidelity/fidelity_report.h"
#include "core/fidelity/lm_fidelity_report.h"

namespace distill {

// How much of a language-model run's validation text is analysed.
struct FidelityOptions {
  // At most this many validation blocks, picked evenly over the run's (0: all). The default is
  // what lm-fortunes evaluates (dataset.limit_test 256, 32,768 tokens): a few seconds there,
  // and the agreement to about half a percentage point.
  int64_t max_blocks = 256;
  // The disagreements of largest KL kept with their texts.
  int64_t disagreements = 50;
};

struct RunFidelity {
  int64_t run_id = 0;
  std::string run_name;
  std::string status;       // the run's status when analysed
  std::string task = "image";  // the run's task: image (analysis) or lm (lm)
  std::string dataset;      // dataset.name; for lm, the corpus
  double student_epoch = 0;  // epoch of the student checkpoint analysed
  FidelityAnalysis analysis;  // task image
  LmFidelityAnalysis lm;      // task lm
  // Per sample {C, H, W} for images; empty for tables (no thumbnails then).
  std::vector<int64_t> image_shape;
  // One image per entry of analysis.disagreements (same order), C*H*W pixel values in [0, 1]
  // (the dataset normalisation undone); empty for tables.
  std::vector<std::vector<float>> disagreement_images;
};

// Throws StoreError (unknown run, unreadable database), ConfigError (no checkpoint yet; for lm,
// a TorchScript teacher, or options out of range), DataError (the run's dataset or corpus is
// gone) or ModelError (weights that do not fit).
RunFidelity analyzeRun(const std::string& database_path, int64_t run_id, const FidelityOptions& options = {});

}  // namespace distill
