#include "core/text/isolated_library.h"

#include <dlfcn.h>

namespace distill {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

}  // namespace

bool isolatedLibrariesSupported() { return !kSanitized; }

void* openIsolatedLibrary(const std::string& path, std::string& error) {
  if (kSanitized) {
    error = "this is an AddressSanitizer build, whose runtime refuses dlopen with RTLD_DEEPBIND";
    return nullptr;
  }
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!library) {
    const char* why = dlerror();
    error = why ? why : "dlopen failed";
  }
  return library;
}

void* isolatedSymbol(void* library, const char* name) { return dlsym(library, name); }

}  // namespace distill
