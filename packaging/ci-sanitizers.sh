#!/usr/bin/env bash
# Builds the core library, its tests and the CLI with AddressSanitizer and
# UndefinedBehaviorSanitizer in their own build folder (build-asan/, no Qt) and runs the core
# tests and the bad-input CLI table under them. Any sanitizer report fails the script.
#   packaging/ci-sanitizers.sh            # build and run
#   DISTILL_ASAN_BUILD_DIR=/tmp/b packaging/ci-sanitizers.sh
#
# Why these ASAN_OPTIONS: LibTorch (Debian's libtorch-dev) and OpenBLAS are not instrumented.
#  - detect_leaks=0: LibTorch and OpenBLAS keep process-lifetime allocations (thread pools,
#    operator registries, allocator caches) that are never freed; LeakSanitizer reports them at
#    exit as leaks of our process. Our own handles are RAII (unique_ptr deleters), see STYLE.md.
#  - detect_container_overflow=0: std::vector is annotated only in instrumented code; a vector
#    grown inside LibTorch (uninstrumented) and read in ours looks like an overflow (a known
#    false positive of mixing instrumented and uninstrumented code, see the ASan FAQ).
# Everything else (heap/stack/global overflows, use-after-free, double free, UB: signed
# overflow, misaligned or null access, bad shifts, float-to-int overflow) is on, and fatal.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${DISTILL_ASAN_BUILD_DIR:-$root/build-asan}
jobs=${DISTILL_JOBS:-$(nproc)}

"$root/packaging/install-deps.sh" --no-gui

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DDISTILL_BUILD_GUI=OFF -DDISTILL_BUILD_TESTS=ON -DDISTILL_BUILD_BENCHMARKS=OFF
cmake --build "$build_dir" --parallel "$jobs" --target core_tests tokenizer_tests run_experiment distill cli_tests reliability_tests

export ASAN_OPTIONS=detect_leaks=0:detect_container_overflow=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build_dir"
# Each test binary runs once, as one process (ctest would start one process per test, and
# LibTorch's start-up under ASan costs seconds each): the core and tokenizer tests, then the CLI's
# bad-input tables (each case a short `distill` process that must exit 2 with a message, never
# a sanitizer report), the read-only database and the full disk. The CLI's training tests are
# left to the normal build: under ASan they take minutes and add nothing the core tests do not.
tests/core_tests --gtest_brief=1
tests/tokenizer_tests --gtest_brief=1  # tokenizer files are untrusted input: the loaders and the merge loop
tests/cli_tests --gtest_brief=1 --gtest_filter='Table/CliBadInput.*'
tests/reliability_tests --gtest_brief=1
echo "ci-sanitizers: core tests and the CLI's bad-input, read-only and full-disk tests clean under ASan + UBSan"
