#!/usr/bin/env bash
# Configures and builds Distill Workbench into build/ (Release). Used by run.sh and test.sh.
#   packaging/build.sh [--no-gui] [extra cmake -D options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${DISTILL_BUILD_DIR:-$root/build}
gui=ON
args=()
for arg in "$@"; do
  case "$arg" in
    --no-gui) gui=OFF ;;
    *) args+=("$arg") ;;
  esac
done
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DDISTILL_BUILD_GUI=$gui "${args[@]}"
cmake --build "$build_dir" --parallel "$(nproc)"
