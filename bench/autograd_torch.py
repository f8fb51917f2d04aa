#!/usr/bin/env python3
"""The four cases of bench/bench_autograd.cpp in PyTorch: recording plus backward for a tiny op and
for a 128x400 element-wise op, each beside the same forward under torch.no_grad(). f32.

Prints one JSON object per case: {"name": ..., "us_per_iter": ...}, the median over `--repeats`
timings of `--iters` iterations each (time.perf_counter).

Run with Debian's python3-torch: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/autograd_torch.py
(bench/compare_autograd.sh does, and sets --threads 2).
"""
import argparse
import json
import statistics
import time

import torch


def tiny():
    x = torch.tensor(1.5)
    w = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(-0.25, requires_grad=True)

    def fwd_bwd():
        y = x * w + b
        y.backward()
        w.grad = None
        b.grad = None

    def fwd_nograd():
        with torch.no_grad():
            return x * w + b

    return fwd_bwd, fwd_nograd


def mid():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 400, generator=g)
    w = torch.randn(128, 400, generator=g, requires_grad=True)

    def fwd_bwd():
        y = torch.relu(x * w).sum()
        y.backward()
        w.grad = None

    def fwd_nograd():
        with torch.no_grad():
            return torch.relu(x * w).sum()

    return fwd_bwd, fwd_nograd


def time_us(fn, iters, repeats):
    for _ in range(max(1, iters // 10)):  # warm-up
        fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        runs.append((time.perf_counter() - t0) / iters * 1e6)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20000, help="iterations per timing (tiny cases)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tiny_fwd_bwd, tiny_nograd = tiny()
    mid_fwd_bwd, mid_nograd = mid()
    mid_iters = max(1, args.iters // 10)
    cases = [
        ("autograd/tiny/fwd_bwd", tiny_fwd_bwd, args.iters),
        ("autograd/tiny/fwd_nograd", tiny_nograd, args.iters),
        ("autograd/128x400/fwd_bwd", mid_fwd_bwd, mid_iters),
        ("autograd/128x400/fwd_nograd", mid_nograd, mid_iters),
    ]
    for name, fn, iters in cases:
        print(json.dumps({"name": name, "us_per_iter": time_us(fn, iters, args.repeats)}), flush=True)


if __name__ == "__main__":
    main()
