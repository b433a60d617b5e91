#include "core/sweep/local_backend.h"

#include <signal.h>

#include <chrono>
#include <deque>
#include <thread>

#include "core/sweep/process.h"

namespace distill {

int runLocal(const std::vector<LocalJob>& jobs, int parallel, const std::atomic<int>& stops,
             const std::function<void(const LocalEvent&)>& on_event) {
  using Clock = std::chrono::steady_clock;
  struct Running {
    const LocalJob* job;
    pid_t pid;
    Clock::time_point started;
  };
  std::deque<const LocalJob*> waiting;
  const LocalJob* first = nullptr;
  for (const auto& job : jobs) {
    if (job.first && !first)
      first = &job;
    else
      waiting.push_back(&job);
  }
  if (first) waiting.push_front(first);
  std::vector<Running> running;
  int succeeded = 0;
  bool first_running = false;
  bool first_failed = false;
  int stops_sent = stops.load();
  const int stops_at_start = stops_sent;
  auto emit = [&](LocalEvent::Kind kind, const LocalJob* job, int code = 0, double seconds = 0.0) {
    if (on_event) on_event(LocalEvent{kind, job, code, seconds});
  };

  while (!waiting.empty() || !running.empty()) {
    const bool stopping = stops.load() != stops_at_start;
    if (stops.load() != stops_sent) {
      stops_sent = stops.load();
      for (const auto& r : running) ::kill(r.pid, SIGTERM);
    }
    // Start what may start: nothing while the first job runs or once stopping.
    while (!stopping && !first_running && !waiting.empty() && static_cast<int>(running.size()) < parallel) {
      const LocalJob* job = waiting.front();
      waiting.pop_front();
      if (job->needs_first && first_failed) {
        emit(LocalEvent::Kind::Skipped, job);
        continue;
      }
      const pid_t pid = startChild(job->argv, job->log_path);
      running.push_back({job, pid, Clock::now()});
      first_running = job == first;
      emit(LocalEvent::Kind::Started, job);
    }
    if (stopping && !waiting.empty()) {
      for (const LocalJob* job : waiting) emit(LocalEvent::Kind::Skipped, job);
      waiting.clear();
    }
    for (size_t i = 0; i < running.size();) {
      const int code = waitChild(running[i].pid, false);
      if (code < 0) {
        ++i;
        continue;
      }
      const Running done = running[i];
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      if (code == 0) ++succeeded;
      if (done.job == first) {
        first_running = false;
        first_failed = code != 0;
      }
      emit(LocalEvent::Kind::Finished, done.job, code,
           std::chrono::duration<double>(Clock::now() - done.started).count());
    }
    if (!running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return succeeded;
}

}  // namespace distill
