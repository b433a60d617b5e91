#!/usr/bin/env bash
# Failures through a real Slurm, resubmitted, and the same sweep on the local backend: starts a
# one-node cluster on loopback (start_cluster.sh) and submits a 6-run sweep of a tiny
# quick-smoke (train.lr 0.05, 0.1 and 1e30 by seed 0 and 1; 1e30 passes the plan and diverges
# at run time) with --backend slurm; cancels run 3 while it waits for the teacher's array
# (scancel of its array task); waits; checks `sweep status` (3 completed, run 3 cancelled, the
# two 1e30 runs failed with Slurm's FAILED and a log tail naming the divergence) and the
# imported database (the completed runs with their sweep and axis tags, the failed runs failed
# with their error, nothing of run 3); then `sweep resubmit --failed --wait --import` submits
# only runs 3, 4 and 5 (one array of three), after which 4 runs are completed and 2 failed.
# Last, the same sweep file with --backend local into another folder: the same tasks (config
# hashes), states and final metrics, and the same runs in its database (minus the Slurm
# metadata and the failed runs' second attempts).
# With the cluster stopped, `sweep status` says Slurm could not be asked (trying the controller
# once) and shows each state from the runs' databases.
#   tests/slurm/slurm_failures_test.sh DISTILL SOURCE_DIR
# Exit 77 (ctest's skip) without slurm-wlm and munge, root, or Debian's Fashion-MNIST.
set -euo pipefail
distill=${1:?usage: slurm_failures_test.sh DISTILL SOURCE_DIR}
source_dir=${2:?usage: slurm_failures_test.sh DISTILL SOURCE_DIR}
test_name=slurm_failures_test
source "$source_dir/tests/slurm/cluster_fixture.sh"  # $work, a cluster in it, SLURM_CONF, fail()

cat > "$work/lrs.yaml" <<YAML
name: lrs
base: quick-smoke
set:
  dataset.limit_train: 600
  dataset.limit_test: 200
  teacher.hidden: [32]
  student.hidden: [16]
  threads: 1
axes:
  train.lr: [0.05, 0.1, 1e30]
  seed: [0, 1]
YAML
sweep="$work/sweep"
"$distill" sweep run "$work/lrs.yaml" --backend slurm --out "$sweep" --time 00:10:00 --mem 1G --max-running 2 \
  > "$work/run.txt" 2>&1 || { cat "$work/run.txt"; fail "the sweep was not submitted"; }
cat "$work/run.txt"
# Run 3 waits for the teacher's array (afterok), so it is still pending: cancel that array task.
job3=$(python3 -c 'import json, sys; print([t["slurm_job"] for t in json.load(open(sys.argv[1]))["tasks"] if t["index"] == 3][0])' \
  "$sweep/sweep.json")
scancel "$job3" || fail "scancel $job3 failed"
echo "slurm_failures_test: cancelled run 3 ($job3)"

# Wait until every task has ended (sweep status, as a user would).
final='completed failed cancelled timeout out_of_memory node_fail preempted stopped interrupted'
deadline=$((SECONDS + 150))
while [ "$SECONDS" -lt "$deadline" ]; do
  "$distill" sweep status --json "$sweep" > "$work/status.json"
  python3 - "$work/status.json" "$final" <<'PY' && break
import json, sys
final = set(sys.argv[2].split())
sys.exit(0 if all(t["state"] in final for t in json.load(open(sys.argv[1]))["tasks"]) else 1)
PY
  sleep 1
done
"$distill" sweep status "$sweep" | tee "$work/status.txt"
"$distill" sweep import "$sweep" --db "$work/main.db" > "$work/import.txt" || fail "import failed"
"$distill" list --json --db "$work/main.db" > "$work/list.json"
python3 - "$work/status.json" "$work/list.json" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
runs = json.load(open(sys.argv[2]))
def fail(message):
    sys.exit("slurm_failures_test: " + message)
tasks = {t["index"]: t for t in status["tasks"]}
states = [tasks[i]["state"] for i in range(6)]
if states != ["completed", "completed", "completed", "cancelled", "failed", "failed"]:
    fail("states %s: %s" % (states, [(t["state"], t["slurm_state"], t["log_tail"]) for t in status["tasks"]]))
if not tasks[3]["slurm_state"].startswith("CANCELLED"):
    fail("run 3's Slurm state: %r" % tasks[3]["slurm_state"])
for i in (4, 5):
    t = tasks[i]
    if t["slurm_state"] != "FAILED" or "diverged" not in (t["log_tail"] or "") or "diverged" not in t["error"]:
        fail("run %d is not shown failed with Slurm's state and its log tail: %s" % (i, t))
sources = [tasks[i]["state_source"] for i in range(6)]
if sources != ["database"] * 3 + ["slurm"] * 3:  # a completed run's database wins; the others are Slurm's word
    fail("where the states came from: %s" % sources)
sweep_tag = "sweep:" + status["id"]
by_name = {r["name"]: r for r in runs}
if len(runs) != 5:
    fail("imported %d runs, expected 5 (3 completed, 2 failed): %s" % (len(runs), sorted(by_name)))
for i, t in tasks.items():
    run = by_name.get(t["name"])
    if i == 3:
        if run: fail("the cancelled run 3 never ran, yet it was imported: %s" % run)
        continue
    if not run: fail("run %d (%s) was not imported" % (i, t["name"]))
    if run["status"] != t["state"]: fail("run %d is %s in the database, %s in the sweep" % (i, run["status"], t["state"]))
    expected = {sweep_tag} | {"%s=%s" % kv for kv in t["axes"].items()}
    if not expected <= set(run["tags"]): fail("run %d's tags %s lack %s" % (i, run["tags"], expected))
print("slurm_failures_test: 3 completed, run 3 cancelled, runs 4 and 5 failed with FAILED and their log tail; 5 runs imported")
PY

"$distill" sweep resubmit "$sweep" --failed --wait --import --db "$work/main.db" > "$work/resubmit.txt" 2>&1 \
  && fail "the resubmitted sweep exits 0, yet two runs diverge again"
cat "$work/resubmit.txt"
grep -q "resubmitting 3 run(s) (slurm)" "$work/resubmit.txt" || fail "resubmit did not take runs 3, 4 and 5"
[ "$(grep -c '^submitted job array' "$work/resubmit.txt")" = 1 ] || fail "resubmit submitted more than one array"
last=$(ls "$sweep"/slurm/array-*.tasks | sort -t- -k2 -n | tail -1)
"$distill" sweep status --json "$sweep" > "$work/status2.json"
"$distill" list --json --db "$work/main.db" > "$work/list2.json"
python3 - "$work/status.json" "$work/status2.json" "$last" "$work/list2.json" <<'PY'
import json, sys
before = {t["index"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
after = {t["index"]: t for t in json.load(open(sys.argv[2]))["tasks"]}
resubmitted = open(sys.argv[3]).read().split()
runs = json.load(open(sys.argv[4]))
def fail(message):
    sys.exit("slurm_failures_test: " + message)
if resubmitted != [before[i]["hash"] for i in (3, 4, 5)]:
    fail("the resubmitted array runs %s" % resubmitted)
for i in (0, 1, 2):  # a finished configuration never runs again
    if after[i]["slurm_job"] != before[i]["slurm_job"] or after[i]["run_id"] != before[i]["run_id"]:
        fail("completed run %d was submitted again: %s" % (i, after[i]))
states = [after[i]["state"] for i in range(6)]
if states != ["completed"] * 4 + ["failed"] * 2:
    fail("after resubmitting: %s" % [(t["state"], t["slurm_state"], t["log_tail"]) for t in after.values()])
if sum(r["status"] == "completed" for r in runs) != 4:
    fail("the main database has %s" % [(r["name"], r["status"]) for r in runs])
print("slurm_failures_test: resubmit --failed ran runs 3, 4 and 5 only: 4 completed, 2 failed again")
PY

# The same sweep on this machine: the same tasks, states, results and runs.
"$distill" sweep run "$work/lrs.yaml" --backend local --jobs 2 --out "$work/local" --import --db "$work/local.db" \
  > "$work/local.txt" 2>&1 && fail "the local sweep exits 0, yet two runs diverge"
"$distill" sweep status --json "$work/local" > "$work/status-local.json"
"$distill" list --json --db "$work/local.db" > "$work/list-local.json"
python3 - "$work/status2.json" "$work/status-local.json" "$work/list2.json" "$work/list-local.json" <<'PY'
import json, sys
slurm = json.load(open(sys.argv[1]))
local = json.load(open(sys.argv[2]))
def fail(message):
    sys.exit("slurm_failures_test: " + message)
def results(final):  # every metric but the speed, which the machine's load decides
    return {k: v for k, v in final.items() if not k.startswith("perf/")}
def tasks(status):
    return {t["hash"]: (t["index"], t["name"], t["state"], t["axes"], results(t["final"])) for t in status["tasks"]}
a, b = tasks(slurm), tasks(local)
if a.keys() != b.keys():
    fail("different tasks: %s against %s" % (sorted(a), sorted(b)))
for h in a:
    if a[h] != b[h]:
        fail("task %s differs:\n  slurm %s\n  local %s" % (h, a[h], b[h]))
if any(t["slurm_job"] for t in local["tasks"]):
    fail("a local task has a Slurm job")
def runs(path, sweep_id):
    kept = set()
    for r in json.load(open(path)):
        tags = tuple(sorted(t for t in r["tags"] if t != "sweep:" + sweep_id))
        kept.add((r["name"], r["status"], tags, json.dumps(results(r.get("final", {})), sort_keys=True)))
    return kept
ra, rb = runs(sys.argv[3], slurm["id"]), runs(sys.argv[4], local["id"])
if ra != rb:
    fail("the databases differ:\n  slurm only %s\n  local only %s" % (sorted(ra - rb), sorted(rb - ra)))
print("slurm_failures_test: --backend local gives the same %d tasks and %d distinct runs" % (len(a), len(ra)))
PY

# Slurm gone (the cluster stopped): `sweep status` says it could not ask, and takes each state
# from the runs' own databases (a run still marked running would be judged by its heartbeat).
# The controller is tried once (scontrol retries for about 18 s), not once per array job.
"$source_dir/tests/slurm/stop_cluster.sh" "$cluster"
started=$SECONDS
"$distill" sweep status --json "$sweep" > "$work/status3.json"
echo "slurm_failures_test: sweep status with the cluster stopped took $((SECONDS - started)) s"
python3 - "$work/status2.json" "$work/status3.json" "$work/status.txt" <<'PY'
import json, sys
before = {t["index"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
gone = json.load(open(sys.argv[2]))
text = open(sys.argv[3]).read()
def fail(message):
    sys.exit("slurm_failures_test: " + message)
if not gone["slurm_source"].startswith("sacct unavailable") or "controller unreachable" not in gone["slurm_source"]:
    fail("with the cluster stopped, Slurm's source reads %r" % gone["slurm_source"])
after = {t["index"]: t for t in gone["tasks"]}
for i in range(6):
    if after[i]["state"] != before[i]["state"] or after[i]["state_source"] != "database" or after[i]["slurm_state"]:
        fail("run %d without Slurm: %s (before: %s)" % (i, after[i], before[i]["state"]))
# The live cluster's text status: a FROM column, with Slurm's word for the failed and cancelled runs.
if not any(l.split()[:3] == ["run", "state", "from"] for l in text.splitlines()) or " slurm " not in text \
        or " database " not in text:
    fail("`sweep status` does not say where its states came from:\n" + text)
print("slurm_failures_test: with Slurm stopped, every state comes from the runs' databases, and status says so")
PY
