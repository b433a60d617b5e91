#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ (-DDISTILL_BUILD_FUZZERS=ON: coverage,
# ASan, UBSan) and runs each for a bounded time from the committed seed corpus. Fails on the
# first crash, sanitizer report, timeout or out-of-memory; the input that did it is written to
# build-fuzz/artifacts/ (add it to tests/fuzz/corpus/<target>/ once the bug is fixed).
#   tests/fuzz/run_fuzzers.sh                 # every target, 60 s each
#   FUZZ_SECONDS=300 tests/fuzz/run_fuzzers.sh idx config
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${DISTILL_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${DISTILL_JOBS:-$(nproc)}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(idx cifar config run_query tokenizer safetensors); fi

# clang-14 and its sanitizer/libFuzzer runtimes, from Debian's archive, only when missing.
"$root/packaging/install-deps.sh" --no-gui
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DDISTILL_BUILD_FUZZERS=ON -DDISTILL_BUILD_GUI=OFF -DDISTILL_BUILD_TESTS=OFF -DDISTILL_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_dir" --parallel "$jobs" --target fuzzers

# LibTorch is not instrumented: see packaging/ci-sanitizers.sh for why leaks and container
# overflows are not checked. One LibTorch thread keeps each input fast and deterministic.
export ASAN_OPTIONS=detect_leaks=0:detect_container_overflow=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1
mkdir -p "$build_dir/artifacts"
for target in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$target"
  work="$build_dir/corpus/$target"  # grows while fuzzing; the committed seeds stay as they are
  mkdir -p "$work"
  echo "== fuzz_$target for ${seconds} s"
  "$build_dir/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$build_dir/artifacts/$target-" "$work" "$seeds"
done
echo "run_fuzzers: no crash in ${targets[*]} (${seconds} s each)"
