# Sourced by the Slurm tests, after they set `test_name` and `source_dir`: exits 77 (ctest's
# skip) without Debian's Fashion-MNIST; makes a scratch folder $work with a one-node cluster on
# loopback in $work/cluster (start_cluster.sh: its skips and failures pass through as its exit
# status); stops the cluster and removes $work on exit; exports SLURM_CONF; defines fail().
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "$test_name: dataset-fashion-mnist is not installed" >&2
  exit 77
fi
work=$(mktemp -d "/tmp/distill-$test_name.XXXXXX")
cluster="$work/cluster"
status=0
"$source_dir/tests/slurm/start_cluster.sh" "$cluster" || status=$?
cleanup() {
  "$source_dir/tests/slurm/stop_cluster.sh" "$cluster"
  rm -rf "$work"
}
trap cleanup EXIT
[ "$status" = 0 ] || exit "$status"
export SLURM_CONF="$cluster/slurm.conf"
fail() { echo "$test_name: $*" >&2; exit 1; }
