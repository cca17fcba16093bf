#!/usr/bin/env python3
"""Write the Llama-family test fixtures: small random-weight checkpoints in Hugging Face layout and
the expected value of every hook for a few token sequences, computed by llama_reference.py.

    /usr/bin/python3 tools/reference/make_llama_fixtures.py     # writes tests/fixtures/llama-*/ ...

One fixture per feature the engine must get right: grouped-query attention with tied embeddings
(llama-gqa), llama3 rope scaling (llama3-scaled), Qwen2's q/k/v biases (qwen2-bias), Qwen3's q/k
norms with head_dim != hidden/heads (qwen3-qknorm), Mistral's sliding window shorter than the
longest text (mistral-window), and BF16 weights with linear rope scaling (llama-bf16). Files as
make_fixtures.py writes them (config.json, model.safetensors, expected.safetensors with
seq{S}.input_ids and seq{S}.{hook name}); expected values come from the weights as stored (after
BF16 rounding). Deterministic: fixed seeds.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")

BASE = {"hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
FIXTURES = [
    dict(name="llama-gqa", lengths=[1, 11, 30], dtype=torch.float32,
         cfg=dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=64, intermediate_size=96,
                  num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2, vocab_size=97,
                  max_position_embeddings=64, tie_word_embeddings=True)),
    dict(name="llama3-scaled", lengths=[9, 48], dtype=torch.float32,
         cfg=dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=48, intermediate_size=80,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, vocab_size=61,
                  max_position_embeddings=64, rope_theta=500000.0,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 16})),
    dict(name="qwen2-bias", lengths=[5, 30], dtype=torch.float32,
         cfg=dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], hidden_size=32, intermediate_size=64,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=50,
                  max_position_embeddings=32, rope_theta=1000000.0, tie_word_embeddings=True,
                  rms_norm_eps=1e-6, use_sliding_window=False)),
    dict(name="qwen3-qknorm", lengths=[6, 25], dtype=torch.float32,
         cfg=dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], hidden_size=32, intermediate_size=48,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=53,
                  max_position_embeddings=32, rope_theta=1000000.0, rms_norm_eps=1e-6)),
    dict(name="mistral-window", lengths=[12, 37], dtype=torch.float32,
         cfg=dict(model_type="mistral", architectures=["MistralForCausalLM"], hidden_size=32, intermediate_size=64,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=45,
                  max_position_embeddings=64, sliding_window=10)),
    dict(name="llama-bf16", lengths=[4, 19], dtype=torch.bfloat16,
         cfg=dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32, intermediate_size=48,
                  num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, vocab_size=40,
                  max_position_embeddings=32, rope_scaling={"type": "linear", "factor": 2.0})),
]


def make_weights(cfg, gen):
    D, L, V, Fi = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim", D // H)

    def randn(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    w = {"model.embed_tokens.weight": randn(V, D, std=1.0)}
    for il in range(L):
        p = f"model.layers.{il}."
        w[p + "input_layernorm.weight"] = 1.0 + randn(D, std=0.2)
        # larger than the usual init so attention is peaked, not uniform: errors then show
        w[p + "self_attn.q_proj.weight"] = randn(H * d, D, std=2.0 / D ** 0.5)
        w[p + "self_attn.k_proj.weight"] = randn(Hkv * d, D, std=2.0 / D ** 0.5)
        w[p + "self_attn.v_proj.weight"] = randn(Hkv * d, D, std=1.0 / D ** 0.5)
        if cfg["model_type"] == "qwen2":
            w[p + "self_attn.q_proj.bias"] = randn(H * d, std=0.3)
            w[p + "self_attn.k_proj.bias"] = randn(Hkv * d, std=0.3)
            w[p + "self_attn.v_proj.bias"] = randn(Hkv * d, std=0.3)
        if cfg["model_type"] == "qwen3":
            w[p + "self_attn.q_norm.weight"] = 1.0 + randn(d, std=0.3)
            w[p + "self_attn.k_norm.weight"] = 1.0 + randn(d, std=0.3)
        w[p + "self_attn.o_proj.weight"] = randn(D, H * d, std=1.0 / (H * d) ** 0.5)
        w[p + "post_attention_layernorm.weight"] = 1.0 + randn(D, std=0.2)
        w[p + "mlp.gate_proj.weight"] = randn(Fi, D, std=1.0 / D ** 0.5)
        w[p + "mlp.up_proj.weight"] = randn(Fi, D, std=1.0 / D ** 0.5)
        w[p + "mlp.down_proj.weight"] = randn(D, Fi, std=1.0 / Fi ** 0.5)
        if cfg["model_type"] == "olmo2":  # norms after each sublayer, q/k norms over the whole projection
            del w[p + "input_layernorm.weight"]
            w[p + "post_feedforward_layernorm.weight"] = 1.0 + randn(D, std=0.2)
            w[p + "self_attn.q_norm.weight"] = 1.0 + randn(H * d, std=0.3)
            w[p + "self_attn.k_norm.weight"] = 1.0 + randn(Hkv * d, std=0.3)
    w["model.norm.weight"] = 1.0 + randn(D, std=0.2)
    if cfg["model_type"] == "olmo":  # LayerNorms without parameters
        w = {k: v for k, v in w.items() if not k.endswith("layernorm.weight") and k != "model.norm.weight"}
    if not cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = randn(V, D, std=1.0 / D ** 0.5)
    return w


def main():
    torch.set_num_threads(1)
    for i, fx in enumerate(FIXTURES):
        gen = torch.Generator().manual_seed(4321 + i)
        out = os.path.join(ROOT, fx["name"])
        os.makedirs(out, exist_ok=True)
        cfg = dict(BASE)
        cfg.update(fx["cfg"])
        cfg["torch_dtype"] = "bfloat16" if fx["dtype"] == torch.bfloat16 else "float32"
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        w = make_weights(cfg, gen)
        safetensors_io.save(os.path.join(out, "model.safetensors"), {k: v.to(fx["dtype"]) for k, v in w.items()},
                            {"format": "pt"})
        stored = safetensors_io.load(os.path.join(out, "model.safetensors"))
        expected = {}
        for s, T in enumerate(fx["lengths"]):
            ids = torch.randint(0, cfg["vocab_size"], (T,), generator=gen).tolist()
            expected[f"seq{s}.input_ids"] = torch.tensor(ids, dtype=torch.int32)
            with torch.no_grad():
                cache = llama_reference.forward(stored, cfg, ids)
            for name, t in cache.items():
                expected[f"seq{s}.{name}"] = t.contiguous().float()
        safetensors_io.save(os.path.join(out, "expected.safetensors"), expected,
                            {"generator": "tools/reference/make_llama_fixtures.py", "torch": torch.__version__})
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        print(f"{fx['name']}: {len(fx['lengths'])} sequences, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
