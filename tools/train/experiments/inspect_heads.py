#!/usr/bin/env python3
"""Per-head previous-token, duplicate-token and induction scores of a circuit_lab.py checkpoint.

    ATTNSCOPE_TRAIN_ENV=1 /usr/bin/python3 tools/train/experiments/inspect_heads.py /tmp/lab/E5.pt [--block 20]
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
import gpt2_reference  # noqa: E402
import train_tiny as tt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("weights")
ap.add_argument("--block", type=int, action="append")
args = ap.parse_args()
w = torch.load(args.weights)
n_embd = w["transformer.wte.weight"].shape[1]
cfg = dict(n_layer=4, n_head=4, n_embd=n_embd, n_positions=256, vocab_size=4096, layer_norm_epsilon=1e-5,
           activation_function="gelu_new", model_type="gpt2",
           tie_word_embeddings="lm_head.weight" not in w)
for block in args.block or [20, 50]:
    gen = torch.Generator().manual_seed(3)
    seqs = torch.stack([torch.randint(tt.FIRST_RANDOM_TOKEN, 4095, (block,), generator=gen).repeat(2) for _ in range(16)])
    cache = {}
    gpt2_reference.run(w, cfg, seqs, cache)
    T = 2 * block
    i, j = torch.arange(1, T), torch.arange(block, T)
    print(f"block {block}: head  prev  dup   ind   sink  self")
    for il in range(cfg["n_layer"]):
        a = cache[f"blocks.{il}.attn.hook_pattern"]
        for h in range(cfg["n_head"]):
            ah = a[:, h]
            print(f"  L{il}H{h}  {ah[:, i, i - 1].mean():.2f}  {ah[:, j, j - block].mean():.2f}  "
                  f"{ah[:, j, j - block + 1].mean():.2f}  {ah[:, i, 0].mean():.2f}  {ah[:, i, i].mean():.2f}")
