#!/usr/bin/env python3
"""Reference values for head ablation and activation patching (issue #21), computed with the
independent PyTorch forwards (gpt2_reference.py, llama_reference.py) on the random-weight
fixtures, by editing hook values as TransformerLens users do by hand:

    /usr/bin/python3 tools/reference/intervene_reference.py    # writes tests/fixtures/intervene/expected.json

Definitions (the same as intervene/ablate.h and intervene/patch.h state them):
  loss       mean next-token cross-entropy over every predicted token of every text, token-weighted
             (float64 log-sum-exp of each logits row); delta = ablated - clean; se = standard error
             over texts of each text's (ablated - clean) mean loss
  zero       the head's hook_z slice set to 0
  mean       set to the head's mean z over every token of every text (the clean run)
  resample   set to the same head's z at the same position of the next text (cyclically); a
             position that text lacks takes the mean
  patching   the corrupted text run with one activation from the clean run: z or pattern of one
             head (all positions), attn_out or resid_pre of one position; score (m - m_corrupt) /
             (m_clean - m_corrupt), m = logit(answer) - logit(wrong) at the last position, or
             (metric loss) minus the mean next-token loss of the clean text's tokens.
Deterministic (fixed seeds): the same bytes each run.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gpt2_reference  # noqa: E402
import llama_reference  # noqa: E402
import safetensors_io  # noqa: E402

FIXTURES = ["gpt2-tiny", "llama-gqa"]
LENGTHS = [9, 14, 6]            # three texts: the resample source of the second is shorter than it
GROUP = "L0H1+L1H2"             # a group ablated together
CHANGED = [3, 7]                # positions where the corrupted text differs from the clean one


def load(name):
    d = os.path.join(ROOT, "tests", "fixtures", name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = safetensors_io.load(os.path.join(d, "model.safetensors"))
    if cfg["model_type"] == "gpt2":
        w = {k.replace("transformer.", "", 1) if k.startswith("transformer.") else k: v for k, v in w.items()}

        def forward(ids, edit=None):
            # per-sequence edits on a batch of one: strip and restore the batch dimension
            wrapped = {n: (lambda fn: lambda v: fn(v[0]).unsqueeze(0))(fn) for n, fn in (edit or {}).items()}
            cache = {}
            logits = gpt2_reference.run(w, cfg, torch.tensor([ids], dtype=torch.long), cache, wrapped)
            return logits[0], {n: t[0] for n, t in cache.items()}
        return cfg, cfg["n_layer"], cfg["n_head"], cfg["vocab_size"], forward

    def forward(ids, edit=None):
        cache = llama_reference.forward(w, cfg, ids, edit)
        return cache["logits"], cache
    return cfg, cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["vocab_size"], forward


def token_losses(logits, targets):
    """Sum and count of next-token cross-entropies: logits [T, V] against targets[1:]."""
    lg = logits.double()
    lse = torch.logsumexp(lg[:-1], dim=-1)
    picked = lg[torch.arange(len(targets) - 1), torch.tensor(targets[1:])]
    return float((lse - picked).sum()), len(targets) - 1


def ablation(forward, n_layer, n_head, seqs, method):
    clean_sum, clean_n, zs = [], [], []
    for ids in seqs:
        logits, cache = forward(ids)
        s, n = token_losses(logits, ids)
        clean_sum.append(s)
        clean_n.append(n)
        zs.append([cache[f"blocks.{il}.attn.hook_z"].clone() for il in range(n_layer)])  # [T, H, d]
    n_tokens = sum(len(ids) for ids in seqs)
    mean = [sum(z[il].double().sum(0) for z in zs) / n_tokens for il in range(n_layer)]  # [H, d]
    total_n = sum(clean_n)
    clean_loss = sum(clean_sum) / total_n
    targets = [(f"L{il}H{h}", [(il, h)]) for il in range(n_layer) for h in range(n_head)]
    targets.append((GROUP, [(0, 1), (1, 2)]))
    out = []
    for name, heads in targets:
        sums = []
        for s, ids in enumerate(seqs):
            edit = {}
            for il in sorted({il for il, _ in heads}):
                hs = [h for l2, h in heads if l2 == il]

                def fn(z, il=il, hs=hs, s=s):
                    z = z.clone()
                    other = zs[(s + 1) % len(seqs)][il]
                    for h in hs:
                        if method == "zero":
                            z[:, h, :] = 0.0
                        elif method == "mean":
                            z[:, h, :] = mean[il][h].float()
                        else:
                            for t in range(z.shape[0]):
                                z[t, h, :] = other[t, h, :] if t < other.shape[0] else mean[il][h].float()
                    return z
                edit[f"blocks.{il}.attn.hook_z"] = fn
            logits, _ = forward(ids, edit)
            sums.append(token_losses(logits, ids)[0])
        loss = sum(sums) / total_n
        deltas = [sums[s] / clean_n[s] - clean_sum[s] / clean_n[s] for s in range(len(seqs))]
        m = sum(deltas) / len(deltas)
        se = math.sqrt(sum((x - m) ** 2 for x in deltas) / (len(deltas) - 1) / len(deltas))
        out.append({"name": name, "loss": loss, "delta": loss - clean_loss, "se": se})
    return {"clean_loss": clean_loss, "tokens": total_n, "targets": out}


def patching(forward, n_layer, n_head, clean, corrupt, what, metric, answer, wrong):
    def m_of(logits):
        if metric == "loss":
            s, n = token_losses(logits, clean)
            return -s / n
        return float(logits[-1, answer].double() - logits[-1, wrong].double())

    hook = {"z": "attn.hook_z", "pattern": "attn.hook_pattern", "attn_out": "hook_attn_out",
            "resid_pre": "hook_resid_pre"}[what]
    logits, kept = forward(clean)
    m_clean = m_of(logits)
    m_corrupt = m_of(forward(corrupt)[0])
    cols = n_head if what in ("z", "pattern") else len(clean)
    scores = []
    for il in range(n_layer):
        row = []
        for c in range(cols):
            src = kept[f"blocks.{il}.{hook}"]

            def fn(v, src=src, c=c):
                v = v.clone()
                if what == "z":
                    v[:, c, :] = src[:, c, :]
                elif what == "pattern":
                    v[c] = src[c]
                else:
                    v[c] = src[c]
                return v
            row.append((m_of(forward(corrupt, {f"blocks.{il}.{hook}": fn})[0]) - m_corrupt) / (m_clean - m_corrupt))
        scores.append(row)
    return {"what": what, "metric": metric, "m_clean": m_clean, "m_corrupt": m_corrupt, "scores": scores}


def main():
    torch.manual_seed(0)
    result = {"about": "tools/reference/intervene_reference.py: ablation and patching on the random-weight "
                       "fixtures by the PyTorch reference forwards"}
    for name in FIXTURES:
        cfg, n_layer, n_head, V, forward = load(name)
        gen = torch.Generator().manual_seed(21)
        seqs = [torch.randint(0, V, (T,), generator=gen).tolist() for T in LENGTHS]
        clean = seqs[1]
        corrupt = list(clean)
        for p in CHANGED:
            corrupt[p] = (corrupt[p] + 1 + p) % V
        # the answer and wrong tokens whose logit difference the corruption moves most
        d = forward(clean)[0][-1] - forward(corrupt)[0][-1]
        answer, wrong = int(torch.argmax(d)), int(torch.argmin(d))
        entry = {"seqs": seqs, "ablation": {}, "patching": {"clean": clean, "corrupt": corrupt,
                                                            "answer": answer, "wrong": wrong, "runs": []}}
        for method in ("zero", "mean", "resample"):
            entry["ablation"][method] = ablation(forward, n_layer, n_head, seqs, method)
        for what, metric in [("z", "logit_diff"), ("pattern", "logit_diff"), ("attn_out", "logit_diff"),
                             ("resid_pre", "logit_diff"), ("z", "loss"), ("resid_pre", "loss")]:
            entry["patching"]["runs"].append(patching(forward, n_layer, n_head, clean, corrupt, what, metric,
                                                      answer, wrong))
        result[name] = entry
    out = os.path.join(ROOT, "tests", "fixtures", "intervene")
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "expected.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "expected.json"))
    print("wrote", os.path.join(out, "expected.json"))


if __name__ == "__main__":
    main()
