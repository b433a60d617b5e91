#!/usr/bin/env bash
# Compiles core + CLI (syntax only) against LibTorch 2.x headers, as C++17 and C++20, on a
# machine whose own LibTorch is Debian 12's 1.13. The headers are Debian trixie's
# libtorch-dev (LibTorch 2.6), fetched from Debian's archive into a temporary folder with a
# private apt state (nothing is installed). See tests/compat/libtorch2_check.py.
#
#   tests/compat/libtorch2_check.sh BUILD_DIR [extra libtorch2_check.py options]
#
# BUILD_DIR: any configured build of this project (its compile_commands.json is used).
# LIBTORCH2_INCLUDE=DIR skips the download and uses DIR (a LibTorch include folder).
set -euo pipefail
build=${1:?usage: tests/compat/libtorch2_check.sh BUILD_DIR [options]}
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
include=${LIBTORCH2_INCLUDE:-}
if [ -z "$include" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$work/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" -qq update
  (cd "$work" && apt-get "${apt_opts[@]}" -qq download libtorch-dev)
  dpkg -x "$work"/libtorch-dev_*.deb "$work/root"
  echo "libtorch2_check: headers of $(basename "$work"/libtorch-dev_*.deb)"
  include=$work/root/usr/include
fi
python3 "$here/libtorch2_check.py" --build "$build" --include "$include" "$@"
