#!/usr/bin/env python3
"""The committed reference fixtures of GPT-NeoX, OLMo and OLMo 2 (tests/fixtures/<name>/), one per
case the random differential test may or may not draw in a given run:

  neox-parallel    GPT-NeoX as Pythia: parallel residual, rotary_pct 0.25, biases, untied embed_out
  neox-sequential  use_parallel_residual false, rotary on the whole head (1.0), no attention bias,
                   the newer keys (partial_rotary_factor, rope_theta), BF16 storage
  olmo-clip        OLMo: parameter-free LayerNorms, q/k/v clipped at clip_qkv
  olmo2            OLMo 2: RMSNorms after each sublayer, q/k norms over the whole projections

Each holds config.json, model.safetensors and expected.safetensors (the float64 reference's value
of every hook for three sequences, 1 to 33 tokens), as tools/reference/differential.py writes its
random checkpoints; ForwardReference.* (tests/engine/test_forward.cpp) compares attnscope's forward
with them.

    /usr/bin/python3 tools/reference/make_family_fixtures.py
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import differential  # noqa: E402
import llama_reference  # noqa: E402
import make_llama_fixtures  # noqa: E402
import neox_reference  # noqa: E402

ROOT = os.path.join(HERE, "..", "..", "tests", "fixtures")
LENGTHS = [1, 9, 33]

NEOX = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "hidden_size": 32,
        "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 64, "vocab_size": 48,
        "max_position_embeddings": 64, "layer_norm_eps": 1e-5, "hidden_act": "gelu", "tie_word_embeddings": False}
LLAMA = {"hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 48, "max_position_embeddings": 64, "hidden_act": "silu",
         "rope_theta": 10000.0, "tie_word_embeddings": False}

FIXTURES = [
    ("neox-parallel", "gpt_neox", "float32",
     dict(NEOX, use_parallel_residual=True, rotary_pct=0.25, rotary_emb_base=10000, attention_bias=True)),
    ("neox-sequential", "gpt_neox", "bfloat16",
     dict(NEOX, use_parallel_residual=False, partial_rotary_factor=1.0, rope_theta=10000, attention_bias=False,
          hidden_act="gelu_new")),
    ("olmo-clip", "olmo", "float32",
     dict(LLAMA, model_type="olmo", architectures=["OlmoForCausalLM"], clip_qkv=1.5)),
    ("olmo2", "olmo2", "float32",
     dict(LLAMA, model_type="olmo2", architectures=["Olmo2ForCausalLM"], rms_norm_eps=1e-6)),
]


def main():
    torch.set_num_threads(1)
    for i, (name, family, dtype, cfg) in enumerate(FIXTURES):
        gen = torch.Generator().manual_seed(7100 + i)
        cfg = dict(cfg, torch_dtype=dtype)
        if family == "gpt_neox":
            w, reference = neox_reference.make_weights(cfg, gen), neox_reference
        else:
            w, reference = make_llama_fixtures.make_weights(cfg, gen), llama_reference
        seqs = [torch.randint(0, cfg["vocab_size"], (T,), generator=gen).tolist() for T in LENGTHS]
        out = os.path.join(ROOT, name)
        tempered, pattern = differential.write_checkpoint(out, cfg, w, dtype, reference, seqs, family, gen,
                                                          generator="tools/reference/make_family_fixtures.py")
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        print(f"{name}: {len(seqs)} sequences, q/k tempered {tempered}x, fp32 pattern error estimate "
              f"{pattern:.3g}, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
