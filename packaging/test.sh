#!/usr/bin/env bash
# The README's second command: installs what is missing (Debian 12, apt), builds everything
# with the tests, and runs the whole suite with ctest (core, end-to-end CLI, and GUI tests on
# Qt's offscreen platform).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/packaging/install-deps.sh"
"$root/packaging/build.sh" -DDISTILL_BUILD_TESTS=ON
build_dir=${DISTILL_BUILD_DIR:-$root/build}
cd "$build_dir"
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 900 "$@"
