#!/usr/bin/env python3
"""Write a synthetic capture directory (attnscope.capture/1) with any model shape, for benchmarks
that need big captures without the model: random causal softmax patterns for every layer and head.

    python3 bench/synthetic_capture.py OUT --layers 48 --heads 25 --tokens 128 --sequences 1

Needs numpy only. The manifest has what CaptureReader checks; the weights file follows the
safetensors layout (8-byte header length, JSON header, raw little-endian F32).
"""
import argparse
import json
import os
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--heads", type=int, default=25)
    ap.add_argument("--embd", type=int, default=1600)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--sequences", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    T, H, L = a.tokens, a.heads, a.layers
    mask = np.tril(np.ones((T, T), dtype=bool))
    # the header first (every shape is known), then one layer at a time: memory holds one layer
    header, offset = {}, 0
    n = H * T * T * 4
    for s in range(a.sequences):
        for il in range(L):
            header[f"seq{s}.blocks.{il}.attn.hook_pattern"] = {"dtype": "F32", "shape": [H, T, T],
                                                                "data_offsets": [offset, offset + n]}
            offset += n
    header["__metadata__"] = {"format": "pt", "schema": "attnscope.capture/1"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(a.out, "attention_data_weights.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for s in range(a.sequences):
            for il in range(L):
                x = rng.normal(0, 2.0, (H, T, T)).astype(np.float32)
                x[:, ~mask] = -np.inf
                p = np.exp(x - x.max(axis=-1, keepdims=True))
                p /= p.sum(axis=-1, keepdims=True)
                f.write(p.astype("<f4").tobytes())
    words = ["the", " nation", " of", " peace", ",", " and", " war", "."]
    seqs = []
    for s in range(a.sequences):
        # a random block repeated: the duplicate and induction templates have cells to score
        block = [int(i) for i in rng.integers(0, 50000, (T + 1) // 2)]
        ids = (block + block)[:T]
        seqs.append({"index": s, "text": "", "length": T, "truncated": False, "token_ids": ids,
                     "tokens": [words[i % len(words)] for i in ids]})
    manifest = {"schema": "attnscope.capture/1", "tool": {"name": "synthetic_capture.py"},
                "model": {"name": f"synthetic-{L}x{H}", "model_type": "gpt2",
                          "dims": {"n_layer": L, "n_head": H, "n_embd": a.embd, "d_head": a.embd // H,
                                   "n_inner": 4 * a.embd, "vocab_size": 50257, "n_positions": 1024}},
                "capture": {"patterns": ["blocks.*.attn.hook_pattern"], "layers": list(range(L)), "heads": None},
                "files": [{"file": "attention_data_weights.safetensors", "hooks": ["attn.hook_pattern"]}],
                "sequences": seqs}
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()
