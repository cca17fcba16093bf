"""An independent PyTorch implementation of Hugging Face's GPT-2 forward (GPT2LMHeadModel,
eval mode, fp32, eager attention), written out step by step so every hook value can be read.

It follows transformers/models/gpt2/modeling_gpt2.py operation for operation:
  - Conv1D: y = x @ W + b with W stored [in, out]
  - c_attn is fused Q|K|V, split into heads of width d = n_embd / n_head
  - scores = q @ k^T / sqrt(d) (scale_attn_weights), / (layer_idx + 1) if
    scale_attn_by_inverse_layer_idx; causal mask fills with finfo(float32).min; softmax in fp32
  - activation: gelu_new (tanh approximation), gelu (erf) or relu
  - ln_f, then logits = h @ lm_head^T (lm_head tied to wte unless the checkpoint has its own)

Hook names are TransformerLens's (see DESIGN.md §3). The hook_attn_scores value is the scaled
scores with masked cells set to -inf, as TransformerLens stores them.

Only torch is used (Debian python3-torch); transformers is not needed and not imported.
"""
import math

import torch
import torch.nn.functional as F


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACTIVATIONS = {
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu": F.gelu,
    "relu": F.relu,
}


def weight(w, name):
    """Look a tensor up with or without the GPT2LMHeadModel 'transformer.' prefix."""
    if name in w:
        return w[name]
    return w["transformer." + name]


def forward(w, cfg, ids):
    """Run one sequence (list of ints). w: dict name -> float32 tensor; cfg: config.json dict.
    Returns an ordered dict hook name -> tensor (per-sequence shapes of DESIGN.md §3)."""
    D, H = cfg["n_embd"], cfg["n_head"]
    d = D // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = ACTIVATIONS[cfg.get("activation_function", "gelu_new")]
    T = len(ids)
    ids_t = torch.tensor(ids, dtype=torch.long)
    pos_t = torch.arange(T, dtype=torch.long)
    cache = {}

    embed = weight(w, "wte.weight")[ids_t]
    pos = weight(w, "wpe.weight")[pos_t]
    cache["hook_embed"] = embed
    cache["hook_pos_embed"] = pos
    x = embed + pos
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for il in range(cfg["n_layer"]):
        p = f"h.{il}."
        b = f"blocks.{il}."
        cache[b + "hook_resid_pre"] = x
        h = F.layer_norm(x, (D,), weight(w, p + "ln_1.weight"), weight(w, p + "ln_1.bias"), eps)
        cache[b + "ln1.hook_normalized"] = h
        qkv = torch.addmm(weight(w, p + "attn.c_attn.bias"), h, weight(w, p + "attn.c_attn.weight"))
        q, k, v = qkv.split(D, dim=-1)
        q, k, v = (t.reshape(T, H, d) for t in (q, k, v))
        cache[b + "attn.hook_q"], cache[b + "attn.hook_k"], cache[b + "attn.hook_v"] = q, k, v
        qh, kh, vh = (t.permute(1, 0, 2) for t in (q, k, v))  # [H, T, d]
        att = torch.matmul(qh, kh.transpose(-1, -2))
        if cfg.get("scale_attn_weights", True):
            att = att / torch.full([], vh.size(-1) ** 0.5, dtype=att.dtype)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            att = att / float(il + 1)
        cache[b + "attn.hook_attn_scores"] = torch.where(causal, att, torch.tensor(float("-inf")))
        att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min, dtype=att.dtype))
        pattern = F.softmax(att, dim=-1)
        cache[b + "attn.hook_pattern"] = pattern
        z = torch.matmul(pattern, vh).permute(1, 0, 2)  # [T, H, d]
        cache[b + "attn.hook_z"] = z
        attn_out = torch.addmm(weight(w, p + "attn.c_proj.bias"), z.reshape(T, D), weight(w, p + "attn.c_proj.weight"))
        cache[b + "hook_attn_out"] = attn_out
        x = x + attn_out
        cache[b + "hook_resid_mid"] = x
        h = F.layer_norm(x, (D,), weight(w, p + "ln_2.weight"), weight(w, p + "ln_2.bias"), eps)
        cache[b + "ln2.hook_normalized"] = h
        pre = torch.addmm(weight(w, p + "mlp.c_fc.bias"), h, weight(w, p + "mlp.c_fc.weight"))
        cache[b + "mlp.hook_pre"] = pre
        post = act(pre)
        cache[b + "mlp.hook_post"] = post
        mlp_out = torch.addmm(weight(w, p + "mlp.c_proj.bias"), post, weight(w, p + "mlp.c_proj.weight"))
        cache[b + "hook_mlp_out"] = mlp_out
        x = x + mlp_out
        cache[b + "hook_resid_post"] = x
    h = F.layer_norm(x, (D,), weight(w, "ln_f.weight"), weight(w, "ln_f.bias"), eps)
    cache["ln_final.hook_normalized"] = h
    lm_head = w["lm_head.weight"] if "lm_head.weight" in w else weight(w, "wte.weight")
    cache["logits"] = h @ lm_head.T
    return cache
