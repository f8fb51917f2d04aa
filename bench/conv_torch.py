#!/usr/bin/env python3
"""The cases of bench/bench_conv.cpp in PyTorch: each conv VAE layer's forward (F.conv2d /
F.conv_transpose2d) and its two backward products (aten::convolution_backward, what autograd calls),
batch 128, f32.

Prints one JSON object per case: {"name": ..., "ms_per_iter": ...}, the median over `--repeats`
timings of `--iters` calls each.

Run with Debian's python3-torch: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/conv_torch.py
(bench/compare_conv.sh does, and sets --threads 2).
"""
import argparse
import json

import torch
import torch.nn.functional as F

from autograd_torch import time_us

LAYERS = {  # name: (x shape, w shape, transposed)
    "enc1": ((128, 1, 28, 28), (32, 1, 4, 4), False),
    "enc2": ((128, 32, 14, 14), (64, 32, 4, 4), False),
    "dec1": ((128, 64, 7, 7), (64, 32, 4, 4), True),
    "dec2": ((128, 32, 14, 14), (32, 1, 4, 4), True),
}


def cases():
    g = torch.Generator().manual_seed(1)
    for name, (xs, ws, transposed) in LAYERS.items():
        x, w = torch.randn(xs, generator=g), torch.randn(ws, generator=g)
        b = torch.randn(ws[1] if transposed else ws[0], generator=g)
        conv = F.conv_transpose2d if transposed else F.conv2d
        fwd = lambda x=x, w=w, b=b, conv=conv: conv(x, w, b, stride=2, padding=1)
        gy = torch.randn(fwd().shape, generator=g)

        def backward(mask, x=x, w=w, gy=gy, transposed=transposed):
            return torch.ops.aten.convolution_backward(gy, x, w, None, [2, 2], [1, 1], [1, 1], transposed, [0, 0], 1,
                                                       mask)
        yield f"conv/{name}/fwd", fwd
        yield f"conv/{name}/bwd_input", lambda backward=backward: backward([True, False, False])
        yield f"conv/{name}/bwd_weight", lambda backward=backward: backward([False, True, False])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with torch.no_grad():
        for name, fn in cases():
            print(json.dumps({"name": name, "ms_per_iter": time_us(fn, args.iters, args.repeats) / 1e3}), flush=True)


if __name__ == "__main__":
    main()
