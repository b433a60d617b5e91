#!/usr/bin/env python3
"""Does the core + CLI still compile against LibTorch 2.x, on a machine that has only 1.13?

Compiles every translation unit of core/ and app/cli/ (taken from a configured build's
compile_commands.json) with -fsyntax-only against other LibTorch headers put first on the
include path, once per C++ standard asked for. Nothing is linked; what it catches is API
drift (a function or type that moved or went away), which is what breaks a build against a
pip `torch` or a CUDA LibTorch. tests/compat/libtorch2_check.sh fetches the headers (Debian
trixie's libtorch-dev, LibTorch 2.6) and calls this.

  tests/compat/libtorch2_check.py --build BUILD_DIR --include HEADERS/usr/include [--std c++17 --std c++20]

Exit status 0 when every file compiles under every standard; otherwise each failure's first
errors are printed and the status is 1.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys

# Flags of the real build that do not apply to a syntax check of one file.
DROP_WITH_VALUE = {"-o", "-include", "-x", "-MF", "-MT", "-MQ"}
DROP = {"-c", "-Winvalid-pch", "-MD", "-MMD"}


def commands(build, only):
    path = os.path.join(build, "compile_commands.json")
    if not os.path.exists(path):
        sys.exit(f"libtorch2_check: {path} not found (configure the build with CMAKE_EXPORT_COMPILE_COMMANDS=ON)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for entry in json.load(open(path)):
        source = os.path.abspath(entry["file"])
        rel = os.path.relpath(source, root)
        if not rel.endswith(".cpp") or not (rel.startswith("core/") or rel.startswith("app/cli/")):
            continue
        if rel.startswith("app/cli/chart_render_qt"):
            continue  # the Qt side of the CLI; Qt is not part of this check
        if only and only not in rel:
            continue
        args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
        out, skip = [], False
        for arg in args:
            if skip:
                skip = False
                continue
            if arg in DROP_WITH_VALUE:
                skip = True
                continue
            if arg in DROP or os.path.abspath(os.path.join(entry["directory"], arg)) == source:
                continue
            out.append(arg)
        yield rel, source, out, entry["directory"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="a configured build folder (core + CLI)")
    ap.add_argument("--include", required=True, help="the other LibTorch's include folder (holds ATen/, c10/, torch/)")
    ap.add_argument("--std", action="append", help="C++ standard(s) to check, e.g. c++17 (default: c++17 and c++20)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--only", default="", help="only files whose path contains this")
    a = ap.parse_args()
    include = os.path.abspath(a.include)
    for needed in ("ATen/ATen.h", "torch/csrc/api/include/torch/torch.h"):
        if not os.path.exists(os.path.join(include, needed)):
            sys.exit(f"libtorch2_check: {include} has no {needed} (expected a LibTorch include folder)")
    standards = a.std or ["c++17", "c++20"]
    jobs = []
    for rel, source, args, directory in commands(a.build, a.only):
        for std in standards:
            flags = [f"-std={std}" if x.startswith("-std=") else x for x in args[1:]]
            cmd = [args[0], "-I" + os.path.join(include, "torch/csrc/api/include"), "-I" + include, *flags,
                   "-fsyntax-only", "-w", source]
            jobs.append((rel, std, cmd, directory))
    if not jobs:
        sys.exit("libtorch2_check: no core/ or app/cli/ sources in the build's compile_commands.json")

    def run(job):
        rel, std, cmd, directory = job
        result = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
        return rel, std, result.returncode, result.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for rel, std, status, err in pool.map(run, jobs):
            if status:
                failed += 1
                errors = [line for line in err.splitlines() if "error" in line][:8]
                print(f"FAIL {rel} ({std})\n  " + "\n  ".join(errors), flush=True)
    print(f"libtorch2_check: {len(jobs) - failed} of {len(jobs)} compiles passed "
          f"({len(jobs) // len(standards)} files x {', '.join(standards)}) against {include}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
