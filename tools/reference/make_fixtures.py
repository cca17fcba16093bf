#!/usr/bin/env python3
"""Write the GPT-2 test fixtures: small random-weight checkpoints in Hugging Face layout and
the expected value of every hook for a few token sequences, computed by gpt2_reference.py.

    python3 tools/reference/make_fixtures.py            # writes tests/fixtures/gpt2-*/

Each fixture directory holds config.json, model.safetensors and expected.safetensors with
  seq{S}.input_ids          I32 [T]
  seq{S}.{hook name}        F32, per-sequence shapes of docs/design.md §3
The expected values are computed from the weights as stored (after BF16/F16 rounding), so a
reader that converts correctly must match them. Deterministic: fixed seeds, same bytes each run.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import gpt2_reference  # noqa: E402
import safetensors_io  # noqa: E402

# Texts for the capture end-to-end test: very different lengths (the longest fills the context).
CAPTURE_TEXTS = [
    "Hi.",
    "The quick brown fox jumps over the lazy dog, and the dog sleeps on.",
    "Attention is all you need: the model looks back at every earlier token, weighs it, and mixes "
    "what it finds. Heads that look at the previous token, heads that copy, heads that rest on the first "
    "token: each has its job, and a capture shows all of them at once.",
]
TOKENIZER_TEXT = " ".join(CAPTURE_TEXTS) * 3

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")

FIXTURES = [
    # name, config overrides, storage dtype, naming, separate lm_head, sequence lengths
    dict(name="gpt2-tiny", n_layer=2, n_head=4, n_embd=64, vocab_size=300, n_positions=64,
         activation_function="gelu_new", dtype=torch.float32, prefix="transformer.", lm_head=False,
         lengths=[1, 9, 33], extra={}),
    dict(name="gpt2-odd", n_layer=3, n_head=3, n_embd=48, vocab_size=263, n_positions=40,
         activation_function="gelu", dtype=torch.float32, prefix="", lm_head=False,
         lengths=[7, 40, 2],
         extra={"n_inner": 100, "layer_norm_epsilon": 1e-6, "scale_attn_by_inverse_layer_idx": True}),
    dict(name="gpt2-bf16", n_layer=2, n_head=2, n_embd=32, vocab_size=128, n_positions=32,
         activation_function="gelu_new", dtype=torch.bfloat16, prefix="transformer.", lm_head=True,
         lengths=[4, 11], extra={"tie_word_embeddings": False}),
    dict(name="gpt2-f16", n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=16,
         activation_function="relu", dtype=torch.float16, prefix="transformer.", lm_head=False,
         lengths=[3, 16], extra={}),
]


def make_weights(fx, gen):
    D, L, V, P = fx["n_embd"], fx["n_layer"], fx["vocab_size"], fx["n_positions"]
    Fi = fx["extra"].get("n_inner", 4 * D)

    def randn(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    w = {}
    p = fx["prefix"]
    w[p + "wte.weight"] = randn(V, D, std=1.0)
    w[p + "wpe.weight"] = randn(P, D, std=0.5)
    for il in range(L):
        h = f"{p}h.{il}."
        w[h + "ln_1.weight"] = 1.0 + randn(D, std=0.2)
        w[h + "ln_1.bias"] = randn(D, std=0.2)
        # larger than GPT-2's init so attention is peaked, not uniform: errors then show
        w[h + "attn.c_attn.weight"] = randn(D, 3 * D, std=1.5 / D ** 0.5)
        w[h + "attn.c_attn.bias"] = randn(3 * D, std=0.2)
        w[h + "attn.c_proj.weight"] = randn(D, D, std=1.0 / D ** 0.5)
        w[h + "attn.c_proj.bias"] = randn(D, std=0.2)
        w[h + "ln_2.weight"] = 1.0 + randn(D, std=0.2)
        w[h + "ln_2.bias"] = randn(D, std=0.2)
        w[h + "mlp.c_fc.weight"] = randn(D, Fi, std=1.0 / D ** 0.5)
        w[h + "mlp.c_fc.bias"] = randn(Fi, std=0.2)
        w[h + "mlp.c_proj.weight"] = randn(Fi, D, std=1.0 / Fi ** 0.5)
        w[h + "mlp.c_proj.bias"] = randn(D, std=0.2)
    w[p + "ln_f.weight"] = 1.0 + randn(D, std=0.2)
    w[p + "ln_f.bias"] = randn(D, std=0.2)
    if fx["lm_head"]:
        w["lm_head.weight"] = randn(V, D, std=1.0 / D ** 0.5)
    return w


def write_tokenizer_and_capture(out, fx, cfg, w):
    """A byte-level BPE tokenizer that fits the fixture's vocabulary (256 bytes + merges +
    <|endoftext|> = vocab_size), and the expected capture of CAPTURE_TEXTS: the ids from the
    Python encoder (tools/train/bpe.py) and the reference's hook values."""
    import bpe  # here: it needs python3-regex, which the weight generators (differential.py) do not
    merges = bpe.train([TOKENIZER_TEXT], fx["vocab_size"] - 257, log=lambda m: None)
    assert len(merges) == fx["vocab_size"] - 257, "the tokenizer text is too short for the vocabulary"
    enc = bpe.Encoder(merges)
    bpe.save(enc, merges, out)
    expected = {}
    for s, text in enumerate(CAPTURE_TEXTS):
        ids = enc.encode(text)[:fx["n_positions"]]
        expected[f"seq{s}.input_ids"] = torch.tensor(ids, dtype=torch.int32)
        with torch.no_grad():
            cache = gpt2_reference.forward(w, cfg, ids)
        for name in ("attn.hook_pattern", "ln1.hook_normalized", "hook_resid_pre", "hook_attn_out"):
            for il in range(cfg["n_layer"]):
                expected[f"seq{s}.blocks.{il}.{name}"] = cache[f"blocks.{il}.{name}"].contiguous().float()
    safetensors_io.save(os.path.join(out, "expected_capture.safetensors"), expected,
                        {"texts": json.dumps(CAPTURE_TEXTS)})


def main():
    torch.set_num_threads(1)
    for i, fx in enumerate(FIXTURES):
        gen = torch.Generator().manual_seed(1234 + i)
        out = os.path.join(ROOT, fx["name"])
        os.makedirs(out, exist_ok=True)
        cfg = {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel" if fx["prefix"] else "GPT2Model"],
            "n_layer": fx["n_layer"], "n_head": fx["n_head"], "n_embd": fx["n_embd"],
            "vocab_size": fx["vocab_size"], "n_positions": fx["n_positions"], "n_ctx": fx["n_positions"],
            "layer_norm_epsilon": 1e-5, "activation_function": fx["activation_function"],
            "torch_dtype": {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[fx["dtype"]],
        }
        cfg.update(fx["extra"])
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        w = make_weights(fx, gen)
        stored = {k: v.to(fx["dtype"]) for k, v in w.items()}
        if fx["name"] == "gpt2-bf16":  # a buffer old checkpoints carry; readers must ignore it
            n = fx["n_positions"]
            for il in range(fx["n_layer"]):
                stored[f"transformer.h.{il}.attn.bias"] = torch.tril(torch.ones(1, 1, n, n)).to(fx["dtype"])
        safetensors_io.save(os.path.join(out, "model.safetensors"), stored, {"format": "pt"})
        rounded = {k.replace("transformer.", "", 1) if k.startswith("transformer.") else k: v
                   for k, v in safetensors_io.load(os.path.join(out, "model.safetensors")).items()}

        expected = {}
        for s, T in enumerate(fx["lengths"]):
            ids = torch.randint(0, fx["vocab_size"], (T,), generator=gen).tolist()
            expected[f"seq{s}.input_ids"] = torch.tensor(ids, dtype=torch.int32)
            with torch.no_grad():
                cache = gpt2_reference.forward(rounded, cfg, ids)
            for name, t in cache.items():
                expected[f"seq{s}.{name}"] = t.contiguous().float()
        safetensors_io.save(os.path.join(out, "expected.safetensors"), expected,
                            {"generator": "tools/reference/make_fixtures.py", "torch": torch.__version__})
        if fx["name"] == "gpt2-tiny":
            write_tokenizer_and_capture(out, fx, cfg, rounded)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        print(f"{fx['name']}: {len(fx['lengths'])} sequences, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
