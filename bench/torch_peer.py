#!/usr/bin/env python3
"""The PyTorch peer of bench/e2e.sh: what the module attnscope replaces does, in its best
configuration. A Hugging Face-equivalent GPT-2 (GPT2LMHeadModel's eager forward as nn.Modules:
Conv1D as addmm, fused c_attn, causal mask filled with finfo.min, softmax, gelu_new), run under
torch.inference_mode with attentions returned and forward hooks on every attention module
capturing its input (ln_1's output), the block's input and the attention output; what was
captured is pickled to a local file, as the original module does.

    python3 bench/torch_peer.py MODEL_DIR IDS_JSON OUT_DIR [--repeat 5] [--check CAPTURE_DIR]

IDS_JSON: a JSON list of token-id lists (equal lengths). Prints one JSON object: tokens per
second in steady state (best and median of --repeat timed iterations after one warm-up), with
capture + pickle and for the bare forward. With --check, the first sequence's attention
weights are compared with an attnscope capture of the same ids (max abs difference printed).

Run it with Debian's torch at its best (bench/e2e.sh does): OpenBLAS's OpenMP build via
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp, OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset. Needs torch and numpy only.
"""
import argparse
import json
import math
import os
import pickle
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import safetensors_io  # noqa: E402


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(torch.nn.Module):
    def __init__(self, w, b):
        super().__init__()
        self.weight, self.bias = torch.nn.Parameter(w, requires_grad=False), torch.nn.Parameter(b, requires_grad=False)

    def forward(self, x):
        shape = x.size()[:-1] + (self.weight.size(-1),)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(shape)


class Attention(torch.nn.Module):
    def __init__(self, w, p, cfg):
        super().__init__()
        self.n_head, self.d = cfg["n_head"], cfg["n_embd"] // cfg["n_head"]
        self.c_attn = Conv1D(w[p + "c_attn.weight"], w[p + "c_attn.bias"])
        self.c_proj = Conv1D(w[p + "c_proj.weight"], w[p + "c_proj.bias"])
        n = cfg["n_positions"]
        self.register_buffer("bias", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n), persistent=False)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        q, k, v = (t.view(B, T, self.n_head, self.d).transpose(1, 2) for t in (q, k, v))
        w = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5, dtype=x.dtype)
        mask = self.bias[:, :, :T, :T]
        w = torch.where(mask, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        w = torch.softmax(w, dim=-1)
        out = torch.matmul(w, v).transpose(1, 2).reshape(B, T, D)
        return self.c_proj(out), w


class Block(torch.nn.Module):
    def __init__(self, w, il, cfg):
        super().__init__()
        p = f"transformer.h.{il}." if f"transformer.h.{il}.ln_1.weight" in w else f"h.{il}."
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        D = cfg["n_embd"]
        self.ln_1 = torch.nn.LayerNorm(D, eps=eps)
        self.ln_2 = torch.nn.LayerNorm(D, eps=eps)
        for ln, name in ((self.ln_1, "ln_1"), (self.ln_2, "ln_2")):
            ln.weight.data, ln.bias.data = w[p + name + ".weight"], w[p + name + ".bias"]
        self.attn = Attention(w, p + "attn.", cfg)
        self.c_fc = Conv1D(w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"])
        self.c_proj = Conv1D(w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])

    def forward(self, x):
        a, weights = self.attn(self.ln_1(x))
        x = x + a
        x = x + self.c_proj(gelu_new(self.c_fc(self.ln_2(x))))
        return x, weights


class GPT2(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        pre = "transformer." if "transformer.wte.weight" in w else ""
        self.wte, self.wpe = w[pre + "wte.weight"], w[pre + "wpe.weight"]
        self.h = torch.nn.ModuleList(Block(w, il, cfg) for il in range(cfg["n_layer"]))
        self.ln_f = torch.nn.LayerNorm(cfg["n_embd"], eps=cfg.get("layer_norm_epsilon", 1e-5))
        self.ln_f.weight.data, self.ln_f.bias.data = w[pre + "ln_f.weight"], w[pre + "ln_f.bias"]

    def forward(self, ids, output_attentions=False):
        T = ids.shape[1]
        x = self.wte[ids] + self.wpe[torch.arange(T)]
        attentions = []
        for block in self.h:
            x, weights = block(x)
            if output_attentions:
                attentions.append(weights)
        return self.ln_f(x), attentions  # hidden states; a capture needs no logits


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("ids")
    ap.add_argument("out")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check", help="an attnscope capture directory of the same ids")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    w = safetensors_io.load(os.path.join(args.model, "model.safetensors"))
    model = GPT2(w, cfg).eval()
    with open(args.ids) as f:
        ids = torch.tensor(json.load(f), dtype=torch.long)
    os.makedirs(args.out, exist_ok=True)

    captured = {}

    def keep(name):
        def hook(module, inputs, output):
            captured[name + ".input"] = inputs[0].detach()
            captured[name + ".output"] = (output[0] if isinstance(output, tuple) else output).detach()
        return hook

    def keep_block_input(il):
        def hook(module, inputs):
            captured[f"blocks.{il}.resid_pre"] = inputs[0].detach()
        return hook

    handles = []
    for il, block in enumerate(model.h):
        handles.append(block.attn.register_forward_hook(keep(f"blocks.{il}.attn")))
        handles.append(block.register_forward_pre_hook(keep_block_input(il)))

    def capture_step(path):
        captured.clear()
        _, attentions = model(ids, output_attentions=True)
        data = {k: v.numpy() for k, v in captured.items()}
        for il, a in enumerate(attentions):
            data[f"blocks.{il}.attention_weights"] = a.numpy()
        with open(path + ".tmp", "wb") as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(path + ".tmp", path)
        return data

    def bare_step():
        model(ids)

    n_tokens = ids.numel()
    result = {"sequences": int(ids.shape[0]), "tokens": int(n_tokens), "threads": torch.get_num_threads(),
              "torch": torch.__version__}
    with torch.inference_mode():
        path = os.path.join(args.out, "attention_data.pkl")
        data = capture_step(path)  # warm-up
        times = []
        for k in range(args.repeat):  # a new file each step, as a corpus run writes one per batch
            t0 = time.perf_counter()
            capture_step(f"{path}.{k}")
            times.append(time.perf_counter() - t0)
        for k in range(args.repeat):
            os.remove(f"{path}.{k}")
        result["capture_seconds_best"] = min(times)
        result["capture_seconds_median"] = statistics.median(times)
        result["capture_tokens_per_s"] = n_tokens / statistics.median(times)
        result["pickle_bytes"] = os.path.getsize(path)
        for h in handles:
            h.remove()
        bare_step()
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            bare_step()
            times.append(time.perf_counter() - t0)
        result["forward_seconds_median"] = statistics.median(times)
        result["forward_tokens_per_s"] = n_tokens / statistics.median(times)
    if args.check:
        want = data["blocks.0.attention_weights"][0]
        got = read_safetensor(os.path.join(args.check, "attention_data_weights.safetensors"),
                              "seq0.blocks.0.attn.hook_pattern")
        result["check_max_abs_diff_L0_seq0"] = float(np.abs(want - got).max())
    print(json.dumps(result))


def read_safetensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        info = header[name]
        start, end = info["data_offsets"]
        f.seek(8 + n + start)
        return np.frombuffer(f.read(end - start), dtype=np.float32).reshape(info["shape"])


if __name__ == "__main__":
    main()
