#!/usr/bin/env bash
# Compiles the data-parallel code's NCCL side (core/dist: ProcessGroupNCCL, what
# -DDISTILL_WITH_NCCL=ON builds on a CUDA LibTorch) with -fsyntax-only, on a machine whose
# LibTorch is Debian's CPU build: its headers include ProcessGroupNCCL.hpp and c10/cuda, and
# CUDA's headers with nccl.h come from the CUDA toolkit (/usr/local/cuda, or CUDA_HOME). Nothing
# is linked or run: NCCL itself runs only on the GPU machine (tests/benchmarks/gpu_bench.sh).
#
#   tests/compat/nccl_check.sh BUILD_DIR     # any configured build (its compile_commands.json)
#
# Without CUDA's headers (cuda_runtime.h and nccl.h) it says so and exits 0: the check needs a
# machine with the toolkit, which this project's machines have.
#
# Debian's LibTorch lacks one header that a CUDA build of LibTorch generates at configure time
# (c10/cuda/impl/cuda_cmake_macros.h, which only says whether c10_cuda is a shared library);
# a stand-in with that one definition is put on the include path.
set -euo pipefail
build=${1:?usage: tests/compat/nccl_check.sh BUILD_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cuda_include=${CUDA_HOME:-/usr/local/cuda}/include
if [ ! -f "$cuda_include/cuda_runtime.h" ] || [ ! -f "$cuda_include/nccl.h" ]; then
  echo "nccl_check: skipped: no cuda_runtime.h and nccl.h in $cuda_include (set CUDA_HOME to a CUDA toolkit)"
  exit 0
fi
[ -f "$build/compile_commands.json" ] || { echo "nccl_check: $build/compile_commands.json not found" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/stub/c10/cuda/impl"
printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' > "$work/stub/c10/cuda/impl/cuda_cmake_macros.h"
# The files with an NCCL side, and each one's command from the build, made a syntax check.
mapfile -t sources < <(grep -rl 'USE_C10D_NCCL' "$root/core" --include='*.cpp')
[ ${#sources[@]} -gt 0 ] || { echo "nccl_check: no source under core/ has an NCCL side (USE_C10D_NCCL)" >&2; exit 1; }
failed=0
for source in "${sources[@]}"; do
  command=$(python3 - "$build/compile_commands.json" "$source" <<'PY'
import json, shlex, sys
drop_with_value = {"-o", "-include", "-MF", "-MT", "-MQ"}
for entry in json.load(open(sys.argv[1])):
    if entry["file"] != sys.argv[2]:
        continue
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in drop_with_value:
            skip = True
        elif arg not in ("-c", "-MD", "-MMD", "-Winvalid-pch"):
            out.append(arg)
    print(entry["directory"])
    print(shlex.join(out))
    break
PY
)
  [ -n "$command" ] || { echo "nccl_check: $source is not in $build/compile_commands.json" >&2; exit 1; }
  directory=$(head -1 <<< "$command")
  flags=$(tail -1 <<< "$command")
  if (cd "$directory" && eval "$flags" -DUSE_C10D_NCCL -I"$work/stub" -I"$cuda_include" -fsyntax-only -w) > "$work/log" 2>&1; then
    echo "nccl_check: ${source#"$root"/} compiles with ProcessGroupNCCL"
  else
    failed=1
    echo "nccl_check: FAIL ${source#"$root"/}" >&2
    grep -m 12 -E 'error' "$work/log" >&2 || head -20 "$work/log" >&2
  fi
done
exit "$failed"
