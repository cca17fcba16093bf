#!/usr/bin/env python3
"""GPT-NeoX (Pythia-160M's shape: 12 layers x 12 heads, width 768, MLP 3072, rotary on a quarter of
each head, parallel residual, vocabulary 50304; random weights) in one run on one machine:

1. End to end: `attnscope run` capturing its default hooks (attention weights, the attention
   block's input after its norm and its output) to disk, whole process, against the PyTorch
   eager peer doing the same forward (modeling_gpt_neox.py's operations, written with torch ops
   in batch, output_attentions kept) and pickling the same tensors per step in steady state.
2. evolve's cost: `attnscope evolve` over N revisions of a Hugging Face cache entry (the same
   weights under N branches, so that only the orchestration differs) stats-only with the loss,
   against N single `attnscope run --stats-only --loss` processes on the same texts.

    /usr/bin/python3 bench/e2e_neox.py [--shape 8x128] [--repeat 3] [--revisions 20] [--out DIR]

Needs numpy and torch (Debian python3-numpy, python3-torch). Prints Markdown tables.
"""
import argparse
import json
import os
import pickle
import shutil
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from e2e import clean_env, texts, timed  # noqa: E402

CFG = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": 50304, "hidden_size": 768,
       "num_attention_heads": 12, "num_hidden_layers": 12, "intermediate_size": 3072, "max_position_embeddings": 2048,
       "rotary_pct": 0.25, "rotary_emb_base": 10000, "layer_norm_eps": 1e-5, "hidden_act": "gelu",
       "use_parallel_residual": True, "attention_bias": True, "tie_word_embeddings": False, "torch_dtype": "float32"}


def write_checkpoint(out, seed=0):
    """Random float32 weights, N(0, 0.02) (norms 1, biases 0), in GPTNeoXForCausalLM's names; the
    built-in model's tokenizer (its ids fit the vocabulary)."""
    os.makedirs(out, exist_ok=True)
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(os.path.join(ROOT, "models", "tiny", f), os.path.join(out, f))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CFG, f, indent=1)
    rng = np.random.default_rng(seed)
    D, F, V, L = CFG["hidden_size"], CFG["intermediate_size"], CFG["vocab_size"], CFG["num_hidden_layers"]
    shapes = {"gpt_neox.embed_in.weight": (V, D), "embed_out.weight": (V, D),
              "gpt_neox.final_layer_norm.weight": (D,), "gpt_neox.final_layer_norm.bias": (D,)}
    for il in range(L):
        p = f"gpt_neox.layers.{il}."
        shapes.update({p + "input_layernorm.weight": (D,), p + "input_layernorm.bias": (D,),
                       p + "post_attention_layernorm.weight": (D,), p + "post_attention_layernorm.bias": (D,),
                       p + "attention.query_key_value.weight": (3 * D, D), p + "attention.query_key_value.bias": (3 * D,),
                       p + "attention.dense.weight": (D, D), p + "attention.dense.bias": (D,),
                       p + "mlp.dense_h_to_4h.weight": (F, D), p + "mlp.dense_h_to_4h.bias": (F,),
                       p + "mlp.dense_4h_to_h.weight": (D, F), p + "mlp.dense_4h_to_h.bias": (D,)})
    header, off = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in shapes.items():
            if name.endswith("norm.weight"):
                a = np.ones(shape, np.float32)
            elif name.endswith("bias"):
                a = np.zeros(shape, np.float32)
            else:
                a = (rng.standard_normal(shape) * 0.02).astype(np.float32)
            f.write(a.tobytes())


def peer(model, ids_path, capture_dir, repeat):
    """The PyTorch peer in a process of its own: median seconds of a steady-state step."""
    code = r'''
import json, os, pickle, statistics, sys, time
import torch, torch.nn.functional as F
sys.path.insert(0, sys.argv[4])
import safetensors_io
model, ids_path, out, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
cfg = json.load(open(os.path.join(model, "config.json")))
w = safetensors_io.load(os.path.join(model, "model.safetensors"))
D, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
d = D // H
r = int(d * cfg["rotary_pct"])
torch.set_num_threads(os.cpu_count())
ids = torch.tensor(json.load(open(ids_path)))
B, T = ids.shape
inv = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, r, 2).float() / r))
freqs = torch.arange(T).float()[:, None] * inv[None, :]
emb = torch.cat((freqs, freqs), -1)
cos, sin = emb.cos(), emb.sin()
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
def rope(x):
    a, b = x[..., :r], x[..., r:]
    h = r // 2
    return torch.cat((a * cos + torch.cat((-a[..., h:], a[..., :h]), -1) * sin, b), -1)
def step():
    keep = {}
    x = w["gpt_neox.embed_in.weight"][ids]
    for il in range(L):
        p = f"gpt_neox.layers.{il}."
        h = F.layer_norm(x, (D,), w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], 1e-5)
        qkv = F.linear(h, w[p + "attention.query_key_value.weight"], w[p + "attention.query_key_value.bias"])
        qkv = qkv.view(B, T, H, 3 * d).permute(0, 2, 1, 3)
        q, k, v = rope(qkv[..., :d]), rope(qkv[..., d:2 * d]), qkv[..., 2 * d:]
        s = (q @ k.transpose(-1, -2)) * d ** -0.5
        pat = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        a = F.linear((pat @ v).transpose(1, 2).reshape(B, T, D), w[p + "attention.dense.weight"], w[p + "attention.dense.bias"])
        m = F.linear(F.gelu(F.linear(F.layer_norm(x, (D,), w[p + "post_attention_layernorm.weight"],
                                                  w[p + "post_attention_layernorm.bias"], 1e-5),
                                     w[p + "mlp.dense_h_to_4h.weight"], w[p + "mlp.dense_h_to_4h.bias"])),
                     w[p + "mlp.dense_4h_to_h.weight"], w[p + "mlp.dense_4h_to_h.bias"])
        keep[f"layer_{il}"] = {"weights": pat, "inputs": h, "outputs": a}
        x = m + a + x
    x = F.layer_norm(x, (D,), w["gpt_neox.final_layer_norm.weight"], w["gpt_neox.final_layer_norm.bias"], 1e-5)
    return x @ w["embed_out.weight"].T, keep
times = []
os.makedirs(out, exist_ok=True)
with torch.inference_mode():
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        _, keep = step()
        with open(os.path.join(out, f"step{i}.pkl"), "wb") as f:
            pickle.dump({k: {kk: vv.numpy() for kk, vv in v.items()} for k, v in keep.items()}, f)
        os.remove(os.path.join(out, f"step{i}.pkl"))
        if i: times.append(time.perf_counter() - t0)
print(json.dumps({"capture_seconds_median": statistics.median(times)}))
'''
    env = clean_env(LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp")
    p = subprocess.run([sys.executable, "-c", code, model, ids_path, capture_dir,
                        os.path.join(ROOT, "tools", "reference"), str(repeat)], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"e2e_neox: the peer failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])["capture_seconds_median"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shape", default="8x128")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--revisions", type=int, default=20)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or os.path.join(a.build, "bench-e2e-neox")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(a.build, "attnscope")
    env = clean_env()
    model = os.path.join(out, "pythia-160m-shape")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        write_checkpoint(model)
    n_seq, T = map(int, a.shape.split("x"))
    inp = os.path.join(out, "texts.txt")
    with open(inp, "w") as f:
        f.write("\n".join(texts(n_seq, T * 2)) + "\n")

    # 1. end to end against the peer
    cap = os.path.join(out, "capture")
    run = [exe, "run", "--model", model, "--input", inp, "--max-length", str(T), "--batch-size", "8", "--force",
           "--no-sync", "--output", cap]
    times = []
    for _ in range(a.repeat):
        shutil.rmtree(cap, ignore_errors=True)
        times.append(timed(run, env)[0])
    with open(os.path.join(cap, "manifest.json")) as f:
        ids = [s["token_ids"] for s in json.load(f)["sequences"]]
    assert all(len(s) == T for s in ids), "texts gave fewer tokens than asked"
    ids_path = os.path.join(out, "ids.json")
    with open(ids_path, "w") as f:
        json.dump(ids, f)
    peer_s = peer(model, ids_path, os.path.join(out, "peer"), 5)
    ours = statistics.median(times)
    print(f"Pythia-160M shape, random weights, {a.shape}, {os.cpu_count()} cores\n")
    print("| attnscope run (whole process, --no-sync, median of %d) | PyTorch eager peer (steady-state step, "
          "attentions kept, pickled) | peer / attnscope |" % a.repeat)
    print("| --- | --- | --- |")
    print(f"| {ours:.3f} s | {peer_s:.3f} s | {peer_s / ours:.2f}x |\n", flush=True)

    # 2. evolve over N revisions against N single stats-only runs
    hub = os.path.join(out, "hub")
    repo = os.path.join(hub, "models--bench--pythia-160m-shape")
    shutil.rmtree(repo, ignore_errors=True)
    revs = [f"step{1000 * k}" for k in range(a.revisions)]
    for k, rev in enumerate(revs):
        commit = f"{k:040x}"
        snap = os.path.join(repo, "snapshots", commit)
        os.makedirs(snap)
        for f in os.listdir(model):
            os.symlink(os.path.join(model, f), os.path.join(snap, f))
        os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
        with open(os.path.join(repo, "refs", rev), "w") as f:
            f.write(commit)
    henv = clean_env(HF_HUB_CACHE=hub)
    single_total = 0.0
    for rev in revs:
        d = os.path.join(out, "single", rev)
        shutil.rmtree(d, ignore_errors=True)
        single_total += timed([exe, "run", "--model", f"bench/pythia-160m-shape@{rev}", "--input", inp, "--max-length",
                               str(T), "--stats-only", "--loss", "--no-sync", "--output", d], henv)[0]
    evo = os.path.join(out, "evolve")
    shutil.rmtree(evo, ignore_errors=True)
    evolve_s = timed([exe, "evolve", "--model", "bench/pythia-160m-shape", "--revisions", ",".join(revs), "--input",
                      inp, "--max-length", str(T), "--no-sync", "--output", evo], henv)[0]
    print(f"| evolve over {a.revisions} revisions (stats-only, loss) | {a.revisions} single `run --stats-only --loss` "
          "| evolve / singles |")
    print("| --- | --- | --- |")
    print(f"| {evolve_s:.2f} s | {single_total:.2f} s | {evolve_s / single_total:.3f} |")


if __name__ == "__main__":
    main()
