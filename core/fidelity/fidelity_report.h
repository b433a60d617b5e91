// Where and how a student differs from its teacher, as plain values (no torch types), so that
// the GUI and the CLI can hold and show an analysis without LibTorch in their headers.
// Computed by analyzeFidelity() (core/fidelity/fidelity.h).
// Thread contract: plain values; copy or move them between threads freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distill {

// Reliability diagrams and the expected calibration error use this many equal-width
// confidence bins over [0, 1] (Guo et al. 2017, "On Calibration of Modern Neural Networks",
// use 15; so does torchmetrics' default).
constexpr int kCalibrationBins = 15;

// One confidence bin [lower, upper) (the last one includes 1).
struct ReliabilityBin {
  double lower = 0.0;
  double upper = 0.0;
  int64_t count = 0;             // predictions whose top-1 probability falls in the bin
  double mean_confidence = 0.0;  // their mean top-1 probability (0 when empty)
  double accuracy = 0.0;         // the fraction of them that is correct (0 when empty)
};

// ECE = sum over bins of (count / N) * |accuracy - mean confidence|.
struct Calibration {
  double ece = 0.0;
  std::vector<ReliabilityBin> bins;
};

// One class, over the samples whose true label is that class.
struct ClassFidelity {
  std::string name;
  int64_t count = 0;         // samples of this class
  double teacher_acc = 0.0;  // fraction the teacher classifies correctly
  double student_acc = 0.0;
  double agreement = 0.0;    // fraction where teacher and student predict the same class
};

// One of the model's most probable classes.
struct ClassProbability {
  int64_t label = 0;
  double probability = 0.0;
};

// A sample where the student's top-1 prediction differs from the teacher's.
struct Disagreement {
  int64_t index = 0;   // position in the evaluated split
  int64_t target = 0;  // the true label
  double teacher_confidence = 0.0;  // the teacher's top-1 probability
  std::vector<ClassProbability> teacher_top;  // top-3 (fewer with fewer classes), most probable first
  std::vector<ClassProbability> student_top;
  std::vector<float> teacher_probs;  // the full distributions, one entry per class
  std::vector<float> student_probs;
};

struct FidelityAnalysis {
  int64_t samples = 0;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  // Counts, row-major [teacher prediction][student prediction]; sums to `samples`.
  std::vector<int64_t> agreement_matrix;
  int64_t matrixAt(int64_t teacher_class, int64_t student_class) const {
    return agreement_matrix[static_cast<size_t>(teacher_class * num_classes + student_class)];
  }
  std::vector<ClassFidelity> per_class;
  double teacher_acc = 0.0;
  double student_acc = 0.0;
  double agreement = 0.0;     // top-1 agreement
  double top5_overlap = 0.0;  // mean |top-5(teacher) ∩ top-5(student)| / 5 (k = classes when fewer)
  double kl = 0.0;            // mean KL(teacher || student) at T = 1, nats
  double js = 0.0;            // mean Jensen-Shannon divergence at T = 1, nats (at most ln 2)
  Calibration teacher_calibration;
  Calibration student_calibration;
  // Every disagreeing sample, the teacher's most confident first.
  std::vector<Disagreement> disagreements;
};

}  // namespace distill
