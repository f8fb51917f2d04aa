#!/usr/bin/python3
"""Makes the PyTorch reference numbers of the convolution tests (tests/nn/fixtures/conv.json).

Run with Debian's python (torch 1.13):  /usr/bin/python3 tests/nn/make_conv_fixtures.py

For each case: fixed float64 x, weight, bias and a projection r, PyTorch's conv2d / conv_transpose2d
output y and the gradients of sum(y * r) with respect to x, weight and bias; the layers' repr strings;
and the init bounds nn.Conv2d / nn.ConvTranspose2d use (1/sqrt(fan_in), fan_in from the weight's shape).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "conv.json")

CASES = [
    # op, batch, in, out, h, w, kh, kw, stride, padding, dilation, output_padding, bias
    ("conv2d", 3, 1, 4, 12, 11, 4, 4, (2, 2), (1, 1), (1, 1), (0, 0), True),
    ("conv2d", 2, 3, 5, 9, 7, 3, 2, (2, 1), (2, 0), (1, 2), (0, 0), True),
    ("conv2d", 1, 17, 3, 5, 5, 1, 1, (1, 1), (0, 0), (1, 1), (0, 0), False),
    ("conv_transpose2d", 3, 6, 4, 5, 5, 4, 4, (2, 2), (1, 1), (1, 1), (0, 0), True),
    ("conv_transpose2d", 2, 3, 2, 5, 4, 3, 3, (2, 3), (1, 0), (1, 1), (1, 2), True),
    ("conv_transpose2d", 1, 2, 3, 4, 6, 2, 3, (1, 2), (0, 1), (2, 1), (0, 1), False),
]


def flat(t):
    return t.detach().reshape(-1).tolist()


def main():
    g = torch.Generator().manual_seed(14)
    cases = []
    for op, n, cin, cout, h, w, kh, kw, stride, padding, dilation, outpad, bias in CASES:
        x = torch.randn(n, cin, h, w, generator=g, dtype=torch.float64, requires_grad=True)
        wshape = (cout, cin, kh, kw) if op == "conv2d" else (cin, cout, kh, kw)
        weight = torch.randn(*wshape, generator=g, dtype=torch.float64, requires_grad=True)
        b = torch.randn(cout, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
        if op == "conv2d":
            y = F.conv2d(x, weight, b, stride, padding, dilation)
        else:
            y = F.conv_transpose2d(x, weight, b, stride, padding, outpad, 1, dilation)
        r = torch.randn(y.shape, generator=g, dtype=torch.float64)
        (y * r).sum().backward()
        cases.append({
            "op": op, "stride": stride, "padding": padding, "dilation": dilation, "output_padding": outpad,
            "x_shape": list(x.shape), "w_shape": list(weight.shape), "y_shape": list(y.shape),
            "x": flat(x), "w": flat(weight), "b": flat(b) if bias else None, "r": flat(r), "y": flat(y),
            "dx": flat(x.grad), "dw": flat(weight.grad), "db": flat(b.grad) if bias else None,
        })
    layers = {
        "conv2d_repr": repr(torch.nn.Conv2d(1, 32, 4, stride=2, padding=1)),
        "conv2d_repr_nobias": repr(torch.nn.Conv2d(3, 5, (3, 2), dilation=(1, 2), bias=False)),
        "conv_transpose2d_repr": repr(torch.nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1, output_padding=1)),
        "unflatten_repr": repr(torch.nn.Unflatten(1, (64, 7, 7))),
        # the bound of U(-bound, bound) for weight and bias: 1/sqrt(fan_in), fan_in = size(1) * kh * kw
        "conv2d_bound": 1 / math.sqrt(32 * 4 * 4),       # nn.Conv2d(32, 64, 4)
        "conv_transpose2d_bound": 1 / math.sqrt(32 * 4 * 4),  # nn.ConvTranspose2d(64, 32, 4)
        "conv2d_max_abs": torch.nn.Conv2d(32, 64, 4).weight.abs().max().item(),
    }
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases, "layers": layers}, f)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
