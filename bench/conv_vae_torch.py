#!/usr/bin/env python3
"""The convolutional VAE of `vae train --model conv-vae` in PyTorch, on the same IDX data, for a
side-by-side comparison (bench/compare_conv_vae.sh).

Encoder: Conv2d(1, 32, 4, 2, 1)-ReLU-Conv2d(32, 64, 4, 2, 1)-ReLU-Flatten-Linear(3136, 2 latent) (mu and
logvar side by side); decoder the mirror: Linear(latent, 3136)-ReLU-Unflatten(64, 7, 7)-ConvTranspose2d(64,
32, 4, 2, 1)-ReLU-ConvTranspose2d(32, 1, 4, 2, 1). The parameter names are tapegrad's (encoder.1.weight,
...). The loss, schedule and output are bench/vae_torch.py's (its run()): BCE on logits (sum) + KLD, Adam
lr 1e-3, batch 128, grey values, one JSON object per epoch; `seconds` excludes evaluation.

Run with Debian's python3-torch: /usr/bin/python3 bench/conv_vae_torch.py --data DIR --epochs 10
"""
import torch
from torch import nn

from vae_torch import run


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
    run(lambda args: ConvVAE(args.latent), __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
