#!/usr/bin/env python3
"""Quick experiments on how fast the tiny model's circuits form on synthetic rows alone (no text).

    ATTNSCOPE_TRAIN_ENV=1 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      /usr/bin/python3 tools/train/experiments/circuit_probe.py --len 64 --rows 16 --lr 3e-3

Every 200 steps prints the synthetic loss and the best previous-token and induction scores on
20- and 50-token blocks of all merged tokens (train_tiny.head_scores). Session-4 results are in
the issue note of #5; the main finding: short rows (64) and lr 3e-3 form an induction head on the
full vocabulary in ~600 steps; pair rows from the start stop it forming.
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
import gpt2_reference  # noqa: E402
import train_tiny as tt  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--len", type=int, default=64, help="tokens per row")
ap.add_argument("--rows", type=int, default=16)
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--pool", type=int, default=3839, help="random tokens from the first N merged tokens")
ap.add_argument("--period-min", type=int, default=2)
ap.add_argument("--period-max", type=int, default=48)
ap.add_argument("--uniform", action="store_true", help="periods uniform (default: log-uniform)")
ap.add_argument("--pairs", type=float, default=0.0, help="share of pair rows")
ap.add_argument("--steps", type=int, default=3000)
args = ap.parse_args()
torch.set_num_threads(1)
V, hi, eot = 4096, tt.FIRST_RANDOM_TOKEN + args.pool, 4095
cfg = dict(n_layer=4, n_head=4, n_embd=128, n_positions=256, vocab_size=V, layer_norm_epsilon=1e-5,
           activation_function="gelu_new", model_type="gpt2")
gen = torch.Generator().manual_seed(1)
w = tt.make_weights(cfg, gen)
opt = torch.optim.AdamW(list(w.values()), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)


t0 = time.time()
for step in range(args.steps):
    x = torch.stack([tt.pair_row(gen, args.len + 1, eot) if float(torch.rand(1, generator=gen)) < args.pairs
                     else tt.tiled_row(gen, args.len + 1, hi, args.period_min, args.period_max, args.uniform)
                     for _ in range(args.rows)])
    loss = F.cross_entropy(gpt2_reference.run(w, cfg, x[:, :-1]).reshape(-1, V), x[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
    opt.step()
    if step % 200 == 199:
        W = {n: p.detach() for n, p in w.items()}
        out = []
        for block in (20, 50):
            hs = tt.head_scores(W, cfg, torch.Generator().manual_seed(3), eot, n_seq=8, block=block)
            out.append(f"b{block} prev {max(h['previous_token'] for h in hs):.2f} ind {max(h['induction'] for h in hs):.2f}")
        print(step + 1, f"{loss.item():.3f}", " | ".join(out), f"{time.time() - t0:.0f}s", flush=True)
