"""An independent PyTorch implementation of Hugging Face's GPT-2 forward (GPT2LMHeadModel,
eval mode, fp32, eager attention), written out step by step so every hook value can be read.

It follows transformers/models/gpt2/modeling_gpt2.py operation for operation:
  - Conv1D: y = x @ W + b with W stored [in, out]
  - c_attn is fused Q|K|V, split into heads of width d = n_embd / n_head
  - scores = q @ k^T / sqrt(d) (scale_attn_weights), / (layer_idx + 1) if
    scale_attn_by_inverse_layer_idx; causal mask fills with finfo(float32).min; softmax in fp32
  - activation: gelu_new (tanh approximation), gelu (erf) or relu
  - ln_f, then logits = h @ lm_head^T (lm_head is wte unless config.json sets tie_word_embeddings false)

Hook names are TransformerLens's (see docs/design.md §3). The hook_attn_scores value is the scaled
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


def run(w, cfg, ids, cache=None, edit=None):
    """Run a batch of equal-length sequences. ids: LongTensor [B, T]; w: dict name -> float32
    tensor (or nn.Parameter, for training); cfg: config.json dict. Returns logits [B, T, V].
    When `cache` is a dict it receives every hook value with a leading batch dimension. When
    `edit` maps a hook name to a function, the forward continues from that function's result
    (ablation and patching, tools/reference/intervene_reference.py)."""
    D, H = cfg["n_embd"], cfg["n_head"]
    d = D // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = ACTIVATIONS[cfg.get("activation_function", "gelu_new")]
    B, T = ids.shape
    keep = cache if cache is not None else {}

    def hook(name, value):
        if edit is not None and name in edit:
            value = edit[name](value)
        if cache is not None:
            keep[name] = value
        return value

    embed = hook("hook_embed", weight(w, "wte.weight")[ids])
    pos = hook("hook_pos_embed", weight(w, "wpe.weight")[torch.arange(T)].unsqueeze(0).expand(B, T, D))
    x = embed + pos
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for il in range(cfg["n_layer"]):
        p = f"h.{il}."
        b = f"blocks.{il}."
        x = hook(b + "hook_resid_pre", x)
        h = hook(b + "ln1.hook_normalized",
                 F.layer_norm(x, (D,), weight(w, p + "ln_1.weight"), weight(w, p + "ln_1.bias"), eps))
        qkv = h @ weight(w, p + "attn.c_attn.weight") + weight(w, p + "attn.c_attn.bias")
        q, k, v = (t.reshape(B, T, H, d) for t in qkv.split(D, dim=-1))
        hook(b + "attn.hook_q", q), hook(b + "attn.hook_k", k), hook(b + "attn.hook_v", v)
        qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, d]
        att = torch.matmul(qh, kh.transpose(-1, -2))
        if cfg.get("scale_attn_weights", True):
            att = att / torch.full([], vh.size(-1) ** 0.5, dtype=att.dtype)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            att = att / float(il + 1)
        if cache is not None:
            keep[b + "attn.hook_attn_scores"] = torch.where(causal, att, torch.tensor(float("-inf")))
        att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min, dtype=att.dtype))
        pattern = hook(b + "attn.hook_pattern", F.softmax(att, dim=-1))  # [B, H, T, T]
        z = hook(b + "attn.hook_z", torch.matmul(pattern, vh).transpose(1, 2))  # [B, T, H, d]
        attn_out = hook(b + "hook_attn_out",
                        z.reshape(B, T, D) @ weight(w, p + "attn.c_proj.weight") + weight(w, p + "attn.c_proj.bias"))
        x = hook(b + "hook_resid_mid", x + attn_out)
        h = hook(b + "ln2.hook_normalized",
                 F.layer_norm(x, (D,), weight(w, p + "ln_2.weight"), weight(w, p + "ln_2.bias"), eps))
        pre = hook(b + "mlp.hook_pre", h @ weight(w, p + "mlp.c_fc.weight") + weight(w, p + "mlp.c_fc.bias"))
        post = hook(b + "mlp.hook_post", act(pre))
        mlp_out = hook(b + "hook_mlp_out",
                       post @ weight(w, p + "mlp.c_proj.weight") + weight(w, p + "mlp.c_proj.bias"))
        x = hook(b + "hook_resid_post", x + mlp_out)
    h = hook("ln_final.hook_normalized", F.layer_norm(x, (D,), weight(w, "ln_f.weight"), weight(w, "ln_f.bias"), eps))
    lm_head = weight(w, "wte.weight") if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return hook("logits", h @ lm_head.T)


def forward(w, cfg, ids):
    """Run one sequence (list of ints). Returns a dict hook name -> tensor with the per-sequence
    shapes of docs/design.md §3 (no batch dimension)."""
    cache = {}
    run(w, cfg, torch.tensor([ids], dtype=torch.long), cache)
    return {name: t[0] for name, t in cache.items()}
