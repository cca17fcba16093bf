#!/usr/bin/env python3
"""The PyTorch peer for Llama-shaped models: Hugging Face's eager Llama forward written with
torch ops as modeling_llama.py runs them (RMSNorm, q/k/v projections, rotate-half rotary,
repeat_kv, softmax(q k^T / sqrt(d)) in float32, o_proj, gated SiLU MLP), keeping every layer's
attention probabilities as output_attentions=True does; and greedy decoding with a KV cache as
HF's generate does (one new row per step, past keys and values concatenated).

    /usr/bin/python3 bench/llama_peer.py MODEL_DIR [--shapes 8x128,1x1024] [--decode 128] [--repeat 5]
    /usr/bin/python3 bench/llama_peer.py MODEL_DIR --ids IDS.json --capture-to DIR [--repeat 5]

The second form is the peer of an attnscope capture (bench/e2e_llama.py): the sequences of
IDS.json (a list of equal-length id lists) in one batch, keeping what attnscope captures by
default (each layer's attention probabilities, the attention block's input after its norm and
its output after o_proj) and pickling them to a new file each step, as the original module does;
prints one JSON line with the median seconds of that step and of the bare forward.

Weights are read from model.safetensors (BF16 widened to f32). Prints, per shape, the median
seconds of a forward with attentions (steady state, after one warm-up), and the decoding time.
Best configuration: torch.inference_mode, all cores (torch.set_num_threads), f32.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import llama_reference  # noqa: E402  (inv_freq: the same rotary frequencies)
import safetensors_io  # noqa: E402


class Peer:
    def __init__(self, d):
        self.cfg = json.load(open(os.path.join(d, "config.json")))
        self.w = safetensors_io.load(os.path.join(d, "model.safetensors"))
        c = self.cfg
        self.D, self.H = c["hidden_size"], c["num_attention_heads"]
        self.Hkv = c.get("num_key_value_heads", self.H)
        self.d = c.get("head_dim", self.D // self.H)
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.L = c["num_hidden_layers"]
        self.inv = llama_reference.inv_freq(c, self.d)
        self.head = self.w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else self.w["lm_head.weight"]

    def norm(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def forward(self, ids, past=None, attentions=True, keep=None):
        """ids [B, T]; past: list of (k, v) per layer or None. Returns logits, attentions, present."""
        B, T = ids.shape
        p0 = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(p0, p0 + T).float()
        freqs = pos[:, None] * self.inv[None, :]
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.w["model.embed_tokens.weight"][ids]
        mask = torch.full((T, p0 + T), float("-inf")).triu(p0 + 1)
        atts, present = [], []
        rep = self.H // self.Hkv
        for il in range(self.L):
            p = f"model.layers.{il}."
            h = self.norm(x, self.w[p + "input_layernorm.weight"])
            if keep is not None:
                keep[f"blocks.{il}.attn_input"] = h
            q = F.linear(h, self.w[p + "self_attn.q_proj.weight"]).view(B, T, self.H, self.d).transpose(1, 2)
            k = F.linear(h, self.w[p + "self_attn.k_proj.weight"]).view(B, T, self.Hkv, self.d).transpose(1, 2)
            v = F.linear(h, self.w[p + "self_attn.v_proj.weight"]).view(B, T, self.Hkv, self.d).transpose(1, 2)
            q = q * cos + llama_reference.rotate_half(q) * sin
            k = k * cos + llama_reference.rotate_half(k) * sin
            if past is not None:
                k = torch.cat((past[il][0], k), 2)
                v = torch.cat((past[il][1], v), 2)
            present.append((k, v))
            kk = k.repeat_interleave(rep, 1)
            vv = v.repeat_interleave(rep, 1)
            s = torch.matmul(q, kk.transpose(2, 3)) * (self.d ** -0.5) + mask
            a = torch.softmax(s, -1, dtype=torch.float32)
            if attentions:
                atts.append(a)
            z = torch.matmul(a, vv).transpose(1, 2).reshape(B, T, self.H * self.d)
            o = F.linear(z, self.w[p + "self_attn.o_proj.weight"])
            if keep is not None:
                keep[f"blocks.{il}.attn_output"] = o
            x = x + o
            h = self.norm(x, self.w[p + "post_attention_layernorm.weight"])
            g = F.linear(h, self.w[p + "mlp.gate_proj.weight"])
            u = F.linear(h, self.w[p + "mlp.up_proj.weight"])
            x = x + F.linear(F.silu(g) * u, self.w[p + "mlp.down_proj.weight"])
        x = self.norm(x, self.w["model.norm.weight"])
        return x[:, -1:] @ self.head.T if past is not None or not attentions else x @ self.head.T, atts, present


def capture(peer, a):
    import pickle
    ids = torch.tensor(json.load(open(a.ids)))
    os.makedirs(a.capture_to, exist_ok=True)

    def step(path):
        keep = {}
        _, atts, _ = peer.forward(ids, keep=keep)
        data = {k: v.numpy() for k, v in keep.items()}
        for il, t in enumerate(atts):
            data[f"blocks.{il}.attention_weights"] = t.numpy()
        with open(path + ".tmp", "wb") as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(path + ".tmp", path)

    result = {"sequences": int(ids.shape[0]), "tokens": int(ids.numel()), "threads": torch.get_num_threads()}
    with torch.inference_mode():
        path = os.path.join(a.capture_to, "attention_data.pkl")
        step(path)  # warm-up
        times = []
        for k in range(a.repeat):  # a new file each step, as a corpus run writes one per batch
            t0 = time.perf_counter()
            step(f"{path}.{k}")
            times.append(time.perf_counter() - t0)
        result["pickle_bytes"] = os.path.getsize(path)
        for k in range(a.repeat):
            os.remove(f"{path}.{k}")
        result["capture_seconds_median"] = statistics.median(times)
        peer.forward(ids)
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            peer.forward(ids)
            times.append(time.perf_counter() - t0)
        result["forward_seconds_median"] = statistics.median(times)
    print(json.dumps(result))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--shapes", default="8x128,1x1024")
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--ids", help="JSON list of equal-length id lists (with --capture-to)")
    ap.add_argument("--capture-to", help="directory for the pickled captures")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    peer = Peer(a.model)
    if a.ids:
        return capture(peer, a)
    V = peer.cfg["vocab_size"]
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for shape in a.shapes.split(","):
            B, T = map(int, shape.split("x"))
            ids = torch.randint(0, V, (B, T), generator=g)
            peer.forward(ids)  # warm-up
            times = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                logits, atts, _ = peer.forward(ids)
                times.append(time.perf_counter() - t0)
            print(f"peer forward with attentions {shape}: median {statistics.median(times):.3f} s "
                  f"({len(atts)} attention tensors)")
        if a.decode:
            ids = torch.arange(5, 5 + 4 * a.prompt, 4)[None] % V
            times = []
            for _ in range(max(1, a.repeat // 2)):
                t0 = time.perf_counter()
                logits, _, past = peer.forward(ids, attentions=False)
                out = []
                nxt = int(logits[0, -1].argmax())
                for _ in range(a.decode):
                    out.append(nxt)
                    logits, _, past = peer.forward(torch.tensor([[nxt]]), past, attentions=False)
                    nxt = int(logits[0, -1].argmax())
                times.append(time.perf_counter() - t0)
            print(f"peer greedy decoding with a KV cache, {a.prompt}-token prompt + {a.decode} tokens: "
                  f"median {statistics.median(times):.3f} s; first ids {out[:8]}")


if __name__ == "__main__":
    main()
