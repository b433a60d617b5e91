#!/usr/bin/env bash
# CI for the Debian package: builds distill-workbench_<version>_<arch>.deb with CPack, checks
# it with lintian (errors fail), installs it with apt like a user would, runs both installed
# programs (distill --version, a tiny `distill run` into a temporary database, the window on
# Qt's offscreen platform) and removes the package again.
#   packaging/ci-package.sh [BUILD_DIR]
# BUILD_DIR: an existing build folder to package from (e.g. build/ after packaging/test.sh);
# default $DISTILL_BUILD_DIR, else build-package/ (configured Release, without tests).
# Needs root or sudo (apt-get install/remove).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
start=$(date +%s)
step() { echo "== ci-package [$(( $(date +%s) - start )) s]: $*"; }

# Build dependencies (idempotent), then what packaging itself needs: dpkg-shlibdeps (dpkg-dev)
# computes Depends; lintian, desktop-file-validate and appstreamcli check the files.
"$root/packaging/install-deps.sh"
tools=(dpkg-dev fakeroot file lintian desktop-file-utils appstream)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${1:-${DISTILL_BUILD_DIR:-}}
if [ -n "$build_dir" ] && [ -f "$build_dir/CMakeCache.txt" ]; then
  build_dir=$(cd "$build_dir" && pwd)
  step "packaging from the existing build folder $build_dir"
  cmake "$build_dir" >/dev/null  # picks up packaging files added since it was configured
else
  build_dir=${build_dir:-$root/build-package}
  step "configuring $build_dir"
  generator=()
  if command -v ninja >/dev/null 2>&1 && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DDISTILL_BUILD_TESTS=OFF >/dev/null
fi
step "building the packaged targets"
cmake --build "$build_dir" --parallel "$(nproc)" --target distill distill-workbench distill_packaging_files

step "checking the desktop entry and the AppStream metainfo"
desktop-file-validate "$root/packaging/io.github.distill_workbench.workbench.desktop"
# Any warning or error fails (appstreamcli exits non-zero on them); the id is reverse-DNS and
# the desktop entry is named after it.
appstreamcli validate --no-net --pedantic "$root/packaging/io.github.distill_workbench.workbench.metainfo.xml"

step "cpack -G DEB"
rm -f "$build_dir"/distill-workbench_*.deb
(cd "$build_dir" && cpack -G DEB >/dev/null)
deb=$(ls "$build_dir"/distill-workbench_*.deb)
dpkg-deb --field "$deb" Package Version Depends Recommends

step "lintian $(basename "$deb")"
# Errors fail the build (lintian's default --fail-on error); warnings and infos are listed.
lintian --fail-on error --display-info "$deb" 2>&1 | grep -v "running with root privileges" || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || { echo "error: lintian reports errors" >&2; exit 1; }

step "apt-get install $(basename "$deb")"
$sudo apt-get install -y -qq "$deb" >/dev/null
trap '$sudo apt-get remove -y -qq distill-workbench >/dev/null 2>&1 || true' EXIT
for f in /usr/bin/distill /usr/bin/distill-workbench /usr/share/applications/io.github.distill_workbench.workbench.desktop \
         /usr/share/icons/hicolor/scalable/apps/distill-workbench.svg /usr/share/icons/hicolor/48x48/apps/distill-workbench.png \
         /usr/share/metainfo/io.github.distill_workbench.workbench.metainfo.xml /usr/share/man/man1/distill.1.gz \
         /usr/share/man/man1/distill-workbench.1.gz /usr/share/distill-workbench/presets/quick-smoke.yaml; do
  [ -e "$f" ] || { echo "error: the package did not install $f" >&2; exit 1; }
done

work=$(mktemp -d)
trap '$sudo apt-get remove -y -qq distill-workbench >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cd "$work"  # nowhere near the source tree: the programs must find their files from /usr
step "distill --version"
/usr/bin/distill --version | tee version.txt
grep -q "LibTorch" version.txt
/usr/bin/distill-workbench --version | grep "LibTorch"

step "distill run quick-smoke (a subset) into a temporary database"
/usr/bin/distill run quick-smoke --db "$work/runs.db" --quiet --json \
  --set dataset.limit_train=1024 --set dataset.limit_test=512 --set teacher.hidden=[64] --set student.hidden=[32] \
  | tee run.json
grep -q '"status": *"completed"' run.json
/usr/bin/distill list --db "$work/runs.db"

step "distill-workbench --smoke-test on the offscreen platform"
# Its own settings folder, so the check neither reads nor changes the CI user's.
env XDG_CONFIG_HOME="$work/config" QT_QPA_PLATFORM=offscreen \
  timeout 60 /usr/bin/distill-workbench --smoke-test --db "$work/runs.db" >gui.out 2>gui.err
cat gui.out gui.err
grep -q "window shown" gui.out
grep -q "/usr/share/distill-workbench/presets" gui.out
if grep -Eiq "error|could not|cannot|failed" gui.err; then echo "error: the window printed errors" >&2; exit 1; fi

step "apt-get remove distill-workbench"
cd /
$sudo apt-get remove -y -qq distill-workbench >/dev/null
[ ! -e /usr/bin/distill ] || { echo "error: /usr/bin/distill is still there after removal" >&2; exit 1; }
step "package CI passed"
