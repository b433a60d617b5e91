#!/usr/bin/env python3
"""Runs ../shared/bench/reference_kd.py (the plain PyTorch loop) unchanged on another device
and dataset folder, for GPU comparisons (tests/benchmarks/gpu_bench.sh):

  python3 tests/benchmarks/reference_on_device.py REFERENCE.py --device cuda --data DIR [reference options]

The reference's own functions are wrapped, not edited: load() puts the splits on the device,
mlp() moves the models there, and its clock synchronises the device before each reading (CUDA
runs asynchronously; without it a loop's time would miss its queued work). Batch indices stay
on the CPU as in the reference (PyTorch copies them per step, as a plain script does)."""
import argparse
import importlib.util
import sys
import time as _time

import torch


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("reference")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--data", default=None)
    a, rest = ap.parse_known_args()
    spec = importlib.util.spec_from_file_location("reference_kd", a.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    device = torch.device(a.device)
    if a.data:
        ref.ROOT = a.data
    load, mlp = ref.load, ref.mlp
    ref.load = lambda split: tuple(t.to(device) for t in load(split))
    ref.mlp = lambda sizes, dropout: mlp(sizes, dropout).to(device)

    class SyncedClock:
        def __getattr__(self, name):
            return getattr(_time, name)

        @staticmethod
        def perf_counter():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return _time.perf_counter()

    ref.time = SyncedClock()
    sys.argv = [a.reference] + rest
    ref.main()


if __name__ == "__main__":
    main()
