#!/usr/bin/env python3
"""How close attnscope's float32 forward is to the exact one, beside PyTorch's float32 forward
(issue #31): both are compared with a float64 forward of the same weights and tokens, hook by hook,
and the ratio of the errors is printed (attnscope / PyTorch: at most 1 is the goal).

    /usr/bin/python3 tools/reference/accuracy.py [--work DIR] [--build build] [--json OUT] [--only A,B]

Checkpoints measured:
  distilgpt2-sharp   distilgpt2's shape (6 layers, 12 heads, width 768, vocabulary 50257) with random
                     weights whose queries and keys are scaled up (x 1.5) so attention is sharp
                     (peaked rows amplify rounding in the scores), made here from a fixed seed (about
                     330 MB, in --work, not committed); 4 sequences of 256 to 1024 random tokens
  llama-gqa-bf16, gpt2-f16
                     wider checkpoints of the fixtures' kinds (grouped-query attention, 16-bit
                     weights), random, 2 sequences of 300 and 511 tokens
  gpt2-bf16, llama-gqa, llama-bf16, qwen3-qknorm, mistral-window
                     the committed fixtures (tests/fixtures/), their sequences: tiny (15 to 49
                     tokens, widths 32 to 64), so their worst errors are a few ulp and noisy
The float64 forward is tools/reference/{gpt2,llama}_reference.py run on the weights as stored, cast
to float64 (Llama's rotary tables in float32, as Hugging Face defines them); PyTorch float32 is the
same script in float32 (PyTorch's own kernels: its BLAS for products, its softmax); attnscope is the
Python package (BUILD/python) in one ragged batch.
Errors: max |value - float64| over every element of a hook kind (all layers and sequences), and
the root mean square beside it (the max of millions of values is one element's luck).
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
import gpt2_reference  # noqa: E402
import llama_reference  # noqa: E402
import make_fixtures  # noqa: E402
import make_llama_fixtures  # noqa: E402
import safetensors_io  # noqa: E402

KINDS = ["attn.hook_pattern", "ln1.hook_normalized", "hook_attn_out", "hook_resid_pre", "attn.hook_q", "attn.hook_z",
         "hook_mlp_out", "hook_resid_post"]
GPT2_SMALL_CONFIG = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 6, "n_head": 12,
                     "n_embd": 768, "vocab_size": 50257, "n_positions": 1024, "n_ctx": 1024,
                     "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}


def save_checkpoint(out, cfg, w, dtype):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    safetensors_io.save(os.path.join(out, "model.safetensors.tmp"), {k: v.to(dtype) for k, v in w.items()},
                        {"format": "pt"})
    os.replace(os.path.join(out, "model.safetensors.tmp"), os.path.join(out, "model.safetensors"))


def make_checkpoint(out, kind):
    """The generated checkpoints (fixed seeds): 'distilgpt2-sharp' (queries and keys x 1.5: PyTorch's
    float32 patterns then err by a few 1e-5, as on the checkpoint issue #31 reports),
    'llama-gqa-bf16' (width 1024, 16 heads, 4 kv-heads, 4 layers, BF16) and 'gpt2-f16'
    (distilgpt2's shape in F16, exact GELU)."""
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    fx = dict(n_layer=6, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024, prefix="transformer.",
              lm_head=False, extra={})
    if kind == "distilgpt2-sharp":
        w = make_fixtures.make_weights(fx, torch.Generator().manual_seed(31))
        for il in range(6):
            w[f"transformer.h.{il}.attn.c_attn.weight"][:, :2 * 768] *= 1.5
        save_checkpoint(out, GPT2_SMALL_CONFIG, w, torch.float32)
    elif kind == "gpt2-f16":
        w = make_fixtures.make_weights(fx, torch.Generator().manual_seed(33))
        cfg = dict(GPT2_SMALL_CONFIG, activation_function="gelu", torch_dtype="float16")
        save_checkpoint(out, cfg, w, torch.float16)
    else:
        cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=1024, intermediate_size=2816,
                   num_hidden_layers=4, num_attention_heads=16, num_key_value_heads=4, vocab_size=32000,
                   max_position_embeddings=1024, hidden_act="silu", rms_norm_eps=1e-5, rope_theta=10000.0,
                   tie_word_embeddings=False, torch_dtype="bfloat16")
        w = make_llama_fixtures.make_weights(cfg, torch.Generator().manual_seed(33))
        save_checkpoint(out, cfg, w, torch.bfloat16)


def reference_forward(model_dir, ids, dtype):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    w = {k: v.to(dtype) for k, v in safetensors_io.load(os.path.join(model_dir, "model.safetensors")).items()}
    if cfg["model_type"] == "gpt2":
        w = {k.replace("transformer.", "", 1) if k.startswith("transformer.") else k: v for k, v in w.items()}
        ref = gpt2_reference
    else:
        ref = llama_reference
    with torch.no_grad():
        return [ref.forward(w, cfg, s) for s in ids]


def errors(values, exact):
    """(max abs error, RMS error) per hook kind; values[s][name] against exact[s][name]."""
    worst, sq, count = {}, {}, {}
    for s, ex in enumerate(exact):
        for name, e in ex.items():
            kind = name.split(".", 2)[2] if name.startswith("blocks.") else name
            if kind not in KINDS or name not in values[s]:
                continue
            e = e.double()
            finite = torch.isfinite(e)
            if not finite.any():
                continue
            d = (torch.as_tensor(values[s][name]).double() - e)[finite]
            worst[kind] = max(worst.get(kind, 0.0), d.abs().max().item())
            sq[kind] = sq.get(kind, 0.0) + (d * d).sum().item()
            count[kind] = count.get(kind, 0) + d.numel()
    return {k: (worst[k], (sq[k] / count[k]) ** 0.5) for k in worst}


def with_tokenizer(model_dir, work):
    """The checkpoint as a directory the Python package loads: links to its files, and a tokenizer
    (gpt2-tiny's: the ids are given, it only has to be there)."""
    out = os.path.join(work, os.path.basename(model_dir) + "-dir")
    os.makedirs(out, exist_ok=True)
    links = {"config.json": os.path.join(model_dir, "config.json"),
             "model.safetensors": os.path.join(model_dir, "model.safetensors"),
             "tokenizer.json": os.path.join(ROOT, "tests", "fixtures", "gpt2-tiny", "tokenizer.json")}
    for name, target in links.items():
        if not os.path.exists(os.path.join(out, name)):
            os.symlink(os.path.abspath(target), os.path.join(out, name))
    return out


def measure(model_dir, ids, attnscope, work):
    exact = reference_forward(model_dir, ids, torch.float64)
    torch32 = reference_forward(model_dir, ids, torch.float32)
    model = attnscope.HookedModel.from_pretrained(with_tokenizer(model_dir, work))
    names = sorted({n for ex in exact for n in ex if n != "logits"})
    _, cache = model.run_with_cache(ids, names_filter=lambda n: n in names, return_logits=False)
    ours = [{n: cache.per_sequence[s][n] for n in names} for s in range(len(ids))]
    return errors(ours, exact), errors(torch32, exact)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/attnscope-accuracy")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="a build directory (its python/)")
    ap.add_argument("--json", default="")
    ap.add_argument("--only", default="", help="comma-separated checkpoint names")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.build, "python"))
    import attnscope
    torch.set_num_threads(2)
    only = a.only.split(",") if a.only else None
    gen = torch.Generator().manual_seed(7)
    cases = []
    for name, vocab, lengths in (("distilgpt2-sharp", 50257, (256, 512, 777, 1024)),
                                 ("llama-gqa-bf16", 32000, (300, 511)), ("gpt2-f16", 50257, (300, 511))):
        ids = [torch.randint(0, vocab, (T,), generator=gen).tolist() for T in lengths]
        if only and name not in only:
            continue
        d = os.path.join(a.work, name)
        make_checkpoint(d, name)
        cases.append((name, d, ids))
    for name in ("gpt2-bf16", "llama-gqa", "llama-bf16", "qwen3-qknorm", "mistral-window"):
        if only and name not in only:
            continue
        d = os.path.join(ROOT, "tests", "fixtures", name)
        exp = safetensors_io.load(os.path.join(d, "expected.safetensors"))
        cases.append((name, d, [exp[f"seq{s}.input_ids"].tolist() for s in range(100) if f"seq{s}.input_ids" in exp]))
    results = {}
    for name, d, ids in cases:
        ours, theirs = measure(d, ids, attnscope, a.work)
        results[name] = {k: {"attnscope_max": ours[k][0], "pytorch_max": theirs[k][0], "attnscope_rms": ours[k][1],
                             "pytorch_rms": theirs[k][1]} for k in ours}
        print(f"{name}: {len(ids)} sequences, {sum(len(s) for s in ids)} tokens")
        print(f"    {'hook':22} {'max: attnscope':>14} {'PyTorch':>9} {'ratio':>5}   {'rms: attnscope':>14} "
              f"{'PyTorch':>9} {'ratio':>5}")
        for k in KINDS:
            if k in ours:
                (om, orms), (tm, trms) = ours[k], theirs[k]
                rm = om / tm if tm > 0 else float("nan")
                rr = orms / trms if trms > 0 else float("nan")
                print(f"    {k:22} {om:14.3g} {tm:9.3g} {rm:5.2f}   {orms:14.3g} {trms:9.3g} {rr:5.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
