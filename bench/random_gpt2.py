#!/usr/bin/env python3
"""A GPT-2-shaped checkpoint with random weights (Hugging Face layout), for benchmarks that need
a model of real size: GPT-2 small by default. The tokenizer files are copied from a tokenizer
directory (default: the built-in model's), and vocab_size follows that tokenizer unless given.

    /usr/bin/python3 bench/random_gpt2.py OUT [--layers 12 --heads 12 --embd 768 --positions 1024
                                               --vocab 50257 --tokenizer models/tiny]

Needs numpy only. Weights N(0, 0.02) like GPT-2's initialisation (layer norms 1, biases 0).
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--positions", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=0, help="default: the tokenizer's size")
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models", "tiny"))
    ap.add_argument("--seed", type=int, default=0, help="another seed, another model of the same shape")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        if os.path.exists(os.path.join(a.tokenizer, f)):
            shutil.copy(os.path.join(a.tokenizer, f), os.path.join(a.out, f))
    V = a.vocab or len(json.load(open(os.path.join(a.tokenizer, "vocab.json"), encoding="utf-8")))
    D, L = a.embd, a.layers
    rng = np.random.default_rng(a.seed)
    w = {"transformer.wte.weight": (V, D), "transformer.wpe.weight": (a.positions, D)}
    for il in range(L):
        p = f"transformer.h.{il}."
        w.update({p + "ln_1.weight": ("ones", D), p + "ln_1.bias": ("zeros", D),
                  p + "attn.c_attn.weight": (D, 3 * D), p + "attn.c_attn.bias": ("zeros", 3 * D),
                  p + "attn.c_proj.weight": (D, D), p + "attn.c_proj.bias": ("zeros", D),
                  p + "ln_2.weight": ("ones", D), p + "ln_2.bias": ("zeros", D),
                  p + "mlp.c_fc.weight": (D, 4 * D), p + "mlp.c_fc.bias": ("zeros", 4 * D),
                  p + "mlp.c_proj.weight": (4 * D, D), p + "mlp.c_proj.bias": ("zeros", D)})
    w["transformer.ln_f.weight"] = ("ones", D)
    w["transformer.ln_f.bias"] = ("zeros", D)
    header, offset = {}, 0
    for name, spec in w.items():
        shape = [spec[1]] if isinstance(spec[0], str) else list(spec)
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, spec in w.items():
            if spec[0] == "ones":
                t = np.ones(spec[1], np.float32)
            elif spec[0] == "zeros":
                t = np.zeros(spec[1], np.float32)
            else:
                t = (rng.standard_normal(spec, dtype=np.float32) * 0.02).astype(np.float32)
            f.write(t.astype("<f4").tobytes())
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_positions": a.positions,
           "n_ctx": a.positions, "n_embd": D, "n_layer": L, "n_head": a.heads, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new", "tie_word_embeddings": True}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main()
