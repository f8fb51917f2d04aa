#!/usr/bin/python3
"""PyTorch reads what tapegrad writes, and tapegrad reads what PyTorch writes.

1. Trains a small `vae` model (or takes --checkpoint), loads its safetensors checkpoint into the VAE
   module of PyTorch's examples/vae (https://github.com/pytorch/examples/blob/main/vae/main.py) by
   reading the file's header and data here (no third-party loader), and checks that the encoder's mean
   and log-variance and the decoder's logits on test images equal those `vae dump` writes.
2. Saves a freshly initialised PyTorch model's state dict as safetensors (written here, byte by byte),
   loads it with `vae dump`, and checks the same three outputs against PyTorch's.

Tolerance: |ours - torch| <= 1e-5 + 1e-5 |torch| element-wise (both sides compute in float32, with
different summation orders). Exit 0 on success, 1 on a mismatch, 77 (ctest's "skipped") when PyTorch
is not installed. Run with Debian's python3, which has python3-torch:

    /usr/bin/python3 tools/torch_roundtrip.py --vae build/examples/vae/vae
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

SKIP = 77

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as e:
    print(f"skipped: PyTorch is not installed for {sys.executable} ({e}); "
          "Debian's python3-torch provides it (scripts/install-deps --bench)")
    sys.exit(SKIP)


class VAE(nn.Module):
    """PyTorch's examples/vae model, as in its main.py."""

    def __init__(self):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


# The metadata `vae train` writes for this architecture (examples/vae/models.cpp, Config::to_metadata).
CONFIG = {"model": "vae", "likelihood": "bernoulli", "rows": "28", "cols": "28", "hidden": "400",
          "latent": "20", "classes": "10", "sparsity": "0.001"}

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8)}


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file: an u64 header length, a JSON header, data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, entry in header.items():
        dtype, size = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = 1
        for d in entry["shape"]:
            count *= d
        assert end - begin == count * size, f"{path}: {name}: {end - begin} bytes for {entry['shape']}"
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if count else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(entry["shape"])
    return tensors, meta


def write_safetensors(path, tensors, meta):
    """The reverse of read_safetensors, for float32 tensors (contiguous, little-endian)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(path + ".tmp", path)


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {r.returncode}:\n{r.stdout}")
    return r.stdout


def torch_outputs(model, x):
    with torch.no_grad():
        mu, logvar = model.encode(x)
        logits = model.fc4(F.relu(model.fc3(mu)))  # decode() without its final sigmoid
        assert torch.allclose(torch.sigmoid(logits), model.decode(mu))
    return {"mu": mu, "logvar": logvar, "logits": logits}


def compare(what, ours, theirs):
    ok = True
    for name in ("mu", "logvar", "logits"):
        a, b = ours[name], theirs[name]
        if a.shape != b.shape:
            print(f"FAIL {what}: {name} is {tuple(a.shape)} in vae but {tuple(b.shape)} in PyTorch")
            ok = False
            continue
        err = (a - b).abs()
        bound = 1e-5 + 1e-5 * b.abs()
        worst = err.argmax()
        good = bool((err <= bound).all())
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {what}: {name:6} {tuple(a.shape)}  max |vae - torch| = "
              f"{err.max().item():.2e}  (at a value of {b.flatten()[worst].item():.3f})")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vae", required=True, help="the vae program")
    ap.add_argument("--checkpoint", help="a vae checkpoint to check (default: train a small one)")
    ap.add_argument("--n", type=int, default=64, help="test images to compare on")
    ap.add_argument("--work", help="folder for the files (default: a temporary one, removed)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory(prefix="tg-torch-") as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        ckpt = args.checkpoint
        if not ckpt:
            run([args.vae, "train", "--epochs", "1", "--limit", "2048", "--limit-test", str(args.n),
                 "--out", os.path.join(work, "run")])
            ckpt = os.path.join(work, "run", "model.safetensors")

        # 1. vae -> PyTorch
        state, meta = read_safetensors(ckpt)
        for key, want in CONFIG.items():
            if key in ("sparsity",):
                continue
            if meta.get(key) != want:
                sys.exit(f"error: {ckpt}: metadata {key} = {meta.get(key)!r}; PyTorch's example model "
                         f"needs {want!r} (train with the default --model vae --hidden 400 --latent 20)")
        model = VAE()
        params = {k: v for k, v in state.items() if not k.startswith("optim.")}
        model.load_state_dict(params, strict=True)  # every name and shape, nothing left over
        model.eval()
        dump = os.path.join(work, "vae-dump.safetensors")
        run([args.vae, "dump", "--checkpoint", ckpt, "--n", str(args.n), "--out", dump])
        ours, _ = read_safetensors(dump)
        ok = compare("vae checkpoint in PyTorch", ours, torch_outputs(model, ours["x"]))

        # 2. PyTorch -> vae
        torch.manual_seed(12)
        theirs = VAE()
        saved = os.path.join(work, "torch.safetensors")
        write_safetensors(saved, theirs.state_dict(), CONFIG)
        dump2 = os.path.join(work, "torch-dump.safetensors")
        run([args.vae, "dump", "--checkpoint", saved, "--n", str(args.n), "--out", dump2])
        ours2, _ = read_safetensors(dump2)
        assert torch.equal(ours2["x"], ours["x"])
        ok &= compare("PyTorch state dict in vae", ours2, torch_outputs(theirs, ours2["x"]))

    print("round trip: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
