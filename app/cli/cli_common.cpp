#include "app/cli/cli_common.h"

#include <filesystem>

#include "core/config/config.h"
#include "core/errors.h"
#include "core/store/run_store.h"

namespace distill::cli {

int64_t parseRunId(const std::string& text) {
  try {
    size_t used = 0;
    const long long id = std::stoll(text, &used);
    if (used == text.size() && id > 0) return id;
  } catch (const std::exception&) {
  }
  throw ConfigError({{"RUN", "expected a run id (a positive whole number, see `distill list`), got '" + text + "'"}});
}

std::string existingDatabasePath(const std::string& db) {
  const std::string path = db.empty() ? defaultDatabasePath() : db;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw StoreError(path + ": no database here yet (run `distill run` first, or pass --db)");
  return path;
}

}  // namespace distill::cli
