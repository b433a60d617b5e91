#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 24): the same global batch and steps trained by
# 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread (distill run --nproc 2,
# Gloo on loopback), on the default image run (Fashion-MNIST, the built-in Hinton setting's
# MLPs, 100 steps of 128) and the lm-fortunes teacher (20 steps of 32 blocks of 128 tokens),
# teacher phase only. Prints, per setting and repeat, the teacher's training speed (the median
# of its logged intervals: samples/s or tokens/s of the global batch, evaluations excluded) and
# the 1-minute load average before the run. Not part of ctest.
#
#   tests/benchmarks/data_parallel_scaling.sh [DISTILL] [REPEATS]
set -euo pipefail
distill=${1:-build/app/cli/distill}
repeats=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

image=(--set dataset.limit_train=12800 --set dataset.limit_test=1000 --set teacher.epochs=1 --set train.epochs=0
       --set train.batch_size=128 --set train.log_every=10)
lm=(lm-fortunes --set dataset.limit_train=640 --set dataset.limit_test=32 --set teacher.epochs=1 --set train.epochs=0
    --set train.log_every=4)

speed() {  # median of the teacher's logged speeds of run $1 in $2
  "$distill" export "$1" --db "$2" -f csv -m perf/samples_per_s -m perf/tokens_per_s |
    python3 -c 'import csv,statistics,sys; v=[float(r["value"]) for r in csv.DictReader(sys.stdin)]; print(f"{statistics.median(v):.0f}")'
}

for workload in image lm; do
  for setting in "1x1" "1x2" "2x1"; do
    for r in $(seq 1 "$repeats"); do
      db="$work/$workload-$setting-$r.db"
      load=$(cut -d' ' -f1 /proc/loadavg)
      threads=1; nproc=()
      [ "$setting" = 1x2 ] && threads=2
      [ "$setting" = 2x1 ] && nproc=(--nproc 2)
      if [ "$workload" = image ]; then args=("${image[@]}"); else args=("${lm[@]}"); fi
      "$distill" run "${args[@]}" --set threads=$threads "${nproc[@]}" --db "$db" -q > /dev/null 2>&1
      echo "$workload $setting repeat $r: $(speed 1 "$db") per s (load $load)"
    done
  done
done
