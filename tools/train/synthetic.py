"""Synthetic training rows of random tokens for the built-in model's attention circuits.

    gen = torch.Generator().manual_seed(1)
    toks, predictable, offset = row("double", 129, gen, lo=256, hi=4095, n_min=8, n_max=60)

Every generator returns three lists of equal length T: the tokens; `predictable[k]` = 1 when
token k can be predicted from an earlier copy (the loss of a masked row counts only those: the
rest are random draws that no model can predict, and their gradients are noise); and
`offset[k]` = o > 0 when the token after the earlier copy of token k sits at k - o (the cell an
induction head attends to; the attention hint pulls head L1H0 there), 0 when token k has no
earlier copy, and in pair rows, where that cell is the previous token's (L0H0's job). Tokens are drawn uniformly from
[lo, hi). Kinds:

  pair    A B A B .. C D C D ..: each random pair repeated 2-6 times. The next token is the one
          before the current token: a previous-token head that copies pays directly.
  double  [block of n][the same block] segments, n uniform in n_min..n_max, one after another:
          the probe's sequences (Olsson et al. 2022), with n varied so no fixed offset predicts.
  tiled   one block of n tokens (n log-uniform in n_min..n_max) tiled over the row.
  gap     [block of 4..16][random filler of 0..40][the same block] segments.

Findings of the training experiments (models/tiny/README.md): tiled rows with short periods are
solved by fixed-offset heads in layer 0 (a positional shortcut that scores on one block length
only); pair rows build a copying previous-token head within 200 steps.
"""
import math

import torch


def _rand(n, gen, lo, hi):
    return torch.randint(lo, hi, (n,), generator=gen).tolist()


def _int(a, b, gen):
    return int(torch.randint(a, b + 1, (1,), generator=gen))


def row(kind, T, gen, lo, hi, n_min=8, n_max=60):
    toks, pred, off = [], [], []
    while len(toks) < T:
        if kind == "pair":
            p, r = _rand(2, gen, lo, hi), _int(2, 6, gen)
            toks += p * r
            pred += [0, 0] + [1] * (2 * r - 2)
            off += [0] * (2 * r)  # the induction target is the previous token: no induction hint
        elif kind == "double":
            n = _int(n_min, n_max, gen)
            b = _rand(n, gen, lo, hi)
            toks += b + b
            # The first token of the second copy follows a random token: not predictable.
            pred += [0] * (n + 1) + [1] * (n - 1)
            off += [0] * n + [n - 1] * n
        elif kind == "tiled":
            u = float(torch.rand(1, generator=gen))
            n = int(round(math.exp(math.log(n_min) + (math.log(n_max) - math.log(n_min)) * u)))
            b = _rand(n, gen, lo, hi)
            toks += (b * (T // n + 1))[:T]
            pred += [0] * n + [1] * (T - n)
            off += [0] * n + [n - 1] * (T - n)
        elif kind == "gap":
            n, f = _int(4, 16, gen), _int(0, 40, gen)
            b = _rand(n, gen, lo, hi)
            toks += b + _rand(f, gen, lo, hi) + b
            pred += [0] * (n + f + 1) + [1] * (n - 1)
            off += [0] * (n + f) + [n + f - 1] * n
        else:
            raise ValueError(f"unknown synthetic row kind {kind!r} (expected pair, double, tiled or gap)")
    return toks[:T], pred[:T], off[:T]
