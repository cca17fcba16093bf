#!/usr/bin/env python3
"""A variant of a GPT-2-layout checkpoint for trying `attnscope compare` without a second real
model: each layer's heads reordered (q, k, v columns and the output projection's rows moved
together: the same function, other positions), one layer's queries scaled (sharper or flatter
attention there), and small noise on the attention weights (a stand-in for a fine-tune).

    /usr/bin/python3 tools/variant_model.py MODEL_DIR OUT [--permute 0:2031] [--scale-layer 2 --scale 2]
                                            [--noise 0.01] [--seed 5]

--permute L:ORDER reorders layer L's heads (ORDER: new head h = old head ORDER[h]). Needs numpy
only; copies config.json and the tokenizer files. README's compare figure: models/tiny with
--permute 0:2031 --scale-layer 2 --scale 2 --noise 0.01.
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        if v["dtype"] != "F32":
            raise SystemExit(f"{path}: {k} is {v['dtype']}; this tool reads F32 checkpoints")
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype=np.float32).reshape(v["shape"]).copy()
    return out


def write(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for k, t in tensors.items():
        b = np.ascontiguousarray(t, dtype=np.float32).tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--permute", action="append", default=[])
    ap.add_argument("--scale-layer", type=int, default=-1)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    D, H = cfg["n_embd"], cfg["n_head"]
    d = D // H
    t = read(os.path.join(a.model, "model.safetensors"))
    perms = {}
    for p in a.permute:
        layer, order = p.split(":")
        perms[int(layer)] = [int(c) for c in order]
        if sorted(perms[int(layer)]) != list(range(H)):
            raise SystemExit(f"--permute {p}: expected an order of the {H} heads")
    rng = np.random.default_rng(a.seed)
    for il in range(cfg["n_layer"]):
        pre = f"transformer.h.{il}.attn."
        w, b, proj = t[pre + "c_attn.weight"], t[pre + "c_attn.bias"], t[pre + "c_proj.weight"]
        if il in perms:
            cols = np.concatenate([np.arange(part * D + h * d, part * D + h * d + d) for part in range(3) for h in perms[il]])
            w, b = w[:, cols], b[cols]
            proj = proj[np.concatenate([np.arange(h * d, h * d + d) for h in perms[il]]), :]
        if il == a.scale_layer:
            w, b = w.copy(), b.copy()
            w[:, :D] *= a.scale
            b[:D] *= a.scale
        if a.noise:
            w = w + rng.normal(0, a.noise, w.shape).astype(np.float32)
        t[pre + "c_attn.weight"], t[pre + "c_attn.bias"], t[pre + "c_proj.weight"] = w, b, proj
    os.makedirs(a.out, exist_ok=True)
    for f in ("config.json", "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json"):
        if os.path.exists(os.path.join(a.model, f)):
            shutil.copy(os.path.join(a.model, f), os.path.join(a.out, f))
    write(os.path.join(a.out, "model.safetensors"), t)


if __name__ == "__main__":
    main()
