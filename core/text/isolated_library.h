// A shared library opened so that its symbols and those of its dependencies stay its own:
// dlopen with RTLD_LOCAL (nothing loaded later binds to it) and RTLD_DEEPBIND (it binds to its
// own dependencies before the program's). For libraries that carry a private copy of something
// the program also loads in another version (libsentencepiece's protobuf beside LibTorch's: see
// core/text/sentencepiece_module.cpp).
//
// AddressSanitizer's runtime refuses RTLD_DEEPBIND (google/sanitizers issue 611): in such a
// build openIsolatedLibrary() refuses every library with a message saying so.
//
// Thread contract: plain functions; dlopen and dlsym are thread-safe.
#pragma once

#include <string>

namespace distill {

// The library's handle (never closed: its code may be running in static destructors), or null
// with `error` set to why (dlerror()'s words, or the sanitizer build).
void* openIsolatedLibrary(const std::string& path, std::string& error);
// The address of `name` in `library`, or null.
void* isolatedSymbol(void* library, const char* name);
// Whether this build can open isolated libraries at all (false under AddressSanitizer).
bool isolatedLibrariesSupported();

}  // namespace distill
