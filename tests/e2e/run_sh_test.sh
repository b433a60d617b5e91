#!/usr/bin/env bash
# packaging/run.sh on a machine without a display: it must run the experiment through the CLI
# (not print a command and stop) and end by naming the database, the run, and how to open it
# in the window. Without an argument it runs the default experiment. The build is the one under
# test (DISTILL_SKIP_BUILD=1: no install-deps, no rebuild).
#   run_sh_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1
build_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run_sh() {
  env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM DISTILL_SKIP_BUILD=1 DISTILL_BUILD_DIR="$build_dir" \
    HOME="$work/home" XDG_DATA_HOME="$work/data" "$source_dir/packaging/run.sh" "$@"
}

# The default experiment is the preset beside its baseline (its config, without training it).
run_sh --print-config >"$work/default.yaml" 2>"$work/default.err" || fail "run.sh --print-config: $(cat "$work/default.err")"
grep -q "arch: cnn" "$work/default.yaml" || fail "the default experiment's teacher is not the CNN: $(cat "$work/default.yaml")"

# A small run, into the default database (XDG_DATA_HOME here).
run_sh quick-smoke --set dataset.limit_train=512 --set dataset.limit_test=256 --set teacher.hidden=[32] \
  --set student.hidden=[16] >"$work/out.txt" 2>"$work/err.txt" || fail "run.sh exited non-zero: $(cat "$work/out.txt" "$work/err.txt")"
db=$work/data/distill-workbench/runs.db
grep -q "^run 1 completed: teacher acc" "$work/out.txt" || fail "no result line: $(cat "$work/out.txt" "$work/err.txt")"
[ -f "$db" ] || fail "no database at $db"
"$build_dir/app/cli/distill" list --db "$db" | grep -q completed || fail "the run is not in $db"
grep -q "The run is stored in $db as run 1" "$work/out.txt" || fail "does not say where the run went: $(cat "$work/out.txt")"
grep -q "distill-workbench --db $db" "$work/out.txt" || fail "does not say how to open it in the window: $(cat "$work/out.txt")"

# --db given: that database, named at the end.
run_sh quick-smoke --db "$work/other.db" --set dataset.limit_train=256 --set dataset.limit_test=128 --set teacher.hidden=[16] \
  --set student.hidden=[8] >"$work/out2.txt" 2>&1 || fail "run.sh --db: $(cat "$work/out2.txt")"
grep -q "The run is stored in $work/other.db as run 1" "$work/out2.txt" || fail "--db: $(cat "$work/out2.txt")"
echo "run.sh without a display OK"
