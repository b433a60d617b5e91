// libFuzzer target: the run-query parser (`distill list --filter`, the Runs page's filter box)
// and its evaluation over a few runs. QueryError is the only accepted refusal, and its
// position must point inside the query (or just past its end).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/store/run_query.h"

namespace {

std::vector<distill::RunRecord> sampleRuns() {
  std::vector<distill::RunRecord> runs(3);
  for (size_t i = 0; i < runs.size(); ++i) {
    auto& run = runs[i];
    run.id = static_cast<int64_t>(i + 1);
    run.name = "run " + std::to_string(i);
    run.status = i == 0 ? distill::RunStatus::Completed : distill::RunStatus::Failed;
    run.created_at = "2026-01-0" + std::to_string(i + 1) + "T00:00:00Z";
    run.duration_s = 10.0 * static_cast<double>(i);
    run.starred = i == 1;
    run.tags = {"baseline", "t" + std::to_string(i)};
    run.notes = "note";
    run.params = {{"distill.temperature", std::to_string(i + 1)}, {"train.optimizer", "sgd"}};
    run.final_metrics = {{"eval/agreement", 0.9 + 0.01 * static_cast<double>(i)}, {"eval/student_acc", 0.8}};
  }
  return runs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<distill::RunRecord> runs = sampleRuns();
  static const std::set<std::string> fields = distill::queryFields(runs);
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const std::set<std::string>* known : {static_cast<const std::set<std::string>*>(nullptr), &fields}) {
    try {
      const distill::RunQuery query = distill::RunQuery::parse(text, known);
      (void)query.filter(runs);
    } catch (const distill::QueryError& error) {
      if (error.position() > text.size()) __builtin_trap();
      (void)error.pointAt(text);
    }
  }
  return 0;
}
