#!/usr/bin/env python3
"""Runs bench_gemm and prints, per shape and thread count, tapegrad's and OpenBLAS's GFLOP/s and their
ratio (tapegrad / OpenBLAS; the bar is >= 0.9).

  bench/gemm_ratio.py build/bench/bench_gemm [--repetitions N] [--metric mean|best] [--cpu-time]
                      [--filter REGEX] [--save FILE] [-- ARGS...]
  bench/gemm_ratio.py --load FILE [--metric mean|best]    # the table of a saved run

GFLOP/s come from wall-clock time (the benchmarks use real time), taking the best of the repetitions
(the best run is the least disturbed one). --metric best uses instead the fastest single call of each
run (bench_gemm's best_GFLOP/s counter), the least disturbed measure on a machine shared with other
jobs. --cpu-time recomputes the mean rate from the process CPU time per iteration: only meaningful
for 1 thread. Standard library only.
"""
import argparse
import json
import re
import subprocess
import sys

NAME = re.compile(r"^gemm/(?P<impl>[a-z]+)/(?P<dtype>f\d+)/(?P<shape>[^/]+)/threads:(?P<threads>\d+)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary", help="path to bench_gemm")
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--metric", choices=["mean", "best"], default="mean",
                   help="mean: rate over all iterations; best: fastest single call")
    p.add_argument("--cpu-time", action="store_true", help="mean GFLOP/s from CPU time instead of wall clock")
    p.add_argument("--filter", default="", help="--benchmark_filter for bench_gemm")
    p.add_argument("--save", metavar="FILE", help="also write bench_gemm's JSON output to FILE")
    p.add_argument("--load", action="store_true",
                   help="BINARY is a JSON file saved by --save: print its table without running anything")
    p.add_argument("extra", nargs="*", help="more arguments for bench_gemm (after --)")
    args = p.parse_args()

    if args.load:
        with open(args.binary) as f:
            out = f.read()
    else:
        cmd = [args.binary, "--benchmark_format=json", f"--benchmark_repetitions={args.repetitions}"]
        if args.filter:
            cmd.append(f"--benchmark_filter={args.filter}")
        cmd += args.extra
        print("$ " + " ".join(cmd), flush=True)
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        if args.save:
            with open(args.save, "w") as f:
                f.write(out)
    data = json.loads(out)

    best = {}  # (dtype, shape, threads, impl) -> GFLOP/s
    order = []  # (dtype, shape, threads) in the program's order
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        m = NAME.match(b["name"])
        if not m:
            continue
        gflops = b["best_GFLOP/s"] if args.metric == "best" else b["GFLOP/s"]
        if args.cpu_time and args.metric == "mean":  # rescale the wall-clock rate to the CPU time per iteration
            gflops *= b["real_time"] / b["cpu_time"]
        key = (m["dtype"], m["shape"], int(m["threads"]), m["impl"])
        if key[:3] not in order:
            order.append(key[:3])
        best[key] = max(best.get(key, 0.0), gflops)

    print(f"{'dtype':<5} {'shape (MxNxK_opAopB)':<22} {'threads':>7} {'tapegrad':>9} {'OpenBLAS':>9} {'ratio':>6}")
    worst = None
    for dtype, shape, threads in order:
        tg = best.get((dtype, shape, threads, "tapegrad"))
        ob = best.get((dtype, shape, threads, "openblas"))
        ratio = tg / ob if tg and ob else None
        if ratio is not None and not shape.startswith("1x1x1"):
            worst = ratio if worst is None else min(worst, ratio)
        fmt = lambda x: f"{'-':>9}" if x is None else f"{x:9.1f}" if x >= 10 else f"{x:9.3f}"
        print(f"{dtype:<5} {shape:<22} {threads:>7} {fmt(tg)} {fmt(ob)} "
              + (f"{ratio:6.2f}" if ratio is not None else f"{'-':>6}")
              + ("  < 0.9" if ratio is not None and ratio < 0.9 and not shape.startswith("1x1x1") else ""))
    if worst is not None:
        print(f"worst ratio (excluding 1x1x1): {worst:.2f}")


if __name__ == "__main__":
    main()
