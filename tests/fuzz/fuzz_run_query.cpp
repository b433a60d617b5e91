// libFuzzer target: the run-query parser (`distill list --filter`, the Runs page's filter box)
// and its evaluation over a few runs. QueryError is the only accepted refusal, and its
// position must point inside the query (or just past its end). Nesting far deeper than the
// fuzzer's inputs may be long (10,000 parentheses crashed the parser) is checked once at start.
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

// Parses `text`; a QueryError is fine, a crash or any other exception is the bug.
void parseAndFilter(const std::string& text, const std::vector<distill::RunRecord>& runs,
                    const std::set<std::string>* known) {
  try {
    const distill::RunQuery query = distill::RunQuery::parse(text, known);
    (void)query.filter(runs);
  } catch (const distill::QueryError& error) {
    if (error.position() > text.size()) __builtin_trap();
    (void)error.pointAt(text);
  }
}

std::string repeat(const std::string& unit, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) out += unit;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::vector<distill::RunRecord> runs = sampleRuns();
  for (const std::string& deep :
       {repeat("(", 100000) + "run" + repeat(")", 100000), repeat("!", 300000) + "run", repeat("not (", 50000) + "run",
        repeat("run and ", 200000) + "run", repeat("run or ", 200000) + "run"})
    parseAndFilter(deep, runs, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<distill::RunRecord> runs = sampleRuns();
  static const std::set<std::string> fields = distill::queryFields(runs);
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const std::set<std::string>* known : {static_cast<const std::set<std::string>*>(nullptr), &fields})
    parseAndFilter(text, runs, known);
  return 0;
}
