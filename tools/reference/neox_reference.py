"""An independent PyTorch implementation of Hugging Face's GPT-NeoX forward (GPTNeoXForCausalLM:
Pythia, GPT-NeoX-20B; eval mode, eager attention), written out step by step so every hook value
can be read.

It follows transformers/models/gpt_neox/modeling_gpt_neox.py operation for operation:
  - LayerNorm (weight and bias, eps layer_norm_eps) before attention (input_layernorm) and before
    the MLP (post_attention_layernorm)
  - query_key_value: nn.Linear [3D, D] (bias when attention_bias, the default); its output viewed
    [T, H, 3d] and split per head into q = [..., :d], k = [..., d:2d], v = [..., 2d:]
  - rotary on the first rotary_ndims = int(d * rotary_pct) dimensions of each head only
    (rotate_half within them): inv_freq = 1 / base^(arange(0, r, 2) / r) in float32, base
    rotary_emb_base (or rope_theta); the other d - r dimensions pass through
  - scores = q k^T * d^-0.5, causal mask, softmax in float32; z = pattern v; dense (+ bias)
  - MLP: dense_4h_to_h(act(dense_h_to_4h(x))) with biases, act = ACT2FN[hidden_act]
  - use_parallel_residual (default): x + attn(ln1(x)) + mlp(ln2(x)), evaluated as
    (mlp + attn) + x; else sequential: h = attn(ln1(x)) + x; h + mlp(ln2(h))
  - final_layer_norm, then logits = h @ embed_out^T (embed_in when tie_word_embeddings)

Hook names are TransformerLens's, as attnscope names them: hook_q / hook_k / hook_v before
rotary, hook_rot_q / hook_rot_k after (the whole head, its unrotated part included), no
hook_resid_mid in a parallel block.

Only torch is used (Debian python3-torch); transformers is not needed and not imported.
"""
import math

import torch
import torch.nn.functional as F


def rotary_dims(cfg):
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    pct = cfg.get("partial_rotary_factor", cfg.get("rotary_pct", 0.25))
    return int(d * pct)


def activation(name):
    if name == "gelu":
        return F.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    if name in ("silu", "swish"):
        return F.silu
    raise ValueError(f"activation {name}")


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(w, cfg, ids):
    """One sequence: ids list[int]; w: dict name -> tensor; cfg: config.json dict. Returns
    {hook name: tensor without a batch dimension}."""
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    d = D // H
    r = rotary_dims(cfg)
    eps = cfg.get("layer_norm_eps", 1e-5)
    bias = cfg.get("attention_bias", True)
    parallel = cfg.get("use_parallel_residual", True)
    act = activation(cfg.get("hidden_act", "gelu"))
    T = len(ids)
    cache = {}
    x = w["gpt_neox.embed_in.weight"][torch.tensor(ids)]
    cache["hook_embed"] = x.clone()
    # the rotary tables in float32 whatever the weights' type (the model's definition); the
    # float64 forward of differential.py uses those values exactly
    ftype = torch.float64 if x.dtype == torch.float64 else torch.float32
    base = cfg.get("rope_theta", cfg.get("rotary_emb_base", 10000))
    inv_freq = 1.0 / (base ** (torch.arange(0, r, 2, dtype=torch.int64).float() / r))
    freqs = torch.arange(T).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(ftype)[:, None, :], emb.sin().to(ftype)[:, None, :]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))

    def ln(t, name):
        return F.layer_norm(t, (D,), w[name + ".weight"], w[name + ".bias"], eps)

    def rope(t):  # [T, H, d]: the first r dimensions turn
        rot, rest = t[..., :r], t[..., r:]
        return torch.cat((rot * cos + rotate_half(rot) * sin, rest), dim=-1)

    for il in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{il}."
        cache[f"blocks.{il}.hook_resid_pre"] = x.clone()
        h = ln(x, p + "input_layernorm")
        cache[f"blocks.{il}.ln1.hook_normalized"] = h.clone()
        qkv = F.linear(h, w[p + "attention.query_key_value.weight"],
                       w[p + "attention.query_key_value.bias"] if bias else None).view(T, H, 3 * d)
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        cache[f"blocks.{il}.attn.hook_q"] = q.clone()
        cache[f"blocks.{il}.attn.hook_k"] = k.clone()
        cache[f"blocks.{il}.attn.hook_v"] = v.clone()
        q, k = rope(q), rope(k)
        cache[f"blocks.{il}.attn.hook_rot_q"] = q.clone()
        cache[f"blocks.{il}.attn.hook_rot_k"] = k.clone()
        scores = torch.einsum("ihd,jhd->hij", q, k) * (d ** -0.5)
        scores = scores.masked_fill(~mask, float("-inf"))
        cache[f"blocks.{il}.attn.hook_attn_scores"] = scores.clone()
        pattern = torch.softmax(scores, dim=-1, dtype=ftype)
        cache[f"blocks.{il}.attn.hook_pattern"] = pattern.clone()
        z = torch.einsum("hij,jhd->ihd", pattern, v)
        cache[f"blocks.{il}.attn.hook_z"] = z.clone()
        attn_out = F.linear(z.reshape(T, D), w[p + "attention.dense.weight"],
                            w[p + "attention.dense.bias"] if bias else None)
        cache[f"blocks.{il}.hook_attn_out"] = attn_out.clone()
        if parallel:
            h2 = ln(x, p + "post_attention_layernorm")
        else:
            attn_out = attn_out + x
            cache[f"blocks.{il}.hook_resid_mid"] = attn_out.clone()
            h2 = ln(attn_out, p + "post_attention_layernorm")
        cache[f"blocks.{il}.ln2.hook_normalized"] = h2.clone()
        pre = F.linear(h2, w[p + "mlp.dense_h_to_4h.weight"], w[p + "mlp.dense_h_to_4h.bias"])
        cache[f"blocks.{il}.mlp.hook_pre"] = pre.clone()
        post = act(pre)
        cache[f"blocks.{il}.mlp.hook_post"] = post.clone()
        mlp_out = F.linear(post, w[p + "mlp.dense_4h_to_h.weight"], w[p + "mlp.dense_4h_to_h.bias"])
        cache[f"blocks.{il}.hook_mlp_out"] = mlp_out.clone()
        x = (mlp_out + attn_out + x) if parallel else (mlp_out + attn_out)
        cache[f"blocks.{il}.hook_resid_post"] = x.clone()
    h = ln(x, "gpt_neox.final_layer_norm")
    cache["ln_final.hook_normalized"] = h.clone()
    head = w["gpt_neox.embed_in.weight"] if cfg.get("tie_word_embeddings", False) else w["embed_out.weight"]
    cache["logits"] = h @ head.T
    return cache


def make_weights(cfg, gen):
    """Random weights of a GPTNeoXForCausalLM of this config (float32), named as Hugging Face
    saves them; LayerNorm weights near 1 and biases near 0, as a trained model's."""
    D, F_, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    bias = cfg.get("attention_bias", True)

    def rnd(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen) * scale

    w = {"gpt_neox.embed_in.weight": rnd(V, D)}
    for il in range(L):
        p = f"gpt_neox.layers.{il}."
        for n in ("input_layernorm", "post_attention_layernorm"):
            w[p + n + ".weight"] = 1 + rnd(D, scale=0.1)
            w[p + n + ".bias"] = rnd(D, scale=0.1)
        w[p + "attention.query_key_value.weight"] = rnd(3 * D, D, scale=1 / math.sqrt(D))
        w[p + "attention.dense.weight"] = rnd(D, D, scale=1 / math.sqrt(D))
        if bias:
            w[p + "attention.query_key_value.bias"] = rnd(3 * D, scale=0.1)
            w[p + "attention.dense.bias"] = rnd(D, scale=0.1)
        w[p + "mlp.dense_h_to_4h.weight"] = rnd(F_, D, scale=1 / math.sqrt(D))
        w[p + "mlp.dense_h_to_4h.bias"] = rnd(F_, scale=0.1)
        w[p + "mlp.dense_4h_to_h.weight"] = rnd(D, F_, scale=1 / math.sqrt(F_))
        w[p + "mlp.dense_4h_to_h.bias"] = rnd(D, scale=0.1)
    w["gpt_neox.final_layer_norm.weight"] = 1 + rnd(D, scale=0.1)
    w["gpt_neox.final_layer_norm.bias"] = rnd(D, scale=0.1)
    if not cfg.get("tie_word_embeddings", False):
        w["embed_out.weight"] = rnd(V, D, scale=1 / math.sqrt(D))
    return w
