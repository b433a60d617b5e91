#!/usr/bin/env python3
"""Side-by-side throughput of `distill bench` against the plain PyTorch loop (issues 7 and 21).

Image workloads (issue 7, the default). Runs, in one invocation and alternating their order on
every repetition:
  * `distill bench --json --workload hinton,tiny`   (the workbench's real Trainer)
  * reference_kd.py                                 (Hinton MLPs: teacher training + KD)
  * reference_kd.py --student 784,32,10             (the tiny student's KD)
and prints, for each target of issue 7, the ratio workbench / reference of every repetition
with its median and min-max. Ratios are taken within a repetition (the two programs ran
seconds apart), so a machine that is slower for everyone cancels out; the spread shows how
much the load moved them. The load average is printed with every run.

Language models (issue 21, --lm). Runs, alternating their order on every repetition:
  * `distill bench --json --workload lm --threads 1`       (teacher training, KD without and with
                                                           the teacher caches, generation)
  * reference_lm_kd.py --threads 1                        (teacher training + KD, same shapes)
and prints each issue-21 target as above: teacher tokens/s and KD tokens/s without a cache
against the reference (>= 2x), KD with the top-k teacher cache against the reference KD
(>= 4x), the teacher's fraction of the in-run matmul peak (>= 50%), generation with the KV
cache against without it (>= 5x at 256 new tokens). Then, once, the peak memory of one KD step
at a 50,000-token vocabulary (batch 8, context 256) in a process of its own, by
/usr/bin/time -v: `distill bench -w lm_memory` against reference_lm_kd.py --vocab 50000
--student-steps 1 (and --student-steps 0 for what the process holds without the step); target:
the workbench's peak at most half the reference's.

Run it with the interpreter that has torch (Debian: /usr/bin/python3 with python3-torch):
  /usr/bin/python3 tests/benchmarks/side_by_side.py [--reps 5] [--seconds 3] [--json-out FILE]
  /usr/bin/python3 tests/benchmarks/side_by_side.py --rss   # also peak RSS of `distill run` (~2 min)
  /usr/bin/python3 tests/benchmarks/side_by_side.py --lm --reps 3   # language models (~4 min a repetition)
Exit status: 0 when every target holds at the median, 1 otherwise, 2 on a failed run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, timeout):
    """Runs cmd; returns (stdout, wall seconds, 1-minute load average just before)."""
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sys.exit(f"error: timed out after {timeout} s: {' '.join(cmd)}")
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
        print(f"error: exit status {proc.returncode}: {' '.join(cmd)}", file=sys.stderr)
        sys.exit(2)
    return out, seconds, load


def last_json_line(text, what):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"error: no JSON line in the output of {what}:\n{text[-2000:]}")


def timed_rss(cmd, timeout):
    """Runs cmd under /usr/bin/time -v; returns (stdout, peak resident set size in MB)."""
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"error: exit status {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    for line in proc.stderr.splitlines():
        if "Maximum resident set size" in line:
            return proc.stdout, int(line.split(":")[1]) / 1024.0
    return proc.stdout, float("nan")


def peak_rss_mb(cmd, timeout):
    """Peak resident set size of cmd in MB, measured by /usr/bin/time -v."""
    return timed_rss(cmd, timeout)[1]


def spread(values):
    return statistics.median(values), min(values), max(values)


def report_targets(targets, raw, reps_count):
    """Prints each target's median (min-max) and verdict, then the raw numbers; returns
    (any target failed, summary list)."""
    print("\nratios within each repetition: median (min-max) over "
          f"{reps_count} repetitions; target; verdict at the median")
    failed = False
    summary = []
    for label, target, values, unit in targets:
        med, lo, hi = spread(values)
        ok = target is None or med >= target
        failed |= not ok
        fmt = (lambda v: f"{v:.2f}{unit}") if unit else (lambda v: f"{100 * v:.0f}%")
        verdict = "(no target)" if target is None else f"target >= {fmt(target):<6} {'met' if ok else 'NOT MET'}"
        print(f"  {label:<58} {fmt(med):>8} ({fmt(lo)}-{fmt(hi)})  {verdict}")
        print(f"  {'':<58} per repetition: {', '.join(fmt(v) for v in values)}")
        summary.append(dict(target=label, minimum=target, median=med, min=lo, max=hi, values=values, met=ok))
    print("\nraw numbers: median (min-max)")
    for label, values in raw:
        med, lo, hi = spread(values)
        print(f"  {label:<58} {med:>10.1f} ({lo:.1f}-{hi:.1f})")
    return failed, summary


def main_lm(a):
    """The language-model comparison (issue 21)."""
    for path in (a.distill, a.lm_reference):
        if not os.path.exists(path):
            sys.exit(f"error: {path} not found (build distill first: ninja -C build distill)")
    threads = str(a.lm_threads)
    ours_cmd = [a.distill, "bench", "--json", "--workload", "lm", "--seconds", str(a.seconds), "--device", "cpu",
                "--threads", threads, "--new-tokens", str(a.new_tokens)]
    ref_cmd = [a.python, a.lm_reference, "--teacher-steps", str(a.ref_teacher_steps), "--student-steps",
               str(a.ref_student_steps), "--threads", threads, "--eval-tokens", "4096"]
    print(f"side by side, language models: {a.reps} repetitions, order alternating; {os.cpu_count()} CPUs; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"  workbench: {' '.join(ours_cmd)}")
    print(f"  reference: {' '.join(ref_cmd)}")
    reps = []
    for r in range(a.reps):
        rep = {}
        for who in (["ours", "ref"] if r % 2 == 0 else ["ref", "ours"]):
            if who == "ours":
                out, secs, load = run(ours_cmd, a.timeout)
                rep["ours"] = last_json_line(out, "distill bench")
                rep["ours_load"] = load
                print(f"  rep {r + 1}: distill bench -w lm {secs:6.1f} s, load {load:.2f}")
            else:
                out, secs, load = run(ref_cmd, a.timeout)
                rep["ref"] = last_json_line(out, "reference_lm_kd.py")
                rep["ref_load"] = load
                print(f"  rep {r + 1}: reference_lm_kd.py  {secs:6.1f} s, load {load:.2f}")
        reps.append(rep)

    def ours(rep, phase, field="tokens_per_s"):
        return rep["ours"]["workloads"]["lm"]["phases"][phase][field]

    targets = [
        ("lm teacher training / reference", 2.0,
         [ours(p, "teacher_train") / p["ref"]["teacher_tokens_per_s"] for p in reps], "x"),
        ("lm KD without cache / reference KD", 2.0,
         [ours(p, "kd_uncached") / p["ref"]["kd_tokens_per_s"] for p in reps], "x"),
        ("lm KD with the top-k cache / reference KD", 4.0,
         [ours(p, "kd_topk_cache") / p["ref"]["kd_tokens_per_s"] for p in reps], "x"),
        ("lm KD with the logit cache / reference KD", None,
         [ours(p, "kd_cached") / p["ref"]["kd_tokens_per_s"] for p in reps], "x"),
        ("lm teacher training, fraction of in-run matmul peak", 0.50,
         [ours(p, "teacher_train", "fraction_of_peak") for p in reps], ""),
        (f"lm generation, KV cache / no cache ({a.new_tokens} new tokens)", 5.0,
         [ours(p, "generate_cached") / ours(p, "generate_uncached") for p in reps], "x"),
    ]
    raw = [("workbench teacher training, tokens/s", [ours(p, "teacher_train") for p in reps]),
           ("workbench KD without cache, tokens/s", [ours(p, "kd_uncached") for p in reps]),
           ("workbench KD with the logit cache, tokens/s", [ours(p, "kd_cached") for p in reps]),
           ("workbench KD with the top-k cache, tokens/s", [ours(p, "kd_topk_cache") for p in reps])]
    raw += [
        ("workbench teacher training, GFLOP/s", [ours(p, "teacher_train", "gflops") for p in reps]),
        ("workbench lm in-run matmul peak (its threads), GFLOP/s",
         [p["ours"]["workloads"]["lm"]["peak_gflops"] for p in reps]),
        ("workbench generation with KV cache, tokens/s", [ours(p, "generate_cached") for p in reps]),
        ("workbench generation without KV cache, tokens/s", [ours(p, "generate_uncached") for p in reps]),
        ("reference teacher training, tokens/s", [p["ref"]["teacher_tokens_per_s"] for p in reps]),
        ("reference KD, tokens/s", [p["ref"]["kd_tokens_per_s"] for p in reps]),
        ("load average (1 min) before each run", [p[k] for p in reps for k in ("ours_load", "ref_load")]),
    ]
    lm_threads = reps[0]["ours"]["workloads"]["lm"]["threads"]
    print(f"\nworkbench lm threads: {lm_threads['intra_op_threads']} torch intra-op, {lm_threads['blas_threads']} "
          f"BLAS ({lm_threads['reason']}; {lm_threads['blas']}); reference: {reps[0]['ref']['threads']} torch "
          f"thread(s); OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}")
    failed, summary = report_targets(targets, raw, len(reps))

    memory = {}
    if not a.no_memory:
        mem_ref = [a.python, a.lm_reference, "--teacher-steps", "0", "--batch", "8", "--context", "256", "--vocab",
                   "50000", "--eval-tokens", "256", "--threads", threads]
        mem_ours = [a.distill, "bench", "--json", "--workload", "lm_memory", "--seconds", str(a.seconds),
                    "--device", "cpu", "--threads", threads]
        print("\npeak memory of one KD step, 50,000-token vocabulary, batch 8, context 256 "
              f"(/usr/bin/time -v; load {os.getloadavg()[0]:.2f}):")
        out, ours_peak = timed_rss(mem_ours, a.timeout)
        ours_json = last_json_line(out, "distill bench -w lm_memory")["workloads"]["lm_memory"]["memory"]
        _, ref_peak = timed_rss(mem_ref + ["--student-steps", "1"], a.timeout)
        _, ref_base = timed_rss(mem_ref + ["--student-steps", "0"], a.timeout)
        ok = ours_peak <= 0.5 * ref_peak
        failed |= not ok
        memory = dict(workbench_peak_mb=ours_peak, workbench_before_step_mb=ours_json["rss_before_step_mb"],
                      workbench_in_process_peak_mb=ours_json["peak_rss_mb"], reference_peak_mb=ref_peak,
                      reference_without_step_mb=ref_base, met=ok)
        print(f"  workbench: {' '.join(mem_ours)}")
        print(f"    peak {ours_peak:.0f} MB; {ours_json['rss_before_step_mb']:.0f} MB resident when the student "
              f"phase began, so the step added {ours_peak - ours_json['rss_before_step_mb']:.0f} MB")
        print(f"  reference: {' '.join(mem_ref)} --student-steps 1 (and 0)")
        print(f"    peak {ref_peak:.0f} MB; {ref_base:.0f} MB without the step, so the step added "
              f"{ref_peak - ref_base:.0f} MB")
        print(f"  workbench / reference peak: {ours_peak / ref_peak:.2f} (target <= 0.50: {'met' if ok else 'NOT MET'})")

    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(dict(summary=summary, raw=reps, memory=memory, argv=sys.argv), f, indent=1)
        print(f"\nwrote {a.json_out}")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--distill", default=os.path.join(ROOT, "build", "app", "cli", "distill"))
    ap.add_argument("--reference", default=os.path.join(ROOT, "..", "shared", "bench", "reference_kd.py"))
    ap.add_argument("--python", default=sys.executable, help="interpreter for the reference (needs torch)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0, help="distill bench: measured seconds per phase")
    ap.add_argument("--ref-epochs", type=int, default=1, help="reference: epochs of each phase (60,000 images each)")
    ap.add_argument("--device", default="cpu", help="distill bench --device (the reference runs on the CPU)")
    ap.add_argument("--rss", action="store_true", help="also measure the peak RSS of the default `distill run`")
    ap.add_argument("--json-out", help="write every raw number and the summary as JSON")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per program run")
    lm = ap.add_argument_group("language models (issue 21)")
    lm.add_argument("--lm", action="store_true", help="compare the language-model workloads instead of the image ones")
    lm.add_argument("--lm-reference", default=os.path.join(ROOT, "..", "shared", "bench", "reference_lm_kd.py"))
    lm.add_argument("--lm-threads", type=int, default=1,
                    help="torch threads of both programs (the lm presets' and the issue's 1)")
    lm.add_argument("--ref-teacher-steps", type=int, default=10, help="reference: teacher steps (about 1-6 s each)")
    lm.add_argument("--ref-student-steps", type=int, default=20, help="reference: KD steps")
    lm.add_argument("--new-tokens", type=int, default=256, help="distill bench: generated tokens per call")
    lm.add_argument("--no-memory", action="store_true", help="skip the 50,000-token-vocabulary memory measurement")
    a = ap.parse_args()
    if a.lm:
        return main_lm(a)
    for path in (a.distill, a.reference):
        if not os.path.exists(path):
            sys.exit(f"error: {path} not found (build distill first: ninja -C build distill)")

    ours_cmd = [a.distill, "bench", "--json", "--workload", "hinton,tiny", "--seconds", str(a.seconds),
                "--device", a.device]
    ref_hinton = [a.python, a.reference, "--epochs-teacher", str(a.ref_epochs), "--epochs-student", str(a.ref_epochs)]
    # The tiny student's KD needs no trained teacher (the amount of work is the same), like
    # distill bench's KD phases, which take an untrained teacher from a checkpoint.
    ref_tiny = [a.python, a.reference, "--epochs-teacher", "0", "--epochs-student", str(a.ref_epochs),
                "--student", "784,32,10"]

    print(f"side by side: {a.reps} repetitions, order alternating; {os.cpu_count()} CPUs; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"  workbench: {' '.join(ours_cmd)}")
    print(f"  reference: {' '.join(ref_hinton)}")
    print(f"  reference: {' '.join(ref_tiny)}")
    reps = []
    for r in range(a.reps):
        rep = {}
        order = ["ours", "ref"] if r % 2 == 0 else ["ref", "ours"]
        for who in order:
            if who == "ours":
                out, secs, load = run(ours_cmd, a.timeout)
                rep["ours"] = last_json_line(out, "distill bench")
                rep["ours_load"] = load
                print(f"  rep {r + 1}: distill bench      {secs:6.1f} s, load {load:.2f}")
            else:
                out, secs, load = run(ref_hinton, a.timeout)
                rep["ref_hinton"] = last_json_line(out, "reference_kd.py")
                rep["ref_hinton_load"] = load
                print(f"  rep {r + 1}: reference (hinton) {secs:6.1f} s, load {load:.2f}")
                out, secs, load = run(ref_tiny, a.timeout)
                rep["ref_tiny"] = last_json_line(out, "reference_kd.py --student 784,32,10")
                rep["ref_tiny_load"] = load
                print(f"  rep {r + 1}: reference (tiny)   {secs:6.1f} s, load {load:.2f}")
        reps.append(rep)

    def ours(rep, workload, phase, field="samples_per_s"):
        return rep["ours"]["workloads"][workload]["phases"][phase][field]

    # (label, target, per-repetition value, unit)
    targets = [
        ("Hinton KD with cache / reference KD", 1.5,
         [ours(p, "hinton", "kd_cached") / p["ref_hinton"]["kd_train_samples_per_s"] for p in reps], "x"),
        ("Hinton KD without cache / reference KD", 1.0,
         [ours(p, "hinton", "kd_uncached") / p["ref_hinton"]["kd_train_samples_per_s"] for p in reps], "x"),
        ("Hinton teacher training / reference", 1.0,
         [ours(p, "hinton", "teacher_train") / p["ref_hinton"]["teacher_train_samples_per_s"] for p in reps], "x"),
        ("Tiny student KD with cache / reference", 8.0,
         [ours(p, "tiny", "kd_cached") / p["ref_tiny"]["kd_train_samples_per_s"] for p in reps], "x"),
        ("Hinton teacher training, fraction of in-run matmul peak", 0.70,
         [ours(p, "hinton", "teacher_train", "fraction_of_peak") for p in reps], ""),
    ]
    raw = [
        ("workbench Hinton teacher training, samples/s", [ours(p, "hinton", "teacher_train") for p in reps]),
        ("workbench Hinton KD with cache, samples/s", [ours(p, "hinton", "kd_cached") for p in reps]),
        ("workbench Hinton KD without cache, samples/s", [ours(p, "hinton", "kd_uncached") for p in reps]),
        ("workbench tiny KD with cache, samples/s", [ours(p, "tiny", "kd_cached") for p in reps]),
        ("workbench Hinton teacher training, GFLOP/s", [ours(p, "hinton", "teacher_train", "gflops") for p in reps]),
        ("workbench in-run matmul peak, GFLOP/s", [p["ours"]["peak_gflops"] for p in reps]),
        ("reference teacher training, samples/s", [p["ref_hinton"]["teacher_train_samples_per_s"] for p in reps]),
        ("reference Hinton KD, samples/s", [p["ref_hinton"]["kd_train_samples_per_s"] for p in reps]),
        ("reference tiny KD, samples/s", [p["ref_tiny"]["kd_train_samples_per_s"] for p in reps]),
        ("load average (1 min) before each run", [p[k] for p in reps for k in ("ours_load", "ref_hinton_load")]),
    ]

    threads = reps[0]["ours"]["threads"]
    print(f"\nworkbench threads: {threads['intra_op_threads']} torch intra-op, {threads['blas_threads']} BLAS "
          f"({threads['reason']})")
    failed, summary = report_targets(targets, raw, len(reps))

    rss = {}
    if a.rss:
        with tempfile.TemporaryDirectory() as tmp:
            rss["distill_run_mb"] = peak_rss_mb([a.distill, "run", "--quiet", "--db", os.path.join(tmp, "rss.db")],
                                                a.timeout)
        rss["reference_mb"] = peak_rss_mb(ref_hinton, a.timeout)
        ok = rss["distill_run_mb"] <= 600
        failed |= not ok
        print(f"\npeak RSS: default `distill run` {rss['distill_run_mb']:.0f} MB (target <= 600 MB, "
              f"{'met' if ok else 'NOT MET'}); reference loop {rss['reference_mb']:.0f} MB")

    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(dict(summary=summary, raw=reps, rss=rss, argv=sys.argv), f, indent=1)
        print(f"\nwrote {a.json_out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
