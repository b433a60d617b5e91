#!/usr/bin/env bash
# The installed layout, without root: `cmake --install` into a temporary prefix, then the
# installed binaries must find the presets beside them (share/distill-workbench/presets, not
# the source tree), run a preset by name, print their versions, and the man pages and
# desktop entry must be well-formed.
#   install_layout_test.sh BUILD_DIR GUI(ON|OFF)
set -euo pipefail
build_dir=$1
gui=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$prefix" >/dev/null
bin=$prefix/bin/distill
[ -x "$bin" ] || fail "no $bin"
share=$prefix/share/distill-workbench/presets
for preset in quick-smoke cnn-teacher-mlp-student cnn-teacher-mlp-student-baseline; do  # the default experiment's pair
  [ -f "$share/$preset.yaml" ] || fail "preset $preset not installed in $share"
done

# A preset that exists only in the installed folder: found by name, so the installed folder is
# the one used.
printf 'name: only-installed\ntrain:\n  epochs: 3\n' >"$share/only-installed.yaml"
cd "$prefix"
"$bin" run only-installed --print-config >out.yaml || fail "distill run only-installed failed"
grep -q "name: only-installed" out.yaml || fail "the installed preset was not the one loaded"
"$bin" run quick-smoke.yaml --print-config | grep -q "limit_train: 6000" || fail "quick-smoke.yaml by name"
# An unknown name is an unreadable file, exit 2, named.
set +e
"$bin" run no-such-preset --print-config 2>err.txt
rc=$?
set -e
[ "$rc" = 2 ] || fail "unknown preset: exit $rc, expected 2"
grep -q "no-such-preset" err.txt || fail "the error does not name the preset: $(cat err.txt)"
"$bin" --version | grep -Eq "^distill [0-9.]+ \(LibTorch [0-9.]+" || fail "distill --version: $("$bin" --version)"

# Man pages: gzip without a timestamp, and man renders them without warnings.
for page in "$prefix"/share/man/man1/*.1.gz; do
  gzip -t "$page" || fail "$page is not gzip"
  if command -v man >/dev/null 2>&1; then
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null || true)
    [ -z "$warnings" ] || fail "man warns about $page: $warnings"
  fi
done
[ -f "$prefix/share/man/man1/distill.1.gz" ] || fail "no distill(1)"
copyright=$prefix/share/doc/distill-workbench/copyright
[ -f "$copyright" ] || fail "no copyright file"
grep -qx "License: GPL-3+" "$copyright" || fail "the copyright file does not license the work as GPL-3+ (LICENSE)"

if [ "$gui" = ON ]; then
  [ -f "$prefix/share/man/man1/distill-workbench.1.gz" ] || fail "no distill-workbench(1)"
  for size in 48 64 128 256; do
    png=$prefix/share/icons/hicolor/${size}x${size}/apps/distill-workbench.png
    file "$png" | grep -q "PNG image data, $size x $size" || fail "$png is not a ${size}px PNG"
  done
  # The AppStream id is reverse-DNS, the desktop entry is named after it, and appstreamcli
  # finds nothing to warn about (it exits non-zero on a warning).
  app_id=io.github.distill_workbench.workbench
  desktop=$prefix/share/applications/$app_id.desktop
  metainfo=$prefix/share/metainfo/$app_id.metainfo.xml
  [ -f "$desktop" ] || fail "no desktop entry named after the AppStream id: $desktop"
  [ -f "$metainfo" ] || fail "no AppStream metainfo named after its id: $metainfo"
  grep -q "<id>$app_id</id>" "$metainfo" || fail "$metainfo does not declare the id $app_id"
  grep -q "<launchable type=\"desktop-id\">$app_id.desktop</launchable>" "$metainfo" || fail "$metainfo does not launch $app_id.desktop"
  appstreamcli validate --no-net "$metainfo" >appstream.txt 2>&1 || fail "appstreamcli validate: $(cat appstream.txt)"
  if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$desktop" || fail "desktop entry"
  fi
  "$prefix/bin/distill-workbench" --version | grep -q "LibTorch" || fail "distill-workbench --version"
  env XDG_CONFIG_HOME="$prefix/config" QT_QPA_PLATFORM=offscreen \
    "$prefix/bin/distill-workbench" --smoke-test --db "$prefix/runs.db" >gui.txt 2>&1 || fail "smoke test: $(cat gui.txt)"
  grep -q "window shown" gui.txt || fail "smoke test: $(cat gui.txt)"
  presets=$(ls "$share"/*.yaml | wc -l)  # the shipped ones and only-installed.yaml
  grep -q "$presets presets ($share/" gui.txt || fail "the window did not list the installed presets: $(cat gui.txt)"
fi
echo "install layout OK"
