#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: OUT/<target>/<name>, valid files and near misses.

    tests/fuzz/make_corpus.py OUT

Only the standard library: the safetensors, .npy and IDX files are built byte by byte the way their
writers lay them out (tapegrad's, NumPy's, the MNIST distribution's).
"""
import gzip
import json
import os
import struct
import sys


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(n, value=0.5):
    return struct.pack("<%df" % n, *([value] * n))


def npy(descr, shape, raw, version=1):
    shape_text = "()" if not shape else "(%s,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape))
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    prefix = 10 if version == 1 else 12
    pad = 64 - (prefix + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode()
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + raw


def idx_images(n, rows, cols):
    return struct.pack(">BBBBIII", 0, 0, 8, 3, n, rows, cols) + bytes((i * 37) % 256 for i in range(n * rows * cols))


def idx_labels(labels):
    return struct.pack(">BBBBI", 0, 0, 8, 1, len(labels)) + bytes(labels)


def vae_checkpoint(model="vae", rows=4, cols=4, hidden=3, latent=2, classes=10, extra_meta=None):
    label = classes if model == "cvae" else 0
    inp = rows * cols
    shapes = [("fc1", inp + label, hidden), ("fc21", hidden, latent)]
    if model in ("vae", "cvae"):
        shapes.append(("fc22", hidden, latent))
    shapes += [("fc3", latent + label, hidden), ("fc4", hidden, inp)]
    tensors = []
    for name, n_in, n_out in shapes:
        tensors.append((name + ".weight", "F32", [n_out, n_in], f32(n_out * n_in, 0.1)))
        tensors.append((name + ".bias", "F32", [n_out], f32(n_out, 0.0)))
    meta = {"model": model, "likelihood": "bernoulli", "rows": str(rows), "cols": str(cols), "hidden": str(hidden),
            "latent": str(latent), "classes": str(classes), "sparsity": "0.001", "seed": "1", "binarize": "none",
            "epoch": "1", "step": "1"}
    meta.update(extra_meta or {})
    return safetensors(tensors, meta)


def corpora():
    st = {
        "empty": safetensors([]),
        "one-f32": safetensors([("w", "F32", [2, 3], f32(6))]),
        "f64-and-meta": safetensors([("a", "F64", [2], struct.pack("<2d", 1.0, -2.0)), ("b", "F32", [], f32(1))],
                                    {"k": "v"}),
        "zero-size": safetensors([("z", "F32", [0, 5], b"")]),
        "bad-dtype": safetensors([("x", "I64", [1], b"\0" * 8)]),
        "overflow-number": struct.pack("<Q", 16) + b'{"a":1e400}     ',
        "huge-shape": safetensors([("x", "F32", [4294967296, 2147483648, 0], b"")]),
        "truncated": safetensors([("w", "F32", [4], f32(4))])[:-3],
    }
    ck = {
        "vae": vae_checkpoint(),
        "cvae": vae_checkpoint("cvae"),
        "ae": vae_checkpoint("ae"),
        "sparse-ae": vae_checkpoint("sparse-ae"),
        "hidden-lies": vae_checkpoint(extra_meta={"hidden": "300000"}),
        "bad-sparsity": vae_checkpoint(extra_meta={"sparsity": "abc"}),
    }
    npys = {
        "f32-2x3": npy("<f4", [2, 3], f32(6)),
        "f64-1d": npy("<f8", [2], struct.pack("<2d", 1.0, 2.0)),
        "scalar": npy("<f4", [], f32(1)),
        "v2": npy("<f4", [3], f32(3), version=2),
        "big-endian": npy(">f4", [1], b"\0" * 4),
        "huge-shape": npy("<f4", [4294967296, 2147483648, 0], b""),
    }
    images, labels = idx_images(3, 4, 4), idx_labels([0, 1, 9])
    idx = {
        "images": images,
        "labels": labels,
        "images.gz": gzip.compress(images, mtime=0),
        "labels.gz": gzip.compress(labels, mtime=0),
        "two-members.gz": gzip.compress(labels[:5], mtime=0) + gzip.compress(labels[5:], mtime=0),
        "bomb.gz": gzip.compress(idx_images(1, 4, 4) + b"\0" * 100000, mtime=0),
        "big-header.gz": gzip.compress(struct.pack(">BBBBIII", 0, 0, 8, 3, 60000, 28, 28), mtime=0),
    }
    return {"safetensors": st, "checkpoint": ck, "npy": npys, "idx": idx}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUT")
    for target, files in corpora().items():
        folder = os.path.join(sys.argv[1], target)
        os.makedirs(folder, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
