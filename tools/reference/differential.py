#!/usr/bin/env python3
"""Random checkpoints for the forward differential test: from a seed, COUNT small models of random
shape, each family of the registry in turn, with random weights, and the reference's value of
every hook for a few random-length token sequences.

    /usr/bin/python3 tools/reference/differential.py --seed 1 --count 24 --out DIR

Each DIR/NNN-FAMILY/ is a fixture as make_fixtures.py writes them (config.json, model.safetensors,
expected.safetensors with seq{S}.input_ids and seq{S}.{hook name}); the C++ test
ForwardDifferential.GeneratedCheckpoints (tests/engine/test_differential.cpp) runs attnscope's forward
on all sequences of a directory in one ragged batch and compares every hook (patterns <= 1e-5
absolute, everything else <= 1e-4 of the tensor's largest magnitude, docs/design.md §4). The reference
runs each sequence alone, from the weights as stored (after 16-bit rounding), in float64: the
exact values of Hugging Face's definition (with its float32 rotary tables), so the bounds measure
attnscope's error, not the sum of two float32 errors (sharp random attention makes PyTorch's own
float32 pattern err by up to 1e-5).

What varies (per family, within what its config can say):
  gpt2: layers, heads, head width, MLP width, activation (gelu_new, gelu, relu, gelu_pytorch_tanh),
        layer-norm eps, scale_attn_weights, scale_attn_by_inverse_layer_idx, tensor-name prefix,
        tied or separate LM head, f32 / bf16 / f16 storage, context length
  llama, mistral, qwen2, qwen3: layers, heads, kv-heads (any divisor), head width (qwen3: its own
        head_dim), MLP width, rope_theta, rope_scaling (none, linear, llama3), RMS eps, tied or
        not, attention_bias (llama), Mistral's sliding window (often shorter than the texts),
        f32 / bf16 storage
  gpt_neox: layers, heads, head width, MLP width, activation, rotary share (rotary_pct or
        partial_rotary_factor: 0.25 to 1) and base (rotary_emb_base or rope_theta), parallel or
        sequential residual, attention_bias, tied or not, f32 / bf16 / f16 storage
  olmo: as llama, plus clip_qkv (none or 0.5 to 4); olmo2: as llama (post-norms and whole q/k
        norms are what it is); both with texts of up to 100 tokens
  every family: how peaked attention is (the scale of the q/k weights), sequence count and lengths

A family added to the registry without a generator here fails the C++ test, which checks that
every registered model_type took part.
"""
import argparse
import json
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import gpt2_reference  # noqa: E402
import llama_reference  # noqa: E402
import make_fixtures  # noqa: E402
import make_llama_fixtures  # noqa: E402
import neox_reference  # noqa: E402
import safetensors_io  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def gpt2_model(r, gen):
    H = r.choice([1, 2, 3, 4, 6])
    d = r.choice([2, 4, 8, 16, 32])
    D = H * d
    fx = dict(n_layer=r.randint(1, 3), n_head=H, n_embd=D, vocab_size=r.randint(8, 300),
              n_positions=r.randint(8, 80), prefix=r.choice(["transformer.", ""]), lm_head=r.random() < 0.3,
              extra={})
    if r.random() < 0.5:
        fx["extra"]["n_inner"] = r.randint(1, 4 * D + 16)
    dtype = r.choice(["float32", "float32", "bfloat16", "float16"])
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel" if fx["prefix"] else "GPT2Model"],
           "n_layer": fx["n_layer"], "n_head": H, "n_embd": D, "vocab_size": fx["vocab_size"],
           "n_positions": fx["n_positions"], "n_ctx": fx["n_positions"],
           "layer_norm_epsilon": r.choice([1e-5, 1e-6, 1e-3]),
           "activation_function": r.choice(["gelu_new", "gelu", "relu", "gelu_pytorch_tanh"]),
           "scale_attn_weights": r.random() < 0.9,
           "scale_attn_by_inverse_layer_idx": r.random() < 0.3,
           "torch_dtype": dtype}
    if fx["lm_head"]:
        cfg["tie_word_embeddings"] = False
    cfg.update(fx["extra"])
    w = make_fixtures.make_weights(fx, gen)
    sharp = r.uniform(0.5, 2.0)
    for k in w:
        if k.endswith("attn.c_attn.weight"):
            w[k][:, :2 * D] *= sharp
    return cfg, w, dtype, gpt2_reference


def llama_model(model_type):
    def make(r, gen):
        Hkv = r.choice([1, 1, 2, 3, 4])
        H = Hkv * r.choice([1, 2, 3, 4])
        d = r.choice([2, 4, 8, 16, 32])
        D = H * d if model_type != "qwen3" or r.random() < 0.5 else r.choice([8, 16, 24, 48])
        cfg = dict(model_type=model_type, architectures=[{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                                                          "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
                                                          "olmo": "OlmoForCausalLM",
                                                          "olmo2": "Olmo2ForCausalLM"}[model_type]],
                   hidden_size=D, intermediate_size=r.randint(1, 3 * D + 8), num_hidden_layers=r.randint(1, 3),
                   num_attention_heads=H, num_key_value_heads=Hkv, vocab_size=r.randint(8, 300),
                   max_position_embeddings=r.randint(8, 80), hidden_act="silu",
                   rms_norm_eps=r.choice([1e-5, 1e-6, 1e-3]),
                   rope_theta=r.choice([10000.0, 500000.0, 1000000.0, 100.0]),
                   tie_word_embeddings=r.random() < 0.5)
        if D != H * d or model_type == "qwen3" and r.random() < 0.5:
            cfg["head_dim"] = d
        if r.random() < 0.3:
            cfg["rope_scaling"] = {"type": "linear", "factor": r.choice([2.0, 4.0])}
        elif r.random() < 0.2:
            cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0, "original_max_position_embeddings": r.choice([4, 16, 64])}
        if model_type in ("llama", "olmo") and r.random() < 0.3:
            cfg["attention_bias"] = True
        if model_type == "olmo":
            cfg["clip_qkv"] = r.choice([None, r.uniform(0.5, 4.0)])
        if model_type in ("olmo", "olmo2"):  # texts of up to 100 tokens
            cfg["max_position_embeddings"] = r.randint(8, 100)
        if model_type == "mistral":
            cfg["sliding_window"] = r.choice([None, r.randint(1, 20)])
        if model_type == "qwen2":
            cfg["use_sliding_window"] = False
        dtype = r.choice(["float32", "float32", "bfloat16"])
        cfg["torch_dtype"] = dtype
        w = make_llama_fixtures.make_weights(cfg, gen)
        if cfg.get("attention_bias"):
            for il in range(cfg["num_hidden_layers"]):
                p = f"model.layers.{il}.self_attn."
                w[p + "q_proj.bias"] = torch.randn(H * d, generator=gen) * 0.3
                w[p + "k_proj.bias"] = torch.randn(Hkv * d, generator=gen) * 0.3
                w[p + "v_proj.bias"] = torch.randn(Hkv * d, generator=gen) * 0.3
                w[p + "o_proj.bias"] = torch.randn(D, generator=gen) * 0.3
        sharp = r.uniform(0.5, 1.5)
        for k in w:
            if k.endswith("q_proj.weight") or k.endswith("k_proj.weight"):
                w[k] *= sharp
        return cfg, w, dtype, llama_reference
    return make


def neox_model(r, gen):
    H = r.choice([1, 2, 3, 4, 6])
    d = r.choice([4, 8, 16, 32])
    pct = r.choice([p for p in (0.25, 0.5, 0.75, 1.0) if int(d * p) >= 2 and int(d * p) % 2 == 0])
    cfg = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "hidden_size": H * d,
           "num_attention_heads": H, "num_hidden_layers": r.randint(1, 3), "intermediate_size": r.randint(1, 4 * H * d + 16),
           "vocab_size": r.randint(8, 300), "max_position_embeddings": r.randint(8, 100),
           "layer_norm_eps": r.choice([1e-5, 1e-6, 1e-3]), "use_parallel_residual": r.random() < 0.7,
           "hidden_act": r.choice(["gelu", "gelu", "gelu_new", "relu", "silu"]),
           "tie_word_embeddings": r.random() < 0.2, "attention_bias": r.random() < 0.8}
    base = r.choice([10000, 10000, 100, 500000])
    if r.random() < 0.3:  # the newer keys
        cfg["partial_rotary_factor"], cfg["rope_theta"] = pct, base
    else:
        cfg["rotary_pct"], cfg["rotary_emb_base"] = pct, base
    dtype = r.choice(["float32", "float32", "bfloat16", "float16"])
    cfg["torch_dtype"] = dtype
    w = neox_reference.make_weights(cfg, gen)
    sharp = r.uniform(0.5, 2.0)
    scale_qk(w, cfg, sharp)
    return cfg, w, dtype, neox_reference


def scale_qk(w, cfg, factor):
    """GPT-NeoX: scale the q and k rows of each head's [q_h | k_h | v_h] in query_key_value."""
    H = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // H
    for k in w:
        if "query_key_value" in k:
            v = w[k].view(H, 3, d, -1) if k.endswith("weight") else w[k].view(H, 3, d)
            v[:, :2] *= factor


GENERATORS = {"gpt2": gpt2_model, "llama": llama_model("llama"), "mistral": llama_model("mistral"),
              "qwen2": llama_model("qwen2"), "qwen3": llama_model("qwen3"), "gpt_neox": neox_model,
              "olmo": llama_model("olmo"), "olmo2": llama_model("olmo2")}


# A configuration is kept only where float32 arithmetic can meet the bounds: the error float32
# rounding can cause must be within a quarter of each bound (near the bound, which of two correct
# float32 forwards errs more on one element is luck). Two estimates, both must pass: PyTorch's own
# float32 forward, and float64 forwards of weights each perturbed by one float32 rounding
# (relative 2^-23 noise, PERTURBED_TRIALS draws). The second catches what one float32 run can be
# lucky on: a q or k head whose projection nearly cancels, then is scaled up by a q/k norm (Qwen3
# with 2-wide heads), errs by whatever the summation order leaves, and PyTorch's order erred 8x
# less than another correct one on seed 2's checkpoint 99. Sharp random attention (scores of 40 to
# 70) can make any float32 forward's pattern err by more than 1e-5; such weights get their queries
# and keys scaled by 0.7 (under a q/k norm, its weights, since the norm undoes the projection's
# scale) and are tried again (the count is printed).
FP32_MARGIN = 0.25
PERTURBED_TRIALS = 3


def is_qk(name):
    return any(name.endswith(s) for s in ("q_proj.weight", "k_proj.weight", "q_proj.bias", "k_proj.bias",
                                          "q_norm.weight", "k_norm.weight"))


def temper(w, family, cfg):
    if family == "gpt_neox":
        scale_qk(w, cfg, 0.7)
        return
    for k in w:
        if family == "gpt2" and k.endswith("attn.c_attn.weight"):
            w[k][:, :2 * cfg["n_embd"]] *= 0.7
        elif family != "gpt2" and is_qk(k):
            w[k] *= 0.7


def hook_errors(cache, expected, s, pattern, other):
    """The worst pattern error (absolute) and other error (relative) of one sequence's hooks, as the
    C++ test measures attnscope's, folded into (pattern, other)."""
    for name, t in cache.items():
        e = expected[f"seq{s}.{name}"].double()
        finite = torch.isfinite(e)
        if not finite.any():
            continue
        err = (t.double() - e).abs()[finite].max().item()
        if "hook_pattern" in name:
            pattern = max(pattern, err)
        else:
            other = max(other, err / max(e[finite].abs().max().item(), 1e-30))
    return pattern, other


def fp32_error(reference, stored, cfg, expected, seqs, gen):
    """The float32 error estimate: the worst of PyTorch's float32 forward and of float64 forwards
    of once-rounded weights (see FP32_MARGIN)."""
    variants = [{k: v.float() for k, v in stored.items()}]
    for _ in range(PERTURBED_TRIALS):
        variants.append({k: v * (1 + torch.randn(v.shape, generator=gen, dtype=torch.float64) * 2.0 ** -23)
                         for k, v in stored.items()})
    pattern, other = 0.0, 0.0
    for w in variants:
        for s, ids in enumerate(seqs):
            with torch.no_grad():
                pattern, other = hook_errors(reference.forward(w, cfg, ids), expected, s, pattern, other)
    return pattern, other


def write_one(out, r, gen, family):
    cfg, w, dtype, reference = GENERATORS[family](r, gen)
    n_pos = cfg.get("n_positions", cfg.get("max_position_embeddings"))
    lengths = [r.randint(1, n_pos) for _ in range(r.randint(2, 4))]
    seqs = [torch.randint(0, cfg["vocab_size"], (T,), generator=gen).tolist() for T in lengths]
    tempered, pattern = write_checkpoint(out, cfg, w, dtype, reference, seqs, family, gen)
    return cfg, lengths, dtype, tempered, pattern


def write_checkpoint(out, cfg, w, dtype, reference, seqs, family, gen, generator="tools/reference/differential.py"):
    """Write out/config.json, out/model.safetensors (w stored as dtype) and out/expected.safetensors
    (the float64 reference's hooks of each sequence), tempering q and k until float32 can meet the
    bounds (FP32_MARGIN). Returns (times tempered, the float32 pattern error estimate)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    for tempered in range(8):
        safetensors_io.save(os.path.join(out, "model.safetensors"), {k: v.to(DTYPES[dtype]) for k, v in w.items()},
                            {"format": "pt"})
        stored = {k: v.double() for k, v in safetensors_io.load(os.path.join(out, "model.safetensors")).items()}
        if family == "gpt2":  # the reference looks names up without the prefix
            stored = {k.replace("transformer.", "", 1) if k.startswith("transformer.") else k: v
                      for k, v in stored.items()}
        expected = {}
        for s, ids in enumerate(seqs):
            expected[f"seq{s}.input_ids"] = torch.tensor(ids, dtype=torch.int32)
            with torch.no_grad():
                cache = reference.forward(stored, cfg, ids)
            for name, t in cache.items():
                expected[f"seq{s}.{name}"] = t.contiguous().float()
        pattern, other = fp32_error(reference, stored, cfg, expected, seqs, gen)
        if pattern <= FP32_MARGIN * 1e-5 and other <= FP32_MARGIN * 1e-4:
            break
        temper(w, family, cfg)
    safetensors_io.save(os.path.join(out, "expected.safetensors"), expected,
                        {"generator": generator, "torch": torch.__version__,
                         "fp32_pattern_error_estimate": repr(pattern), "fp32_other_error_estimate": repr(other)})
    return tempered, pattern


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--out", required=True)
    ap.add_argument("--families", default=",".join(GENERATORS), help="comma-separated model_types")
    a = ap.parse_args()
    torch.set_num_threads(1)
    families = a.families.split(",")
    for f in families:
        if f not in GENERATORS:
            sys.exit(f"differential.py: no generator for family '{f}' (known: {', '.join(GENERATORS)})")
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.count):
        family = families[i % len(families)]
        r = random.Random(a.seed * 1000003 + i)
        gen = torch.Generator().manual_seed(a.seed * 1000003 + i)
        cfg, lengths, dtype, tempered, fp32 = write_one(os.path.join(a.out, f"{i:03d}-{family}"), r, gen, family)
        print(f"{i:03d}-{family}: {dtype}, lengths {lengths}, q/k tempered {tempered}x, "
              f"fp32 pattern error estimate {fp32:.3g}, " +
              ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("architectures", "model_type")))


if __name__ == "__main__":
    main()
