#include "core/tasks/image/image_metrics.h"

#include <cmath>
#include <limits>

namespace distill {

const TaskDisplay& imageTaskDisplay() {
  using namespace metric_key;
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  static const TaskDisplay display = [] {
    TaskDisplay d;
    d.task = "image";
    d.charts = {{"loss", "Loss", "loss", ""},
                {"agreement", "Teacher-student agreement", "top-1 agreement (%)", "KL (nats)"},
                {"accuracy", "Test accuracy", "accuracy (%)", ""}};
    // Accuracies, agreement and calibration error are fractions; losses and divergences are
    // non-negative (JS at most log 2).
    d.metrics = {
        declareMetric(kStudentAcc, "Student test accuracy", "%", 0.0, 1.0, true, true)
            .abbreviated("student acc")
            .on("accuracy", "student").as(SeriesRole::Student).evaluated().drawn(2.0),
        declareMetric(kTeacherAcc, "Teacher test accuracy", "%", 0.0, 1.0, true, true)
            .abbreviated("teacher acc")
            .on("accuracy", "teacher").as(SeriesRole::Teacher).evaluated().drawn(2.0),
        declareMetric(kAgreement, "Top-1 agreement", "%", 0.0, 1.0, true, true)
            .abbreviated("agreement")
            .on("agreement", "top-1 agreement").as(SeriesRole::Pair).evaluated().drawn(2.0, 100, "#6a3d9a"),
        declareMetric(kTopFiveOverlap, "Top-5 overlap", "%", 0.0, 1.0, true, true),
        declareMetric(kStudentEce, "Student calibration error (ECE)", "%", 0.0, 1.0, false, true),
        declareMetric(kTeacherEce, "Teacher calibration error (ECE)", "%", 0.0, 1.0, false, true),
        declareMetric(kKl, "KL(teacher || student)", "nats", 0.0, kNone, false, false)
            .abbreviated("KL")
            .on("agreement", "predictive KL (right axis)")
            .as(SeriesRole::Pair, LineStyle::Dash)
            .evaluated()
            .onRightAxis()
            .drawn(1.8, 100, "#c0392b"),
        declareMetric(kJs, "Jensen-Shannon divergence", "nats", 0.0, std::log(2.0), false, false),
        declareMetric(kStudentTestLoss, "Student test loss", "", 0.0, kNone, false, false)
            .on("loss", "student test").as(SeriesRole::Student).evaluated().drawn(2.2, 80),
        declareMetric(kTeacherTestLoss, "Teacher test loss", "", 0.0, kNone, false, false)
            .on("loss", "teacher test").as(SeriesRole::Teacher).evaluated(),
    };
    d.teacher_quality = kTeacherAcc;
    d.student_quality = kStudentAcc;
    d.agreement = kAgreement;
    d.divergence = kKl;
    return d;
  }();
  return display;
}

}  // namespace distill
