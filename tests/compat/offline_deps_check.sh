#!/usr/bin/env bash
# packaging/offline-deps.sh makes a folder that a node without network uses as a CMake prefix.
# This runs it into a temporary folder, configures core + CLI with that folder on
# CMAKE_PREFIX_PATH, and checks that every library besides LibTorch was found inside it (the
# system's copies are installed here too, so finding them proves nothing) and that no link in
# the folder points outside it.
#
#   tests/compat/offline_deps_check.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/packaging/offline-deps.sh" "$work/deps"
outside=$(find "$work/deps" -type l -lname '/*')
[ -z "$outside" ] || { echo "offline_deps_check: links to absolute paths: $outside" >&2; exit 1; }
cmake -S "$root" -B "$work/build" -G Ninja -DDISTILL_BUILD_GUI=OFF -DDISTILL_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$work/deps/usr" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
failed=0
for entry in yaml-cpp_DIR fmt_DIR nlohmann_json_DIR CLI11_DIR SQLite3_INCLUDE_DIR SQLite3_LIBRARY ZLIB_INCLUDE_DIR \
             PCRE2_INCLUDE_DIR PCRE2_LIBRARY UTF8PROC_INCLUDE_DIR UTF8PROC_LIBRARY SENTENCEPIECE_INCLUDE_DIR \
             SENTENCEPIECE_LIBRARY; do
  value=$(grep -E "^$entry:" "$work/build/CMakeCache.txt" | cut -d= -f2-)
  case "$value" in
    "$work/deps/"*) ;;
    *) echo "offline_deps_check: $entry = '$value', not inside the folder" >&2; failed=1 ;;
  esac
done
[ "$failed" = 0 ] || exit 1
echo "offline_deps_check: passed (SQLite, yaml-cpp, fmt, nlohmann-json, CLI11, zlib, PCRE2, utf8proc and SentencePiece found in the folder)"
