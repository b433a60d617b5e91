#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian 12, apt), builds, and runs the
# default experiment (resources/presets/cnn-teacher-mlp-student.yaml, the baseline beside it):
# - with a display (DISPLAY or WAYLAND_DISPLAY set), the window opens on it and starts it;
# - without one, the CLI runs it with its progress bar and ends by saying where the run was
#   stored and how to open it in the window.
# The run goes to the default database ($DISTILL_WORKBENCH_DB, else
# $XDG_DATA_HOME/distill-workbench/runs.db) unless --db FILE is given.
# Arguments go to the program: a first argument that is not an option is the experiment (a file
# or a preset's name) instead of the default, e.g. `packaging/run.sh quick-smoke --db /tmp/r.db`.
# DISTILL_SKIP_BUILD=1 skips install-deps and the build (an up-to-date build, tests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${DISTILL_SKIP_BUILD:-0}" != 1 ]; then
  "$root/packaging/install-deps.sh"
  "$root/packaging/build.sh"
fi
build_dir=${DISTILL_BUILD_DIR:-$root/build}
gui=$build_dir/app/gui/distill-workbench
cli=$build_dir/app/cli/distill

config=$root/resources/presets/cnn-teacher-mlp-student.yaml
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  config=$1
  shift
fi

if { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && [ -x "$gui" ]; then
  exec "$gui" "$config" --start "$@"
fi

# No display (or a build without the window): the CLI, into an explicit database so that the
# last lines can name it.
db=""
previous=""
for arg in "$@"; do
  case "$arg" in
    --db=*) db=${arg#--db=} ;;
  esac
  if [ "$previous" = --db ]; then db=$arg; fi
  previous=$arg
done
db_args=()
if [ -z "$db" ]; then
  db=${DISTILL_WORKBENCH_DB:-${XDG_DATA_HOME:-$HOME/.local/share}/distill-workbench/runs.db}
  db_args=(--db "$db")
fi
if [ -x "$gui" ]; then
  echo "run.sh: no display (DISPLAY and WAYLAND_DISPLAY are not set): running the experiment with the CLI."
else
  echo "run.sh: this build has no window: running the experiment with the CLI."
fi
printf '  %q' "$cli"
printf ' %q' run "$config" "${db_args[@]}" "$@"
echo
result=$(mktemp)
trap 'rm -f "$result"' EXIT
# The progress bar goes to standard error (a terminal), the result line to standard output.
rc=0
"$cli" run "$config" "${db_args[@]}" "$@" | tee "$result" || rc=$?
run_id=$(sed -n -e 's/^run \([0-9][0-9]*\) .*/\1/p' -e 's/.*"run_id": *\([0-9][0-9]*\).*/\1/p' "$result" | tail -n 1)
if [ -n "$run_id" ]; then
  q() { printf '%q' "$1"; }
  echo
  name=$(basename "$db")
  echo "The run is stored in $(q "$db") as run $run_id (its checkpoints under $(q "$(dirname "$db")/${name%.*}.files")/)."
  echo "To open it in the window, on a machine with a display:"
  echo "  $(q "$gui") --db $(q "$db")"
  echo "and pick run $run_id on the Runs page (select it with another run and press Ctrl+Shift+C to compare)."
  echo "Here: $(q "$cli") show $run_id --db $(q "$db")"
  if [ "$config" = "$root/resources/presets/cnn-teacher-mlp-student.yaml" ]; then
    echo "Its baseline, the same student trained without the teacher, and the two side by side:"
    echo "  $(q "$cli") run cnn-teacher-mlp-student-baseline --db $(q "$db")"
    echo "  $(q "$cli") compare $run_id <the baseline's run id> --db $(q "$db")"
  fi
fi
exit "$rc"
