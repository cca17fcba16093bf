#!/usr/bin/env python3
"""The trajectory fixture of `attnscope compare` (tests/fixtures/checkpoints): a short training
run of a small GPT-2 (2 layers x 4 heads, width 64, the built-in model's tokenizer) on rows of
random tokens followed by their copy (tools/train/synthetic.py's "double" rows: what makes an
induction head form, Olsson et al. 2022), saved at a few steps; each checkpoint captured by
attnscope on the same texts (attention weights, F16); and the expected comparison computed here
independently of the C++ code: the Jensen–Shannon divergence between every pair of heads of
consecutive checkpoints (float64, mean over every row after the first of every text) and the
one-to-one matching of least total divergence, by brute force over all 8! assignments.

    /usr/bin/python3 tools/train/checkpoints.py [--steps 0,60,200,500] [--out tests/fixtures/checkpoints]
                                                [--attnscope build/attnscope]

Needs Debian's python3-torch and python3-regex (through train_tiny.py). The checkpoints themselves
are written to a temporary directory and not kept; the fixture is the captures (about 60 kB each)
and expected.json.
"""
import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

os.environ.setdefault("ATTNSCOPE_TRAIN_ENV", "1")  # train_tiny's re-exec is for its own runs
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import train_tiny  # noqa: E402  (make_weights, synthetic_batch; its modules on the path)
import gpt2_reference  # noqa: E402
import safetensors_io  # noqa: E402

CONFIG = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2, "n_head": 4, "n_embd": 64,
          "n_positions": 128, "n_ctx": 128, "vocab_size": 4096, "layer_norm_epsilon": 1e-5,
          "activation_function": "gelu_new", "tie_word_embeddings": True, "bos_token_id": 4095, "eos_token_id": 4095}
TEXTS = ["The cat sat on the mat and looked at the door. The cat sat on the mat and looked at the door.",
         "Peace and war, bread and salt, ships and harbours. Peace and war, bread and salt, ships and harbours.",
         "In the year 1850 the committee met in Boston. In the year 1850 the committee met in Boston."]


def read_f16_patterns(cap_dir):
    """{(seq, layer): float64 [H, T, T]} from a capture's weights file."""
    out = {}
    for name, t in safetensors_io.load(os.path.join(cap_dir, "attention_data_weights.safetensors")).items():
        seq = int(name.split(".")[0][3:])  # "seq{S}.blocks.{L}.attn.hook_pattern"
        out[(seq, int(name.split(".")[2]))] = t.double().numpy()
    return out


def js_matrix(pa, pb, n_seq, L, H):
    """[L H x L H] mean JS (nats) over rows i >= 1 of every text."""
    total, rows = np.zeros((L * H, L * H)), 0
    for s in range(n_seq):
        A = np.concatenate([pa[(s, l)] for l in range(L)])  # [L H, T, T]
        B = np.concatenate([pb[(s, l)] for l in range(L)])
        T = A.shape[1]
        for i in range(1, T):
            p, q = A[:, i, : i + 1][:, None, :], B[:, i, : i + 1][None, :, :]
            m = 0.5 * (p + q)
            with np.errstate(divide="ignore", invalid="ignore"):
                kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(-1)
                kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(-1)
            total += 0.5 * (kl_p + kl_q)
            rows += 1
    return total / rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", default="0,60,200,500")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "checkpoints"))
    ap.add_argument("--attnscope", default=os.path.join(ROOT, "build", "attnscope"))
    a = ap.parse_args()
    steps = [int(s) for s in a.steps.split(",")]
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    gen = torch.Generator().manual_seed(1)
    w = train_tiny.make_weights(CONFIG, gen)
    opt = torch.optim.AdamW(w.values(), lr=3e-3, weight_decay=0.0)
    rows = argparse.Namespace(double_min=6, double_max=30)
    eot = CONFIG["vocab_size"] - 1
    tmp = tempfile.mkdtemp()
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    with open(os.path.join(tmp, "texts.jsonl"), "w") as f:
        for t in TEXTS:
            f.write(json.dumps({"text": t}) + "\n")
    losses = {}
    step = 0
    for target in steps:
        while step < target:
            x, y, mask, _ = train_tiny.synthetic_batch(gen, 16, 64, eot, rows, 0.0)
            ce = F.cross_entropy(gpt2_reference.run(w, CONFIG, x).reshape(-1, CONFIG["vocab_size"]), y.reshape(-1),
                                 reduction="none")
            loss = (ce * mask.reshape(-1)).sum() / mask.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        losses[target] = float(loss) if target else None
        d = os.path.join(tmp, f"step-{target}")
        os.makedirs(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(CONFIG, f, indent=1)
        for name in ("tokenizer.json", "vocab.json", "merges.txt"):
            shutil.copy(os.path.join(ROOT, "models", "tiny", name), d)
        safetensors_io.save(os.path.join(d, "model.safetensors"), {k: v.detach() for k, v in w.items()}, {"format": "pt"})
        subprocess.run([a.attnscope, "run", "--model", d, "--input", os.path.join(tmp, "texts.jsonl"), "--capture",
                        "weights", "--dtype", "f16", "--no-sync", "--output", os.path.join(a.out, f"step-{target}")],
                       check=True, capture_output=True)
        print(f"step {target}: masked loss {losses[target]}", file=sys.stderr)
    # the expected comparison, from the captures alone
    L, H = CONFIG["n_layer"], CONFIG["n_head"]
    names = [f"L{l}H{h}" for l in range(L) for h in range(H)]
    caps = [read_f16_patterns(os.path.join(a.out, f"step-{s}")) for s in steps]
    pairs = []
    for k in range(len(steps) - 1):
        js = js_matrix(caps[k], caps[k + 1], len(TEXTS), L, H)
        best = min(itertools.permutations(range(L * H)), key=lambda p: sum(js[i, p[i]] for i in range(L * H)))
        pairs.append({"a": f"step-{steps[k]}", "b": f"step-{steps[k + 1]}",
                      "matches": [{"a": names[i], "b": names[best[i]], "js": js[i, best[i]]} for i in range(L * H)],
                      "js_matrix": js.tolist()})
    expected = {"steps": steps, "texts": TEXTS, "masked_loss": {str(k): v for k, v in losses.items()}, "pairs": pairs,
                "made_by": "tools/train/checkpoints.py (torch " + torch.__version__ + ")"}
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
