// The run filter: free text and field queries over runs, shared by the run browser's filter
// box and `distill list --filter`. Examples:
//
//   baseline                                   name, a tag or the notes contain "baseline"
//   agreement > 0.95 and distill.temperature = 4 and tag:baseline
//   (status = failed or status = stopped) and not starred = true
//   name ~ "T4 a0.9"  eval/student_acc >= 0.89   (adjacent terms are ANDed)
//
// Fields: id, name, status, notes, starred, created, finished, duration, teacher_run, tag;
// every config key (`distill.temperature`, the run's params); every metric key's final value
// (`eval/agreement`), also by its last path part when that is unambiguous (`agreement`).
// Operators: = (==), !=, <, <=, >, >=, ~ (contains), and `:` (tag:x has the tag x; field:x
// contains). Text compares case-insensitively; = compares numbers as numbers (4 = 4.0).
// A run without the field matches no comparison. AND binds tighter than OR; NOT (or !) negates.
//
// Thread contract: a parsed RunQuery is immutable; matches() may be called from any thread.
#pragma once

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/store/run_store.h"

namespace distill {

// A malformed query: what is wrong and where (0-based offset into the query text).
class QueryError : public std::runtime_error {
 public:
  QueryError(size_t position, const std::string& message);
  size_t position() const { return position_; }
  const std::string& message() const { return message_; }
  // The query with a caret under the offending character, for a terminal.
  std::string pointAt(const std::string& query) const;

 private:
  size_t position_;
  std::string message_;
};

class RunQuery {
 public:
  struct Node;  // the parsed expression; defined in run_query.cpp

  RunQuery();  // the empty query: matches every run
  ~RunQuery();
  RunQuery(RunQuery&&) noexcept;
  RunQuery& operator=(RunQuery&&) noexcept;

  // Throws QueryError. With `known_fields` (see queryFields()), a field outside the set is
  // refused with a suggestion, so a typo does not silently match nothing.
  static RunQuery parse(const std::string& text, const std::set<std::string>* known_fields = nullptr);

  bool empty() const { return root_ == nullptr; }
  // The run needs params and final_metrics filled for field queries on them.
  bool matches(const RunRecord& run) const;
  std::vector<RunRecord> filter(const std::vector<RunRecord>& runs) const;

 private:
  std::shared_ptr<const Node> root_;
};

// The fields a query over these runs may name: the built-in ones, every param and metric key,
// and the unambiguous short names of metric keys.
std::set<std::string> queryFields(const std::vector<RunRecord>& runs);

}  // namespace distill
