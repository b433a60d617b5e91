// The local backend: a sweep's tasks as worker processes on this machine, `parallel` at a
// time. Each worker is `distill sweep task DIR HASH` (the same binary), writing its own
// database in its task folder and its output to the task's log.
//
//   std::atomic<int> stops{0};                    // a signal handler increments it
//   runLocal(jobs, 2, stops, [](const LocalEvent& e) { ... });
//
// A job marked `first` (the task that trains the shared teacher) runs to its end before any
// other starts; if it does not complete, the jobs that need its teacher are skipped. Each
// increment of `stops` sends SIGTERM to every running worker (the first stops its run between
// steps and stores it as `stopped`; a second ends it at once) and no new worker starts.
//
// Thread contract: runLocal blocks the calling thread; events are called on it.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace distill {

struct LocalJob {
  std::string id;  // the task's hash
  std::vector<std::string> argv;
  std::string log_path;
  bool first = false;         // runs alone, before the others
  bool needs_first = false;   // skipped when the first job does not succeed
};

struct LocalEvent {
  enum class Kind { Started, Finished, Skipped };
  Kind kind = Kind::Started;
  const LocalJob* job = nullptr;
  int exit_code = 0;     // Finished
  double seconds = 0.0;  // Finished: how long it ran
};

// Returns how many jobs ended with exit code 0.
int runLocal(const std::vector<LocalJob>& jobs, int parallel, const std::atomic<int>& stops,
             const std::function<void(const LocalEvent&)>& on_event);

}  // namespace distill
