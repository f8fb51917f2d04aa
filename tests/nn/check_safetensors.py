#!/usr/bin/env python3
"""Independent check of a safetensors file, with only the standard library (json, struct).

Usage: check_safetensors.py FILE

Parses FILE against the format (https://github.com/huggingface/safetensors): an 8-byte little-endian
header length N, N bytes of JSON (padded with spaces to a multiple of 8 by the reference writer), then
the data section, which the tensors' data_offsets must cover exactly, in order, with no gaps or
overlaps. Prints each tensor's name, dtype and shape and exits 0 when the file is valid; prints the
problem and exits 1 otherwise.
"""
import json
import struct
import sys

DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def check(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{len(data)} bytes: too short for the header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"header length {n} runs past the end of the file ({len(data)} bytes)")
    if n % 8 != 0:
        raise ValueError(f"header length {n} is not a multiple of 8 (the reference writer pads it)")
    text = data[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        raise ValueError("the header does not start with '{'")
    pairs = json.loads(text, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys in the header")
    header = dict(pairs)
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, list) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta):
        raise ValueError("__metadata__ is not a map of strings to strings")
    data_size = len(data) - 8 - n
    entries = []
    for name, info in header.items():
        info = dict(info)
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{name}: fields are {sorted(info)}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_SIZES:
            raise ValueError(f"{name}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"{name}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and o >= 0 for o in offsets) or offsets[0] > offsets[1]):
            raise ValueError(f"{name}: bad data_offsets {offsets!r}")
        numel = 1
        for d in shape:
            numel *= d
        if offsets[1] - offsets[0] != numel * DTYPE_SIZES[dtype]:
            raise ValueError(f"{name}: {offsets} does not hold shape {shape} of {dtype}")
        entries.append((offsets[0], offsets[1], name, dtype, shape))
    entries.sort()
    end = 0
    for begin, stop, name, _, _ in entries:
        if begin != end:
            raise ValueError(f"{name}: starts at {begin}, expected {end} (gap or overlap)")
        end = stop
    if end != data_size:
        raise ValueError(f"the tensors cover {end} bytes of a {data_size}-byte data section")
    for _, _, name, dtype, shape in entries:
        print(f"{name} {dtype} {shape}")
    print(f"ok: {len(entries)} tensors, {len(meta)} metadata entries, {data_size} data bytes")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        check(sys.argv[1])
    except (OSError, ValueError, UnicodeDecodeError) as e:  # json.JSONDecodeError is a ValueError
        print(f"{sys.argv[1]}: invalid: {e}")
        sys.exit(1)
