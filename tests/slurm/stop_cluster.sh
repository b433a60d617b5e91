#!/usr/bin/env bash
# Stops the one-node test cluster that start_cluster.sh DIR started: the daemons named by the
# pid files in DIR (slurmd, slurmctld, munged), and only those.
set -u
dir=${1:?usage: stop_cluster.sh DIR}
for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
exit 0
