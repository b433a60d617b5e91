#!/usr/bin/env python3
"""Would overlapping the teacher's forward pass with the student's step speed up KD without
the teacher-logit cache on two cores? (BENCHMARKS.md, issue 7: it does not.)

The plain PyTorch KD step on the Hinton MLPs (teacher 784-1200-1200-10 in eval mode, student
784-800-800-10, batch 128, SGD with momentum), on random data, two ways:
  seq   teacher forward, then the student's step, OpenBLAS on both cores
  pipe  a second thread computes the next batch's teacher logits while the main thread takes
        the student's step, each thread with single-threaded OpenBLAS
The OpenBLAS thread count is fixed when the library loads, so each way is its own process:

  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 tests/benchmarks/overlap_probe.py seq
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/benchmarks/overlap_probe.py pipe
"""
import argparse
import os
import queue
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(sizes, dropout):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["seq", "pipe"])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    teacher = mlp([784, 1200, 1200, 10], 0.2).eval()
    student = mlp([784, 800, 800, 10], 0)
    opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
    x_all, y_all = torch.randn(60000, 784), torch.randint(0, 10, (60000,))
    batch = 128
    order = torch.randperm(60000)
    batches = [order[i * batch:(i + 1) * batch] for i in range(a.steps)]

    def teacher_logits(x):
        with torch.no_grad():
            return teacher(x)

    def student_step(x, y, t):
        s = student(x)
        kd = F.kl_div(F.log_softmax(s / 4, 1), F.softmax(t / 4, 1), reduction="batchmean") * 16
        loss = 0.9 * kd + 0.1 * F.cross_entropy(s, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(a.reps):
        start = time.perf_counter()
        if a.mode == "seq":
            for idx in batches:
                x = x_all[idx]
                student_step(x, y_all[idx], teacher_logits(x))
        else:
            ready = queue.Queue(maxsize=1)

            def produce():
                for idx in batches:
                    x = x_all[idx]
                    ready.put((x, teacher_logits(x)))

            worker = threading.Thread(target=produce)
            worker.start()
            for idx in batches:
                x, t = ready.get()
                student_step(x, y_all[idx], t)
            worker.join()
        rate = a.steps * batch / (time.perf_counter() - start)
        print(f"{a.mode} (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}): {rate:.0f} samples/s")


if __name__ == "__main__":
    main()
