// Writing a whole file so that a failure is an exception, never a half-noticed error or an
// abort. LibTorch 1.13's own file writer (PyTorchStreamWriter) throws from its destructor when
// the disk fills up mid-file, which ends the process in std::terminate; checkpoints are
// therefore serialised to memory first and written here.
//
// Thread contract: plain functions without shared state; call from any thread.
#pragma once

#include <string>

namespace distill {

// Writes `bytes` to `path` (created or truncated), flushes it to the disk (fsync), and throws
// std::runtime_error naming the file and the system's reason (e.g. "No space left on device",
// "File too large") when any step fails; a partly written file is removed.
void writeWholeFile(const std::string& path, const std::string& bytes);

}  // namespace distill
