#!/usr/bin/env python3
"""PyTorch's examples/vae, trained on the same IDX data as `vae train`, for a side-by-side comparison.

The model, loss and schedule are those of pytorch/examples vae/main.py: 784-400-ReLU-(20, 20),
20-400-ReLU-784, BCE (sum) + KLD, Adam lr 1e-3, batch 128, grey values (no binarization). It prints
one JSON object per epoch with the same keys as tapegrad's metrics.jsonl; `seconds` is the epoch's
training time, evaluation excluded.

Run with Debian's python3-torch: /usr/bin/python3 bench/vae_torch.py --data DIR --epochs 10
(bench/compare_vae.sh sets OPENBLAS_NUM_THREADS=1 and --threads 2, PyTorch's best setting here).
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"error: {folder} has no {stem}[.gz]")


class VAE(nn.Module):
    def __init__(self, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def loss_terms(logits, x, mu, logvar):
    # BCE on logits: the same as the example's binary_cross_entropy(sigmoid(.)), but stable.
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce, kld


def run(make_model, description):
    """Parses the common flags, then trains make_model(args) and prints one JSON line per epoch."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--latent", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_x = read_idx(find(args.data, "train-images-idx3-ubyte")).reshape(-1, 784).float() / 255
    test_x = read_idx(find(args.data, "t10k-images-idx3-ubyte")).reshape(-1, 784).float() / 255

    model = make_model(args)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(train_x))
        train_loss = 0.0
        for i in range(0, len(train_x), args.batch):
            x = train_x[perm[i:i + args.batch]]
            opt.zero_grad()
            logits, mu, logvar = model(x)
            bce, kld = loss_terms(logits, x, mu, logvar)
            loss = bce + kld
            loss.backward()
            opt.step()
            train_loss += loss.item()
        seconds = time.perf_counter() - start
        model.eval()
        recon = kl = 0.0
        with torch.no_grad():
            for i in range(0, len(test_x), 500):
                x = test_x[i:i + 500]
                logits, mu, logvar = model(x)
                bce, kld = loss_terms(logits, x, mu, logvar)
                recon += bce.item()
                kl += kld.item()
        n = len(test_x)
        print(json.dumps({"epoch": epoch, "train_loss": train_loss / len(train_x), "test_loss": (recon + kl) / n,
                          "test_recon": recon / n, "test_kl": kl / n, "seconds": seconds}), flush=True)


def main():
    run(lambda args: VAE(latent=args.latent), __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
