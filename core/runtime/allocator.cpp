#include "core/runtime/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace distill {

namespace {
std::mutex g_mutex;
std::string g_setting;
}  // namespace

std::string configureAllocator() {
  std::lock_guard<std::mutex> lock(g_mutex);
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.")) {
    g_setting = "glibc malloc as GLIBC_TUNABLES sets it";
  } else if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(kAllocatorMmapThreshold)) == 1 &&
             mallopt(M_TRIM_THRESHOLD, static_cast<int>(kAllocatorTrimThreshold)) == 1) {
    g_setting = "glibc malloc, mmap threshold " + std::to_string(kAllocatorMmapThreshold >> 20) +
                " MiB, trim threshold " + std::to_string(kAllocatorTrimThreshold >> 20) + " MiB";
  } else {
    g_setting = "glibc malloc defaults (mallopt refused the thresholds)";
  }
#else
  g_setting = "the C library's allocator defaults";
#endif
  return g_setting;
}

std::string allocatorSetting() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_setting;
}

void releaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace distill
