#!/usr/bin/env python3
"""A small model trained from scratch until an induction head forms, saved as a Hugging Face cache
entry with one branch per checkpoint (refs/step0, refs/step50, ...), as Pythia's and OLMo's
training checkpoints are published: the evidence for `attnscope evolve` (issue #33).

    /usr/bin/python3 tools/train/train_induction.py --shape neox --out DIR [--steps 1000 --every 50]
    attnscope evolve --model attnscope/induction-neox --revisions step0,step50,... --input texts

The model: 2 layers x 4 heads of width 16 (D 64), MLP 128, a byte-level vocabulary (the 256 bytes
and <|endoftext|>, tools/train/bpe.py with no merges), context 256. Shapes:
  neox    GPTNeoXForCausalLM: parallel attention and MLP from two LayerNorms (with biases), rotary
          on half of each head (rotary_pct 0.5), fused per-head query_key_value, untied embed_out
  olmo2   Olmo2ForCausalLM: RMSNorms after each sublayer, q/k RMSNorms over the whole
          projections, a gated SiLU MLP, no biases, untied lm_head
The data: rows of uniformly random bytes, each block of 8-40 followed by its copy (synthetic.py's
"double" rows) — the task an induction head solves (Olsson et al. 2022) — trained on the loss of
every position. The forward here is a batched transcription of the same Hugging Face modules the
references in tools/reference/ follow one sequence at a time; attnscope's reading of the saved
checkpoints is what the reference tests check, not this code.

DIR gets hub/models--attnscope--induction-{shape}/ (refs/, snapshots/<commit>/ with config.json,
model.safetensors in F16, tokenizer.json, vocab.json, merges.txt), the texts evolve runs on
(texts.jsonl: random printable strings, each repeated once), and train_log.json (the training loss
per checkpoint). --keep STEPS keeps only those checkpoints' snapshots (the committed test data).
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import bpe  # noqa: E402
import safetensors_io  # noqa: E402
import synthetic  # noqa: E402

V, D, H, L, F_, CTX = 257, 64, 4, 2, 128, 256
d = D // H
EOT = 256


def config(shape):
    if shape == "neox":
        return {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": V, "hidden_size": D,
                "num_attention_heads": H, "num_hidden_layers": L, "intermediate_size": F_,
                "max_position_embeddings": CTX, "rotary_pct": 0.5, "rotary_emb_base": 10000, "layer_norm_eps": 1e-5,
                "hidden_act": "gelu", "use_parallel_residual": True, "attention_bias": True,
                "tie_word_embeddings": False, "bos_token_id": EOT, "eos_token_id": EOT, "torch_dtype": "float16"}
    return {"model_type": "olmo2", "architectures": ["Olmo2ForCausalLM"], "vocab_size": V, "hidden_size": D,
            "num_attention_heads": H, "num_key_value_heads": H, "num_hidden_layers": L, "intermediate_size": F_,
            "max_position_embeddings": CTX, "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "hidden_act": "silu",
            "attention_bias": False, "tie_word_embeddings": False, "bos_token_id": EOT, "eos_token_id": EOT,
            "torch_dtype": "float16"}


def init_weights(shape, gen):
    def n(*s, std=0.02):
        return (torch.randn(*s, generator=gen) * std).requires_grad_()

    def ones(k):
        return torch.ones(k).requires_grad_()

    def zeros(k):
        return torch.zeros(k).requires_grad_()

    out_std = 0.02 / math.sqrt(2 * L)
    if shape == "neox":
        w = {"gpt_neox.embed_in.weight": n(V, D), "embed_out.weight": n(V, D),
             "gpt_neox.final_layer_norm.weight": ones(D), "gpt_neox.final_layer_norm.bias": zeros(D)}
        for il in range(L):
            p = f"gpt_neox.layers.{il}."
            w.update({p + "input_layernorm.weight": ones(D), p + "input_layernorm.bias": zeros(D),
                      p + "post_attention_layernorm.weight": ones(D), p + "post_attention_layernorm.bias": zeros(D),
                      p + "attention.query_key_value.weight": n(3 * D, D), p + "attention.query_key_value.bias": zeros(3 * D),
                      p + "attention.dense.weight": n(D, D, std=out_std), p + "attention.dense.bias": zeros(D),
                      p + "mlp.dense_h_to_4h.weight": n(F_, D), p + "mlp.dense_h_to_4h.bias": zeros(F_),
                      p + "mlp.dense_4h_to_h.weight": n(D, F_, std=out_std), p + "mlp.dense_4h_to_h.bias": zeros(D)})
        return w
    w = {"model.embed_tokens.weight": n(V, D), "lm_head.weight": n(V, D), "model.norm.weight": ones(D)}
    for il in range(L):
        p = f"model.layers.{il}."
        w.update({p + "self_attn.q_proj.weight": n(D, D), p + "self_attn.k_proj.weight": n(D, D),
                  p + "self_attn.v_proj.weight": n(D, D), p + "self_attn.o_proj.weight": n(D, D, std=out_std),
                  p + "self_attn.q_norm.weight": ones(D), p + "self_attn.k_norm.weight": ones(D),
                  p + "post_attention_layernorm.weight": ones(D), p + "post_feedforward_layernorm.weight": ones(D),
                  p + "mlp.gate_proj.weight": n(F_, D), p + "mlp.up_proj.weight": n(F_, D),
                  p + "mlp.down_proj.weight": n(D, F_, std=out_std)})
    return w


def rope_tables(r, T, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, r, 2, dtype=torch.int64).float() / r))
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate(x, cos, sin, r):  # x [B, H, T, d]: the first r dimensions turn (rotate_half)
    rot, rest = x[..., :r], x[..., r:]
    h = r // 2
    turned = rot * cos + torch.cat((-rot[..., h:], rot[..., :h]), dim=-1) * sin
    return torch.cat((turned, rest), dim=-1)


def rms(x, w, eps=1e-6):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def forward(w, shape, x):
    """Logits [B, T, V] of token ids x [B, T]."""
    B, T = x.shape
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    r = d // 2 if shape == "neox" else d
    cos, sin = rope_tables(r, T)

    def attend(q, k, v):  # [B, T, H, d] each -> [B, T, D]
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        q, k = rotate(q, cos, sin, r), rotate(k, cos, sin, r)
        s = (q @ k.transpose(-1, -2)) * d ** -0.5
        p = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)
        return (p @ v).transpose(1, 2).reshape(B, T, D)

    if shape == "neox":
        h = w["gpt_neox.embed_in.weight"][x]
        for il in range(L):
            p = f"gpt_neox.layers.{il}."

            def ln(t, name):
                return F.layer_norm(t, (D,), w[p + name + ".weight"], w[p + name + ".bias"], 1e-5)

            qkv = F.linear(ln(h, "input_layernorm"), w[p + "attention.query_key_value.weight"],
                           w[p + "attention.query_key_value.bias"]).view(B, T, H, 3 * d)
            a = F.linear(attend(qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]), w[p + "attention.dense.weight"],
                         w[p + "attention.dense.bias"])
            m = F.linear(F.gelu(F.linear(ln(h, "post_attention_layernorm"), w[p + "mlp.dense_h_to_4h.weight"],
                                         w[p + "mlp.dense_h_to_4h.bias"])),
                         w[p + "mlp.dense_4h_to_h.weight"], w[p + "mlp.dense_4h_to_h.bias"])
            h = m + a + h
        h = F.layer_norm(h, (D,), w["gpt_neox.final_layer_norm.weight"], w["gpt_neox.final_layer_norm.bias"], 1e-5)
        return h @ w["embed_out.weight"].T
    h = w["model.embed_tokens.weight"][x]
    for il in range(L):
        p = f"model.layers.{il}."
        q = rms(F.linear(h, w[p + "self_attn.q_proj.weight"]), w[p + "self_attn.q_norm.weight"]).view(B, T, H, d)
        k = rms(F.linear(h, w[p + "self_attn.k_proj.weight"]), w[p + "self_attn.k_norm.weight"]).view(B, T, H, d)
        v = F.linear(h, w[p + "self_attn.v_proj.weight"]).view(B, T, H, d)
        h = h + rms(F.linear(attend(q, k, v), w[p + "self_attn.o_proj.weight"]), w[p + "post_attention_layernorm.weight"])
        m = F.linear(F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"]),
                     w[p + "mlp.down_proj.weight"])
        h = h + rms(m, w[p + "post_feedforward_layernorm.weight"])
    return rms(h, w["model.norm.weight"]) @ w["lm_head.weight"].T


def batch(gen, B, T):
    rows = [synthetic.row("double", T + 1, gen, 0, 256, 8, 40)[0] for _ in range(B)]
    t = torch.tensor(rows)
    return t[:, :-1], t[:, 1:]


def texts(n=16, seed=5):
    """Random printable strings of 12-40 characters, each followed by a space and itself."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(33, 127)]
    out = []
    for _ in range(n):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(12, 40)))
        out.append(s + " " + s)
    return out


def save_checkpoint(w, shape, step, repo, enc_dir):
    tensors = {k: v.detach().to(torch.float16) for k, v in w.items()}
    tmp = os.path.join(repo, "tmp-checkpoint")
    os.makedirs(tmp, exist_ok=True)
    safetensors_io.save(os.path.join(tmp, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config(shape), f, indent=1)
        f.write("\n")
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        with open(os.path.join(enc_dir, name), "rb") as src, open(os.path.join(tmp, name), "wb") as dst:
            dst.write(src.read())
    digest = hashlib.sha1()
    for name in sorted(os.listdir(tmp)):
        with open(os.path.join(tmp, name), "rb") as f:
            digest.update(f.read())
    commit = digest.hexdigest()  # a stand-in for the hub's commit hash: 40 hex digits
    snap = os.path.join(repo, "snapshots", commit)
    os.makedirs(os.path.dirname(snap), exist_ok=True)
    if os.path.exists(snap):
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    else:
        os.rename(tmp, snap)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", f"step{step}"), "w") as f:
        f.write(commit)
    return commit


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", choices=["neox", "olmo2"], default="neox")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", default="", help="comma-separated steps whose snapshots are kept (default all)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(os.cpu_count() or 2)
    gen = torch.Generator().manual_seed(a.seed)
    repo = os.path.join(a.out, "hub", f"models--attnscope--induction-{a.shape}")
    enc_dir = os.path.join(a.out, "tokenizer")
    os.makedirs(enc_dir, exist_ok=True)
    enc = bpe.Encoder([])
    assert len(enc.vocab) == V
    bpe.save(enc, [], enc_dir)
    with open(os.path.join(a.out, "texts.jsonl"), "w") as f:
        for t in texts():
            f.write(json.dumps({"text": t}) + "\n")
    w = init_weights(a.shape, gen)
    opt = torch.optim.AdamW(w.values(), lr=a.lr, weight_decay=0.01)
    log = {"shape": a.shape, "steps": [], "train_loss": []}
    recent = []
    for step in range(a.steps + 1):
        if step % a.every == 0:
            commit = save_checkpoint(w, a.shape, step, repo, enc_dir)
            mean = sum(recent) / len(recent) if recent else None
            log["steps"].append(step)
            log["train_loss"].append(mean)
            print(f"step {step}: train loss {mean if mean is None else round(mean, 4)} -> {commit[:7]}", file=sys.stderr)
            recent = []
        if step == a.steps:
            break
        x, y = batch(gen, a.batch, a.seq)
        loss = F.cross_entropy(forward(w, a.shape, x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        recent.append(float(loss))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        with open(os.path.join(repo, "refs", f"step{a.steps}")) as last:
            f.write(last.read())
    if a.keep:
        keep = {f"step{s}" for s in a.keep.split(",")} | {"main"}
        kept_commits = set()
        for ref in os.listdir(os.path.join(repo, "refs")):
            path = os.path.join(repo, "refs", ref)
            if ref in keep:
                with open(path) as f:
                    kept_commits.add(f.read().strip())
            else:
                os.remove(path)
        for commit in os.listdir(os.path.join(repo, "snapshots")):
            if commit not in kept_commits:
                snap = os.path.join(repo, "snapshots", commit)
                for name in os.listdir(snap):
                    os.remove(os.path.join(snap, name))
                os.rmdir(snap)
    with open(os.path.join(a.out, f"train_log_{a.shape}.json"), "w") as f:
        json.dump(log, f, indent=1)


if __name__ == "__main__":
    main()
