#!/usr/bin/env bash
# A pip `torch` ships its own (newer) fmt headers in its include folder. Built against it, the
# code must still compile against the fmt it links (CMakeLists.txt puts a copy of that fmt's
# headers first). This configures the project against a stand-in LibTorch: the system's, with
# an include folder in front holding fmt headers that stop the compiler with #error, then
# compiles the CLI's main.cpp (which uses fmt) and checks that it builds.
#
#   tests/compat/bundled_fmt_check.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
system_config=$(dirname "$(find /usr/lib /usr/share /usr/local -name TorchConfig.cmake -print -quit 2>/dev/null)")
[ -f "$system_config/TorchConfig.cmake" ] || { echo "bundled_fmt_check: no system TorchConfig.cmake" >&2; exit 1; }
mkdir -p "$work/torch/share/cmake/Torch" "$work/torch/include/fmt"
for header in core.h base.h format.h ranges.h ostream.h chrono.h args.h; do
  echo '#error "compiled against the fmt headers bundled with LibTorch, not the linked fmt"' > "$work/torch/include/fmt/$header"
done
cp "$system_config/TorchConfigVersion.cmake" "$work/torch/share/cmake/Torch/"
cat > "$work/torch/share/cmake/Torch/TorchConfig.cmake" <<CMAKE
include("$system_config/TorchConfig.cmake")
list(PREPEND TORCH_INCLUDE_DIRS "$work/torch/include")
get_target_property(_dirs torch INTERFACE_INCLUDE_DIRECTORIES)
if(NOT _dirs)
  set(_dirs "")
endif()
set_target_properties(torch PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "$work/torch/include;\${_dirs}")
CMAKE
cmake -S "$root" -B "$work/build" -G Ninja -DDISTILL_BUILD_GUI=OFF -DDISTILL_BUILD_TESTS=OFF -DDISTILL_USE_PCH=OFF \
  -DCMAKE_PREFIX_PATH="$work/torch/share/cmake" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
grep -q "LibTorch bundles fmt headers" "$work/configure.log" || { cat "$work/configure.log"; echo "bundled_fmt_check: configure did not notice LibTorch's fmt headers" >&2; exit 1; }
if ! cmake --build "$work/build" --target app/cli/CMakeFiles/distill.dir/main.cpp.o > "$work/build.log" 2>&1; then
  grep -m5 "error" "$work/build.log" >&2
  echo "bundled_fmt_check: FAILED: main.cpp did not compile with LibTorch's fmt headers in front" >&2
  exit 1
fi
echo "bundled_fmt_check: passed (main.cpp compiled against the linked fmt, LibTorch's bundled fmt headers shadowed)"
