#!/usr/bin/env bash
# GPU throughput of `distill bench` against the plain PyTorch loop, on a machine with a pip
# PyTorch (CUDA) and no Qt. One script, run from anywhere inside the repository:
#
#   tests/benchmarks/gpu_bench.sh
#
# 1. builds core + CLI against the LibTorch inside that PyTorch
#    (-DDISTILL_BUILD_GUI=OFF -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)'))
# 2. runs `distill bench --json` on the GPU (float32, then bf16 autocast)
# 3. runs ../shared/bench/reference_kd.py with that Python on the same GPU
#    (tests/benchmarks/reference_on_device.py wraps it: data and models on the device, a
#    synchronised clock), for the Hinton MLPs and the tiny student, alternating, REPS times
# 4. runs the default experiment on the device (DEFAULT_RUN=1, the default unless DEVICE=cpu)
# 5. prints the ratios and writes everything (logs, JSON, summary) to $OUT (or ./gpu-bench-out)
#
# Environment: PYTHON (default python3), OUT, REPS (3), SECONDS_PER_PHASE (5), REF_EPOCHS (2),
# FASHION_MNIST (default /usr/share/datasets/fashion-mnist, else ./shared/fashion-mnist or
# ./fashion-mnist if present), REFERENCE (default ../shared/bench/reference_kd.py, else
# ./shared/bench/reference_kd.py), BUILD_DIR (build-gpu), JOBS (nproc), STEP_TIMEOUT (1200 s),
# DEVICE (cuda; `cpu` for a smoke test of the script itself), DISTILL (an already built
# distill binary: skips the build), EXTRA_PREFIX_PATH (more CMake prefixes, ';'-separated,
# e.g. FOLDER/usr of packaging/offline-deps.sh FOLDER, for a machine without the -dev packages).
# Needs CMake >= 3.18, a C++17 compiler, and the -dev packages of SQLite 3, yaml-cpp, fmt,
# nlohmann-json, CLI11 and zlib (packaging/install-deps.sh --no-gui installs them on
# Debian; packaging/offline-deps.sh makes a folder of them for a machine without network).
# Each missing piece stops the script with a message naming it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$root/gpu-bench-out}
REPS=${REPS:-3}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-5}
REF_EPOCHS=${REF_EPOCHS:-2}
BUILD_DIR=${BUILD_DIR:-$root/build-gpu}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}
STEP_TIMEOUT=${STEP_TIMEOUT:-1200}
DEVICE=${DEVICE:-cuda}
DISTILL=${DISTILL:-}
mkdir -p "$OUT"
log="$OUT/gpu_bench.log"
: > "$log"

say() { echo "[gpu_bench $(date -u +%H:%M:%S)] $*" | tee -a "$log"; }
die() { say "ERROR: $*"; exit 1; }
# Runs a step with a timeout, its output appended to the log and to $OUT/<name>.log.
step() {
  local name=$1; shift
  say "$name: $*"
  if ! timeout "$STEP_TIMEOUT" "$@" > "$OUT/$name.log" 2>&1; then
    tail -n 40 "$OUT/$name.log" | tee -a "$log"
    die "$name failed (exit status above; full output in $OUT/$name.log)"
  fi
}

# --- what this machine has -------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "no $PYTHON (set PYTHON to an interpreter with torch)"
"$PYTHON" -c 'import torch' 2>/dev/null || die "$PYTHON cannot import torch"
command -v cmake >/dev/null || die "cmake not found"
"$PYTHON" - <<'EOF' | tee -a "$log" | tee "$OUT/machine.txt"
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "cxx11_abi", torch.compiled_with_cxx11_abi())
print("cuda available", torch.cuda.is_available(),
      *(f"device {i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())))
EOF
if [ "$DEVICE" != cpu ]; then
  "$PYTHON" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' || die "torch sees no CUDA device"
fi
nvidia-smi >> "$OUT/machine.txt" 2>&1 || true

data=${FASHION_MNIST:-}
if [ -z "$data" ]; then
  for d in /usr/share/datasets/fashion-mnist "$root/shared/fashion-mnist" "$root/fashion-mnist"; do
    if [ -e "$d/train-images-idx3-ubyte.gz" ] || [ -e "$d/train-images-idx3-ubyte" ]; then data=$d; break; fi
  done
fi
[ -n "$data" ] || die "Fashion-MNIST not found (set FASHION_MNIST to a folder with train-images-idx3-ubyte[.gz] etc.)"
[ -e "$data/train-images-idx3-ubyte.gz" ] || die "$data: the reference loop reads the .gz IDX files; none there"
reference=${REFERENCE:-}
if [ -z "$reference" ]; then
  for r in "$root/../shared/bench/reference_kd.py" "$root/shared/bench/reference_kd.py"; do
    if [ -f "$r" ]; then reference=$r; break; fi
  done
fi
[ -n "$reference" ] && [ -f "$reference" ] || die "reference_kd.py not found (set REFERENCE)"
say "dataset $data, reference $reference, output $OUT"

# --- build core + CLI against the pip LibTorch ---------------------------------------------
if [ -n "$DISTILL" ]; then
  distill=$DISTILL
  say "using the given binary $distill (no build)"
else
  prefix=$("$PYTHON" -c 'import torch;print(torch.utils.cmake_prefix_path)')
  generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  step configure cmake -S "$root" -B "$BUILD_DIR" ${generator[@]+"${generator[@]}"} -DCMAKE_BUILD_TYPE=Release \
    -DDISTILL_BUILD_GUI=OFF -DDISTILL_BUILD_TESTS=OFF -DDISTILL_BUILD_BENCHMARKS=OFF \
    -DCMAKE_PREFIX_PATH="$prefix${EXTRA_PREFIX_PATH:+;$EXTRA_PREFIX_PATH}"
  step build cmake --build "$BUILD_DIR" --target distill -j "$JOBS"
  distill="$BUILD_DIR/app/cli/distill"
fi
[ -x "$distill" ] || die "build produced no $distill"
"$distill" --version | tee -a "$log"

# --- side by side, alternating -----------------------------------------------------------
ref_hinton=("$PYTHON" "$root/tests/benchmarks/reference_on_device.py" "$reference" --device "$DEVICE" --data "$data"
            --epochs-teacher "$REF_EPOCHS" --epochs-student "$REF_EPOCHS")
ref_tiny=("${ref_hinton[@]}" --student 784,32,10)
bench=("$distill" bench --json --device "$DEVICE" --data "$data" --workload "${WORKLOADS:-all}" --seconds "$SECONDS_PER_PHASE")
precisions=(fp32)
if [ "$DEVICE" != cpu ]; then precisions+=(bf16); fi
for rep in $(seq 1 "$REPS"); do
  order=(ours ref)
  [ $((rep % 2)) -eq 0 ] && order=(ref ours)
  for who in "${order[@]}"; do
    if [ "$who" = ours ]; then
      for precision in "${precisions[@]}"; do
        autocast=off
        if [ "$precision" = bf16 ]; then autocast=bf16; fi
        step "bench_${precision}_$rep" "${bench[@]}" --autocast "$autocast"
        grep '^{' "$OUT/bench_${precision}_$rep.log" | tail -n 1 > "$OUT/bench_${precision}_$rep.json"
      done
    else
      step "reference_hinton_$rep" "${ref_hinton[@]}"
      grep '^{' "$OUT/reference_hinton_$rep.log" | tail -n 1 > "$OUT/reference_hinton_$rep.json"
      step "reference_tiny_$rep" "${ref_tiny[@]}" --epochs-teacher 0
      grep '^{' "$OUT/reference_tiny_$rep.log" | tail -n 1 > "$OUT/reference_tiny_$rep.json"
    fi
  done
done

# --- the default experiment on the device (DEFAULT_RUN=1; the default on a GPU) ----------
if [ "${DEFAULT_RUN:-$([ "$DEVICE" = cpu ] && echo 0 || echo 1)}" = 1 ]; then
  start=$EPOCHREALTIME
  step default_run "$distill" run --set device="$DEVICE" --set dataset.path="$data" --db "$OUT/default_run.db" --json
  echo "wall_s $start $EPOCHREALTIME" >> "$OUT/default_run.log"
  grep '^{' "$OUT/default_run.log" | tail -n 1 > "$OUT/default_run.json"
fi

# --- summary -----------------------------------------------------------------------------
"$PYTHON" - "$OUT" "$REPS" "$DEVICE" <<'EOF' | tee -a "$log" | tee "$OUT/summary.txt"
import json, statistics, sys
out, reps, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda name: json.load(open(f"{out}/{name}.json"))
rows = {}
for r in range(1, reps + 1):
    ref_h, ref_t = load(f"reference_hinton_{r}"), load(f"reference_tiny_{r}")
    for precision in ("fp32", "bf16"):
        try:
            b = load(f"bench_{precision}_{r}")
        except FileNotFoundError:
            continue
        ph = lambda w, p: b["workloads"].get(w, {}).get("phases", {}).get(p, {}).get("samples_per_s", float("nan"))
        for label, value in [
            (f"{precision} Hinton KD with cache / reference KD", ph("hinton", "kd_cached") / ref_h["kd_train_samples_per_s"]),
            (f"{precision} Hinton KD without cache / reference KD", ph("hinton", "kd_uncached") / ref_h["kd_train_samples_per_s"]),
            (f"{precision} Hinton teacher training / reference", ph("hinton", "teacher_train") / ref_h["teacher_train_samples_per_s"]),
            (f"{precision} tiny KD with cache / reference", ph("tiny", "kd_cached") / ref_t["kd_train_samples_per_s"]),
            (f"{precision} workbench Hinton teacher samples/s", ph("hinton", "teacher_train")),
            (f"{precision} workbench Hinton KD cached samples/s", ph("hinton", "kd_cached")),
            (f"{precision} workbench tiny KD cached samples/s", ph("tiny", "kd_cached")),
            (f"{precision} workbench CNN teacher samples/s", ph("cnn", "teacher_train")),
            (f"{precision} in-run matmul peak GFLOP/s", b["peak_gflops"]),
        ]:
            rows.setdefault(label, []).append(value)
    for label, value in [("reference Hinton teacher samples/s", ref_h["teacher_train_samples_per_s"]),
                         ("reference Hinton KD samples/s", ref_h["kd_train_samples_per_s"]),
                         ("reference tiny KD samples/s", ref_t["kd_train_samples_per_s"])]:
        rows.setdefault(label, []).append(value)
print(f"side by side on {device}, {reps} repetitions, alternating: median (min-max); ratios are workbench / reference")
for label, values in rows.items():
    print(f"  {label:<52} {statistics.median(values):>12.2f} ({min(values):.2f}-{max(values):.2f})")
try:
    run = load("default_run")
    begin, end = [line.split()[1:3] for line in open(f"{out}/default_run.log") if line.startswith("wall_s ")][-1]
    wall = float(end) - float(begin)
    final = run.get("final", {})
    print(f"default experiment on {device}: {run.get('status')} in {wall:.1f} s; teacher "
          f"{final.get('eval/teacher_acc', float('nan')):.4f}, student {final.get('eval/student_acc', float('nan')):.4f}, "
          f"agreement {final.get('eval/agreement', float('nan')):.4f}, KL {final.get('eval/kl', float('nan')):.4f}")
except (FileNotFoundError, json.JSONDecodeError, IndexError):
    pass
EOF
say "done; results in $OUT"
