"""An independent PyTorch implementation of Hugging Face's Llama-family forward (LlamaForCausalLM,
MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, OlmoForCausalLM, Olmo2ForCausalLM; eval
mode, fp32, eager attention), written out step by step so every hook value can be read.

It follows transformers/models/{llama,mistral,qwen2,qwen3,olmo,olmo2}/modeling_*.py operation for
operation:
  - OLMo: every norm is F.layer_norm without weight or bias, eps 1e-5; q, k, v clamped to
    [-clip_qkv, clip_qkv] right after their projections when clip_qkv is set
  - OLMo 2: no norm before attention or the MLP; RMSNorms of their outputs
    (post_attention_layernorm, post_feedforward_layernorm) before the residual adds; q_norm and
    k_norm RMSNorms over the whole q and k projections (H d and H_kv d values), before rotary
  - RMSNorm: x * rsqrt(mean(x^2) + eps) in float32, then weight * x
  - q, k, v, o projections are nn.Linear (weights [out, in]); Qwen2 adds q/k/v biases
  - Qwen3: per-head RMSNorm of q and k (q_norm, k_norm over head_dim) before rotary
  - rotary (rotate_half): inv_freq = 1 / theta^(arange(0, d, 2) / d) in float32, with rope_scaling
    linear (inv_freq / factor) or llama3 (long wavelengths / factor, smooth blend between);
    freqs = pos * inv_freq (float32), emb = cat(freqs, freqs), q' = q cos + rotate_half(q) sin
  - grouped-query attention: key/value head j serves query heads j * n_rep .. (j + 1) * n_rep - 1
  - scores = q k^T * head_dim^-0.5; causal mask (Mistral: and keys j > i - sliding_window);
    softmax in float32
  - MLP: down(silu(gate(x)) * up(x))
  - final norm, then logits = h @ lm_head^T (lm_head is embed_tokens when tie_word_embeddings)

Hook names are TransformerLens's (docs/design.md §3), as attnscope names them: hook_q / hook_k /
hook_v are the projections (before q/k norms and rotary), attn.q_norm.hook_normalized /
attn.k_norm.hook_normalized after the q/k norms (Qwen3, OLMo 2), hook_rot_q / hook_rot_k after rotary,
hook_k / hook_v with num_key_value_heads heads, mlp.hook_pre the gate projection,
mlp.hook_pre_linear the up projection, mlp.hook_post silu(gate) * up. hook_attn_scores has -inf
in masked cells.

Only torch is used (Debian python3-torch); transformers is not needed and not imported.
"""
import math

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps):
    v = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(v + eps))


def inv_freq(cfg, d):
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    sc = cfg.get("rope_scaling")
    if not sc:
        return inv
    kind = sc.get("rope_type", sc.get("type", "default"))
    if kind == "linear":
        return inv / sc["factor"]
    if kind == "llama3":
        factor, lo, hi = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        old = sc["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        out = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, out)
    return inv


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(w, cfg, ids, edit=None):
    """One sequence: ids list[int]; w: dict name -> float32 tensor; cfg: config.json dict.
    Returns {hook name: tensor without a batch dimension}. When `edit` maps a hook name among
    hook_resid_pre, hook_pattern, hook_z and hook_attn_out to a function, the forward continues
    from that function's result (tools/reference/intervene_reference.py)."""
    edit = edit or {}

    def put(name, value):
        if name in edit:
            value = edit[name](value)
        cache[name] = value.clone()
        return value

    kind = cfg["model_type"]
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads", H)
    d = cfg.get("head_dim", D // H)
    eps = cfg.get("rms_norm_eps", 1e-5 if kind == "olmo2" else 1e-6)
    post = kind == "olmo2"
    clip = cfg.get("clip_qkv") if kind == "olmo" else None

    def norm(t, name):
        if kind == "olmo":
            return F.layer_norm(t, (t.shape[-1],), None, None, 1e-5)
        return rms_norm(t, w[name], eps)
    T = len(ids)
    cache = {}
    x = w["model.embed_tokens.weight"][torch.tensor(ids)]
    cache["hook_embed"] = x.clone()
    # Hugging Face computes the rotary tables in float32 whatever the weights' type (they are part
    # of the model's definition); the float64 forward (differential.py, accuracy.py) uses those
    # values exactly and computes everything else in float64
    ftype = torch.float64 if x.dtype == torch.float64 else torch.float32
    pos = torch.arange(T).float()
    freqs = pos[:, None] * inv_freq(cfg, d)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(ftype), emb.sin().to(ftype)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    if kind == "mistral" and cfg.get("sliding_window"):
        W = cfg["sliding_window"]
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        mask = mask & (j > i - W)
    qkv_bias = kind == "qwen2" or cfg.get("attention_bias", False)
    for il in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{il}."
        x = put(f"blocks.{il}.hook_resid_pre", x)
        if post:
            h = x
        else:
            h = norm(x, p + "input_layernorm.weight")
            cache[f"blocks.{il}.ln1.hook_normalized"] = h.clone()

        def proj(name, bias):
            out = F.linear(h, w[p + f"self_attn.{name}.weight"], w[p + f"self_attn.{name}.bias"] if bias else None)
            return out.clamp(-clip, clip) if clip else out

        q = proj("q_proj", qkv_bias).view(T, H, d)
        k = proj("k_proj", qkv_bias).view(T, Hkv, d)
        v = proj("v_proj", qkv_bias).view(T, Hkv, d)
        cache[f"blocks.{il}.attn.hook_q"] = q.clone()
        cache[f"blocks.{il}.attn.hook_k"] = k.clone()
        cache[f"blocks.{il}.attn.hook_v"] = v.clone()
        if kind == "qwen3":
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        if kind == "olmo2":  # over the whole projection, before the view into heads
            q = rms_norm(q.reshape(T, H * d), w[p + "self_attn.q_norm.weight"], eps).view(T, H, d)
            k = rms_norm(k.reshape(T, Hkv * d), w[p + "self_attn.k_norm.weight"], eps).view(T, Hkv, d)
        if kind in ("qwen3", "olmo2"):
            cache[f"blocks.{il}.attn.q_norm.hook_normalized"] = q.clone()
            cache[f"blocks.{il}.attn.k_norm.hook_normalized"] = k.clone()
        q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
        k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
        cache[f"blocks.{il}.attn.hook_rot_q"] = q.clone()
        cache[f"blocks.{il}.attn.hook_rot_k"] = k.clone()
        rep = H // Hkv
        kk = k.repeat_interleave(rep, dim=1)  # [T, H, d]: kv head j for query heads j*rep..
        vv = v.repeat_interleave(rep, dim=1)
        scores = torch.einsum("ihd,jhd->hij", q, kk) * (d ** -0.5)
        scores = scores.masked_fill(~mask, float("-inf"))
        cache[f"blocks.{il}.attn.hook_attn_scores"] = scores.clone()
        pattern = torch.softmax(scores, dim=-1, dtype=ftype)
        pattern = put(f"blocks.{il}.attn.hook_pattern", pattern)
        z = torch.einsum("hij,jhd->ihd", pattern, vv)
        z = put(f"blocks.{il}.attn.hook_z", z)
        o_bias = kind != "qwen2" and cfg.get("attention_bias", False)
        attn_out = F.linear(z.reshape(T, H * d), w[p + "self_attn.o_proj.weight"],
                            w[p + "self_attn.o_proj.bias"] if o_bias else None)
        if post:
            attn_out = rms_norm(attn_out, w[p + "post_attention_layernorm.weight"], eps)
            cache[f"blocks.{il}.ln1_post.hook_normalized"] = attn_out.clone()
        attn_out = put(f"blocks.{il}.hook_attn_out", attn_out)
        x = x + attn_out
        cache[f"blocks.{il}.hook_resid_mid"] = x.clone()
        if post:
            h = x
        else:
            h = norm(x, p + "post_attention_layernorm.weight")
            cache[f"blocks.{il}.ln2.hook_normalized"] = h.clone()
        gate = F.linear(h, w[p + "mlp.gate_proj.weight"])
        up = F.linear(h, w[p + "mlp.up_proj.weight"])
        cache[f"blocks.{il}.mlp.hook_pre"] = gate.clone()
        cache[f"blocks.{il}.mlp.hook_pre_linear"] = up.clone()
        act = F.silu(gate) * up
        cache[f"blocks.{il}.mlp.hook_post"] = act.clone()
        out = F.linear(act, w[p + "mlp.down_proj.weight"])
        if post:
            out = rms_norm(out, w[p + "post_feedforward_layernorm.weight"], eps)
            cache[f"blocks.{il}.ln2_post.hook_normalized"] = out.clone()
        cache[f"blocks.{il}.hook_mlp_out"] = out.clone()
        x = x + out
        cache[f"blocks.{il}.hook_resid_post"] = x.clone()
    h = norm(x, "model.norm.weight")
    cache["ln_final.hook_normalized"] = h.clone()
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    cache["logits"] = h @ head.T
    return cache
