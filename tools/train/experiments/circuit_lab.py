#!/usr/bin/env python3
"""Session-5 experiments on the tiny model's circuits: phases of synthetic row mixtures, with the
loss optionally on the predictable targets only.

    ATTNSCOPE_TRAIN_ENV=1 LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      /usr/bin/python3 tools/train/experiments/circuit_lab.py --len 128 --rows 8 --mask \
      --phase 300:pair=1 --phase 3000:pair=0.25,double=0.75

Row kinds: text (the training text) and synthetic.py's pair, double (--dmin..--dmax), tiled
(--tmin..--tmax) and gap rows of random merged tokens. With --mask the loss counts only targets
that an earlier copy predicts. --hint-steps adds train_tiny's attention hint (L0H0 on the
previous token, L1H0 on the induction target of double/tiled/gap rows; --hint-prev-only: L0H0
only); --untie gives the model its own LM head. Results: session5-logs/README.md.
Prints every --every steps the loss and the best previous-token and induction heads on 20- and
50-token blocks (train_tiny.head_scores).
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
import gpt2_reference  # noqa: E402
import synthetic  # noqa: E402
import train_tiny as tt  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--len", type=int, default=128, help="tokens per row")
ap.add_argument("--rows", type=int, default=8)
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--mask", action="store_true", help="loss on predictable targets only")
ap.add_argument("--phase", action="append", required=True, help="STEPS:kind=share,kind=share")
ap.add_argument("--tmin", type=int, default=2)
ap.add_argument("--tmax", type=int, default=48)
ap.add_argument("--dmin", type=int, default=8)
ap.add_argument("--dmax", type=int, default=60)
ap.add_argument("--n-embd", type=int, default=128)
ap.add_argument("--n-head", type=int, default=4)
ap.add_argument("--every", type=int, default=100)
ap.add_argument("--hint-steps", type=int, default=0, help="steps with the attention hint")
ap.add_argument("--hint-weight", type=float, default=1.0)
ap.add_argument("--hint-prev-only", action="store_true", help="hint only the previous-token head")
ap.add_argument("--untie", action="store_true", help="a separate lm_head (tie_word_embeddings false)")
ap.add_argument("--probe", default="20,50", help="block lengths of the probe")
ap.add_argument("--save", help="save the weights here at the end")
ap.add_argument("--load", help="start from these weights")
args = ap.parse_args()
torch.set_num_threads(1)
V, eot = 4096, 4095
LO = tt.FIRST_RANDOM_TOKEN


STREAM = None


def text_stream():
    """The training text as train_tiny.py tokenizes it."""
    global STREAM
    if STREAM is None:
        STREAM = tt.load_corpus(os.path.join(HERE, "..", "..", "..", "build", "train-cache"))[6]
    return STREAM


def row(kind, T, gen):
    """T tokens, T flags (predictable from an earlier copy) and T induction-target offsets."""
    if kind == "text":
        st = text_stream()
        k = int(torch.randint(0, len(st) - T - 1, (1,), generator=gen))
        return st[k:k + T].tolist(), [1] * T, [0] * T
    n_min, n_max = (args.tmin, args.tmax) if kind == "tiled" else (args.dmin, args.dmax)
    return synthetic.row(kind, T, gen, LO, eot, n_min, n_max)


phases = []
for spec in args.phase:
    steps, mix = spec.split(":")
    shares = [(k, float(v)) for k, v in (kv.split("=") for kv in mix.split(","))]
    phases.append((int(steps), shares))
total = sum(s for s, _ in phases)

cfg = dict(n_layer=4, n_head=args.n_head, n_embd=args.n_embd, n_positions=256, vocab_size=V, layer_norm_epsilon=1e-5,
           activation_function="gelu_new", model_type="gpt2", tie_word_embeddings=not args.untie)
gen = torch.Generator().manual_seed(1)
w = tt.make_weights(cfg, gen)
if args.load:
    w = {k: v.requires_grad_(True) for k, v in torch.load(args.load).items()}
opt = torch.optim.AdamW(list(w.values()), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
print(" ".join(sys.argv), flush=True)
t0 = time.time()
step = 0
for n_steps, shares in phases:
    kinds = [k for k, _ in shares]
    probs = torch.tensor([s for _, s in shares])
    for _ in range(n_steps):
        rows = [row(kinds[int(torch.multinomial(probs, 1, generator=gen))], args.len + 1, gen) for _ in range(args.rows)]
        x = torch.tensor([r[0] for r in rows])
        m = torch.tensor([r[1] for r in rows], dtype=torch.float32)[:, 1:]
        cache = {} if step < args.hint_steps else None
        ce = F.cross_entropy(gpt2_reference.run(w, cfg, x[:, :-1], cache).reshape(-1, V), x[:, 1:].reshape(-1),
                             reduction="none")
        loss = (ce * m.reshape(-1)).sum() / m.sum().clamp(min=1) if args.mask else ce.mean()
        if cache is not None:
            o = torch.tensor([r[2][:args.len] for r in rows])  # [B, T] induction-target offsets, 0 = none
            hint = tt.hint_loss(cache, torch.zeros_like(o) if args.hint_prev_only else o)
            loss = loss + args.hint_weight * hint
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
        opt.step()
        step += 1
        if step % args.every == 0:
            W = {n: p.detach() for n, p in w.items()}
            out = []
            for block in [int(b) for b in args.probe.split(",")]:
                hs = tt.head_scores(W, cfg, torch.Generator().manual_seed(3), eot, n_seq=8, block=block)
                bp = max(hs, key=lambda h: h["previous_token"])
                bi = max(hs, key=lambda h: h["induction"])
                out.append(f"b{block} prev L{bp['layer']}H{bp['head']} {bp['previous_token']:.2f} "
                           f"ind L{bi['layer']}H{bi['head']} {bi['induction']:.2f}")
            print(step, f"{loss.item():.3f}", " | ".join(out), f"{time.time() - t0:.0f}s", flush=True)
if args.save:
    torch.save({k: v.detach() for k, v in w.items()}, args.save)
