#include "core/tasks/lm/lm_metrics.h"

#include <limits>

namespace distill {

const TaskDisplay& lmTaskDisplay() {
  using namespace metric_key;
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  static const TaskDisplay display = [] {
    TaskDisplay d;
    d.task = "lm";
    d.charts = {{"loss", "Loss", "loss (nats per token)", ""},
                {"agreement", "Teacher-student agreement per token", "top-1 agreement (%)", "KL (nats)"},
                {"perplexity", "Validation perplexity", "perplexity", "", /*log_y=*/true}};
    // Perplexity is exp(cross-entropy): at least 1, and the vocabulary size for a uniform guess.
    d.metrics = {
        declareMetric(kStudentPerplexity, "Student validation perplexity", "", 1.0, kNone)
            .abbreviated("student ppl")
            .on("perplexity", "student").as(SeriesRole::Student).evaluated().drawn(2.0),
        declareMetric(kTeacherPerplexity, "Teacher validation perplexity", "", 1.0, kNone)
            .abbreviated("teacher ppl")
            .on("perplexity", "teacher").as(SeriesRole::Teacher).evaluated().drawn(2.0),
        declareMetric(kStudentValLoss, "Student validation loss", "nats/token", 0.0, kNone)
            .on("loss", "student validation").as(SeriesRole::Student).evaluated().drawn(2.2, 80),
        declareMetric(kTeacherValLoss, "Teacher validation loss", "nats/token", 0.0, kNone)
            .on("loss", "teacher validation").as(SeriesRole::Teacher).evaluated(),
        declareMetric(kStudentTokenAcc, "Student next-token accuracy", "%", 0.0, 1.0, true, true),
        declareMetric(kTeacherTokenAcc, "Teacher next-token accuracy", "%", 0.0, 1.0, true, true),
        declareMetric(kTokenAgreement, "Top-1 agreement per token", "%", 0.0, 1.0, true, true)
            .abbreviated("agreement")
            .on("agreement", "top-1 agreement").as(SeriesRole::Pair).evaluated().drawn(2.0, 100, "#6a3d9a"),
        declareMetric(kTokenKl, "KL(teacher || student) per token", "nats", 0.0, kNone)
            .abbreviated("KL")
            .on("agreement", "KL per token (right axis)")
            .as(SeriesRole::Pair, LineStyle::Dash)
            .evaluated()
            .onRightAxis()
            .drawn(1.8, 100, "#c0392b"),
        declareMetric(kTokenTopFiveOverlap, "Top-5 overlap per token", "%", 0.0, 1.0, true, true),
    };
    d.teacher_quality = kTeacherPerplexity;
    d.student_quality = kStudentPerplexity;
    d.agreement = kTokenAgreement;
    d.divergence = kTokenKl;
    return d;
  }();
  return display;
}

}  // namespace distill
