// The files a run keeps beside its database, and how they are tied to it.
//
// Every database owns one folder next to it, `<database stem>.files/` (runs.db ->
// runs.files/), so that two databases in one folder never share a file. In it:
//   run-<id>-<uuid8>/        the run's checkpoints (teacher.pt, student.pt, state.pt), each
//                             with an owner tag `<file>.owner.json` naming the run's UUID
//                             and role, checked whenever a checkpoint is loaded
//   locks/<run uuid>.lock    held (flock) by the process driving the run: a run whose lock is
//                             free is provably dead, whatever its host name or pid say; the
//                             file also carries why the run ended when the database could not
//                             take it (a full disk)
// Databases written before schema 4 keep their checkpoints where they were
// (`<database folder>/checkpoints/run-<id>/`); see RunStore::checkpoints().
//
// Thread contract: plain functions and a RAII lock; call from any thread. A RunLock belongs
// to the thread that drives the run.
#pragma once

#include <optional>
#include <string>

namespace distill {

// A fresh random version-4 UUID in its 36-character text form.
std::string newRunUuid();

// Who a checkpoint file belongs to, as written beside it.
struct CheckpointOwner {
  std::string run_uuid;
  int64_t run_id = 0;
  std::string role;      // teacher | student | state
  std::string database;  // the database's path when the file was written (for messages)
};

std::string ownerTagPath(const std::string& checkpoint_path);
// Writes the owner tag beside `checkpoint_path` (atomically; throws std::runtime_error naming
// the file when it cannot).
void writeCheckpointOwner(const std::string& checkpoint_path, const CheckpointOwner& owner);
// The owner tag beside a checkpoint; nullopt when there is none. Throws std::runtime_error
// naming the tag file when it exists but cannot be read or parsed.
std::optional<CheckpointOwner> readCheckpointOwner(const std::string& checkpoint_path);

// What a run's lock file says about the process that drove the run.
struct LockProbe {
  enum class State { NoFile, Held, Free, Unsupported };
  State state = State::NoFile;
  std::string end_reason;  // why the run ended, when its process could record it only here
  double last_alive = 0.0; // unix time of the lock file's last write (its start or end)
};
LockProbe probeRunLock(const std::string& lock_path);

// Holds a run's lock for as long as it lives. Created when a run starts or resumes; the lock
// is released by the kernel whatever way the process ends, so a free lock proves the run is
// not driven by anyone. The file is made 4 KiB long when taken, so that recordEnd() rewrites
// blocks that are already on the disk: it works when the disk is full.
class RunLock {
 public:
  // Takes the lock; throws std::runtime_error naming the file when another process holds it
  // or it cannot be created.
  explicit RunLock(std::string lock_path);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  const std::string& path() const { return path_; }
  // Writes why the run ended into the lock file (when the database cannot take it).
  void recordEnd(const std::string& reason) noexcept;
  // The run's end is in the database: the lock file is removed when the lock is released.
  void markRecorded() { recorded_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  size_t header_bytes_ = 0;  // recordEnd() writes right after the header lines
  bool recorded_ = false;
};

}  // namespace distill
