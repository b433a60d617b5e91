// What every `distill` command shares: exit codes, run ids from the command line, and the
// database a reading command opens.
//
// Thread contract: plain functions; the calling thread.
#pragma once

#include <cstdint>
#include <string>

namespace distill::cli {

constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;  // the run failed, e.g. its loss diverged
constexpr int kExitBadInput = 2;   // config, dataset file, database path, run id
constexpr int kExitStopped = 130;  // stopped by Ctrl-C

// A run id as typed ("12"); throws ConfigError naming RUN for anything else.
int64_t parseRunId(const std::string& text);

// `--db` (or the default database) for a command that only reads: throws StoreError when no
// file is there yet, instead of creating an empty database.
std::string existingDatabasePath(const std::string& db);

}  // namespace distill::cli
