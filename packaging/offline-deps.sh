#!/usr/bin/env bash
# The libraries that core + CLI need besides LibTorch, as one folder to copy to a machine that
# has no network and no root: a GPU or cluster node with a pip `torch`, for instance. Run it
# on a Debian 12 machine with network; it downloads the Debian packages and unpacks them into
# FOLDER (nothing is installed here):
#
#   packaging/offline-deps.sh FOLDER
#
# On the node (glibc 2.36 or newer, x86-64), with FOLDER copied over:
#
#   cmake -S . -B build -DDISTILL_BUILD_GUI=OFF -DDISTILL_BUILD_TESTS=OFF \
#     -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)');FOLDER/usr"
#   cmake --build build --target distill
#
# The built `distill` finds these libraries through its build-tree RPATH.
# tests/benchmarks/gpu_bench.sh takes FOLDER/usr as EXTRA_PREFIX_PATH.
set -euo pipefail
out=${1:?usage: packaging/offline-deps.sh FOLDER}
packages=(libsqlite3-dev libsqlite3-0 libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev libcli11-dev
          libfmt-dev libfmt9 zlib1g-dev zlib1g libpcre2-dev libpcre2-8-0 libutf8proc-dev libutf8proc2
          libsentencepiece-dev libsentencepiece0)
command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "offline-deps: needs apt-get and dpkg (Debian 12)" >&2; exit 1; }
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
(cd "$debs" && apt-get -o APT::Sandbox::User=root -qq download "${packages[@]}")
mkdir -p "$out"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$out"; done
rm -rf "$out/usr/share/doc" "$out/usr/share/man" "$out/usr/share/lintian"
rm -f "$out"/usr/lib/x86_64-linux-gnu/*.a
# Links that point at absolute paths (zlib1g-dev's libz.so -> /lib/...) must point into FOLDER.
while IFS= read -r link; do
  target=$(readlink "$link")
  case "$target" in
    /*)
      [ -e "$out$target" ] || { echo "offline-deps: $link points at $target, which is not in $out" >&2; exit 1; }
      ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$out$target")" "$link"
      ;;
  esac
done < <(find "$out" -type l)
echo "offline-deps: ${#packages[@]} packages in $out ($(du -sh "$out" | cut -f1)); use -DCMAKE_PREFIX_PATH=\"<LibTorch>;$out/usr\""
