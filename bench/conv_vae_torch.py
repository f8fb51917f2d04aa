#!/usr/bin/env python3
"""The convolutional VAE of `vae train --model conv-vae` in PyTorch, on the same IDX data, for a
side-by-side comparison (bench/compare_conv_vae.sh).

Encoder: Conv2d(1, 32, 4, 2, 1)-ReLU-Conv2d(32, 64, 4, 2, 1)-ReLU-Flatten-Linear(3136, 2 latent) (mu and
logvar side by side); decoder the mirror: Linear(latent, 3136)-ReLU-Unflatten(64, 7, 7)-ConvTranspose2d(64,
32, 4, 2, 1)-ReLU-ConvTranspose2d(32, 1, 4, 2, 1). The parameter names are tapegrad's (encoder.1.weight,
...). BCE on logits (sum) + KLD, Adam lr 1e-3, batch 128, grey values. One JSON object per epoch with
the keys of tapegrad's metrics.jsonl; `seconds` is the epoch's training time, evaluation excluded.

Run with Debian's python3-torch: /usr/bin/python3 bench/conv_vae_torch.py --data DIR --epochs 10
"""
import argparse
import json
import time

import torch
from torch import nn

from vae_torch import find, loss_terms, read_idx


class ConvVAE(nn.Module):
    def __init__(self, latent=20, rows=28, cols=28):
        super().__init__()
        self.latent = latent
        flat = 64 * (rows // 4) * (cols // 4)
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, rows, cols)),
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(flat, 2 * latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, flat), nn.ReLU(), nn.Unflatten(1, (64, rows // 4, cols // 4)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Flatten())

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = h[:, :self.latent], h[:, self.latent:]
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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

    model = ConvVAE(args.latent)
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


if __name__ == "__main__":
    main()
