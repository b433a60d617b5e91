#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian 12, apt), builds, and starts
# the workbench on the default experiment (Hinton's setting on Fashion-MNIST), storing the
# run in the default database ($XDG_DATA_HOME/distill-workbench/runs.db).
# Extra arguments go to the program, e.g. `packaging/run.sh --db /tmp/runs.db`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/packaging/install-deps.sh"
"$root/packaging/build.sh"
build_dir=${DISTILL_BUILD_DIR:-$root/build}
if [ -x "$build_dir/app/gui/distill-workbench" ]; then
  # Without a display it says so and prints the equivalent `distill run` command.
  exec "$build_dir/app/gui/distill-workbench" --start "$@"
fi
exec "$build_dir/app/cli/distill" run "$@"
