#!/usr/bin/env bash
# A sweep through a real Slurm: starts a one-node cluster on loopback (start_cluster.sh), runs a
# 2-run sweep of a tiny quick-smoke config with --backend slurm (the shared teacher's task as its
# own array, the other waiting for it with --dependency=afterok), waits, imports, and checks
# both runs are in the main database, completed, with their sweep and axis tags and the
# student's lineage; then a sweep held back (--begin) is cancelled and shown as cancelled.
#   tests/slurm/slurm_sweep_test.sh DISTILL SOURCE_DIR
# Exit 77 (ctest's skip) without slurm-wlm and munge, root, or Debian's Fashion-MNIST.
set -euo pipefail
distill=${1:?usage: slurm_sweep_test.sh DISTILL SOURCE_DIR}
source_dir=${2:?usage: slurm_sweep_test.sh DISTILL SOURCE_DIR}
test_name=slurm_sweep_test
source "$source_dir/tests/slurm/cluster_fixture.sh"  # $work, a cluster in it, SLURM_CONF, fail()

cat > "$work/tiny.yaml" <<YAML
name: tiny
base: quick-smoke
set:
  dataset.limit_train: 600
  dataset.limit_test: 200
  teacher.hidden: [32]
  student.hidden: [16]
  threads: 1
axes:
  distill.temperature: [2, 4]
YAML
"$distill" sweep run "$work/tiny.yaml" --backend slurm --out "$work/sweep" --time 00:10:00 --mem 1G --max-running 2 \
  --wait --import --db "$work/main.db" > "$work/run.txt" 2>&1 || { cat "$work/run.txt"; fail "the sweep did not complete"; }
cat "$work/run.txt"
grep -q "^submitted job array" "$work/run.txt" || fail "nothing was submitted"
grep -q -- "--dependency=afterok:" "$work/sweep/slurm/array-1.sbatch" || fail "the second array does not wait for the teacher"

"$distill" sweep status --json "$work/sweep" > "$work/status.json"
"$distill" list --json --db "$work/main.db" > "$work/list.json"
python3 - "$work/status.json" "$work/list.json" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
runs = json.load(open(sys.argv[2]))
def fail(message):
    sys.exit("slurm_sweep_test: " + message)
if [t["state"] for t in status["tasks"]] != ["completed", "completed"]:
    fail("tasks not completed: %s" % [(t["state"], t["slurm_state"], t["log_tail"]) for t in status["tasks"]])
if not all(t["slurm_job"] for t in status["tasks"]):
    fail("a task has no Slurm job: %s" % status["tasks"])
if "scontrol" not in status["slurm_source"] and status["slurm_source"] != "sacct":
    fail("no Slurm command answered: %s" % status["slurm_source"])
if len(runs) != 2 or any(r["status"] != "completed" for r in runs):
    fail("imported runs: %s" % [(r["name"], r["status"]) for r in runs])
sweep_tag = "sweep:" + status["id"]
for t in ("2", "4"):
    tagged = [r for r in runs if "distill.temperature=" + t in r["tags"] and sweep_tag in r["tags"]]
    if len(tagged) != 1:
        fail("no run tagged distill.temperature=%s and %s: %s" % (t, sweep_tag, [r["tags"] for r in runs]))
teacher = [r for r in runs if "sweep-teacher" in r["tags"]]
student = [r for r in runs if "sweep-teacher" not in r["tags"]]
if len(teacher) != 1 or student[0]["teacher_run_id"] != teacher[0]["id"]:
    fail("lineage: %s" % [(r["id"], r["tags"], r["teacher_run_id"]) for r in runs])
print("slurm_sweep_test: 2 runs completed through Slurm and imported with their tags")
PY

# Held back an hour, then cancelled: its state says so, not "failed".
cat > "$work/held.yaml" <<YAML
name: held
base: quick-smoke
teacher: per-task
axes:
  seed: [0]
YAML
"$distill" sweep run "$work/held.yaml" --backend slurm --out "$work/held" --sbatch=--begin=now+3600 > "$work/held.txt" 2>&1 \
  || { cat "$work/held.txt"; fail "the held sweep was not submitted"; }
"$distill" sweep status "$work/held" | grep -q " pending " || fail "the held task is not pending"
"$distill" sweep cancel "$work/held" | grep -q "^cancelled job array" || fail "nothing was cancelled"
for _ in $(seq 1 20); do
  "$distill" sweep status "$work/held" | grep -q " cancelled " && { echo "slurm_sweep_test: the held task shows cancelled"; exit 0; }
  sleep 0.5
done
"$distill" sweep status "$work/held"
fail "the cancelled task is not shown as cancelled"
