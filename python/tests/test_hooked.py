"""TransformerLens idioms over the engine: run_with_cache equals the CLI's capture bit for bit;
fwd_hooks see writable views and may replace values, and a zero-ablation through them gives the
loss the C++ ablation measures; load_capture maps the files without copying; misuse is a clear
attnscope.Error."""
import json
import os

import numpy as np
import pytest

import attnscope
from attnscope import HookedModel

from conftest import TEXTS


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def test_run_with_cache_equals_the_cli_capture(tmp_path, cli):
    model = HookedModel.from_pretrained("tiny")
    (tmp_path / "texts.txt").write_text("\n".join(TEXTS) + "\n")
    cli("run", "--model", "tiny", "--input", str(tmp_path / "texts.txt"), "--capture", "weights,z,resid",
        "--output", str(tmp_path / "cap"), "--batch-size", "2")
    cap = attnscope.load_capture(tmp_path / "cap")
    for s, text in enumerate(TEXTS):
        tokens = np.asarray([cap.tokens(s)], dtype=np.int64)
        assert model.to_tokens(text).tolist() == tokens.tolist()
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in cap.hooks())
        assert logits.shape == (1, tokens.shape[1], 4096)
        assert set(cache.keys()) == set(cap.hooks())
        for name in cap.hooks():
            assert np.array_equal(bits(cache[name][0]), bits(cap.tensor(name, s))), (name, s)
        assert np.array_equal(cache["pattern", 1], cache["blocks.1.attn.hook_pattern"])
        assert np.array_equal(cache["z", 2], cache["blocks.2.attn.hook_z"])


def test_zero_ablation_through_fwd_hooks(tmp_path, cli):
    model = HookedModel.from_pretrained("tiny")
    text = TEXTS[1]
    tokens = model.to_tokens(text)
    clean = model.run_with_hooks(tokens)

    def zero_in_place(z, hook):  # batch first, as the cache and TransformerLens have it
        assert hook.name == "blocks.1.attn.hook_z" and hook.layer == 1 and hook.seq == 0
        assert z.flags.writeable and z.shape == (1, tokens.shape[1], 4, z.shape[3])
        z[:, :, 0, :] = 0.0

    def zero_returned(z, hook):
        out = np.array(z)
        out[:, :, 0, :] = 0.0
        return out

    a = model.run_with_hooks(tokens, fwd_hooks=[("blocks.1.attn.hook_z", zero_in_place)])
    b = model.run_with_hooks(tokens, fwd_hooks=[(lambda n: n == "blocks.1.attn.hook_z", zero_returned)])
    assert np.array_equal(bits(a), bits(b))
    assert not np.array_equal(a, clean)
    # the loss of these logits, summed as the engine sums it, is the C++ ablation's to the bit
    # (attnscope ablate, zero method): the logits are the ones the C++ ablation computed
    ids = tokens[0]
    total = 0.0
    for t in range(len(ids) - 1):
        total += attnscope._attnscope.log_sum_exp(a[0, t]) - float(a[0, t, ids[t + 1]])
    loss = total / (len(ids) - 1)
    cli("ablate", "--model", "tiny", "--text", text, "--heads", "L1H0", "--output", str(tmp_path / "abl"))
    measured = json.load(open(tmp_path / "abl" / "head_importance.json"))["heads"][0]["ablated_loss"]
    assert loss == measured, (loss, measured)


def test_load_capture_maps_without_copying(tmp_path, cli):
    # ~100 MB of patterns: 25 texts of 256 tokens x 4 layers x 4 heads
    words = "liberty treaty harbor railroad tariff revenue frontier peace war bread salt".split()
    lines = [" ".join(words[(i + j) % len(words)] for j in range(400)) for i in range(25)]
    (tmp_path / "long.txt").write_text("\n".join(lines) + "\n")
    cli("run", "--model", "tiny", "--input", str(tmp_path / "long.txt"), "--capture", "weights",
        "--output", str(tmp_path / "big"), "--no-sync")
    size = sum(os.path.getsize(tmp_path / "big" / f) for f in os.listdir(tmp_path / "big"))
    assert size > 100e6

    def anon_kb():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    cap = attnscope.load_capture(tmp_path / "big")
    before = anon_kb()
    total = 0.0
    views = []
    for s in range(cap.n_sequences):
        for il in range(4):
            t = cap.tensor(f"blocks.{il}.attn.hook_pattern", s)
            assert not t.flags.writeable and not t.flags.owndata
            total += float(t[:, -1, :].sum())   # touches the mapped pages
            views.append(t)
    grown = anon_kb() - before
    assert total == pytest.approx(25 * 4 * 4, rel=1e-4)
    assert grown < 10_000, f"anonymous memory grew by {grown} kB reading {size / 1e6:.0f} MB"


def test_misuse_is_a_clear_error():
    model = HookedModel.from_pretrained("tiny")
    tokens = model.to_tokens("The cat sat on the mat.")
    with pytest.raises(attnscope.Error, match="unknown hook 'blocks.9.attn.hook_z'"):
        model.run_with_hooks(tokens, fwd_hooks=[("blocks.9.attn.hook_z", lambda z, h: None)])
    with pytest.raises(attnscope.Error, match="unknown hook"):
        model.run_with_cache(tokens, names_filter=["blocks.0.attn.hook_nothing"])
    with pytest.raises(attnscope.Error, match="returned shape"):
        model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_pattern", lambda p, h: p[:, :, :-1, :])])
    with pytest.raises(attnscope.Error, match="integer array"):
        model.run_with_cache(tokens.astype(np.float64))
    with pytest.raises(attnscope.Error, match="outside the vocabulary"):
        model.run_with_cache(tokens + 5000)
    with pytest.raises(ZeroDivisionError):    # a Python error in a hook surfaces as itself
        model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_resid_pre", lambda x, h: 1 / 0)])
    # the model still works after the errors
    assert model.run_with_hooks(tokens).shape == (1, tokens.shape[1], 4096)


def test_ablate_and_patch_from_python(tmp_path, cli):
    runner = attnscope.TransformerRunner(model_name="tiny")
    text = TEXTS[1]
    imp = runner.ablate_heads(text, heads="L1H0,L0H1+L2H3", method="mean")
    assert imp["schema"] == "attnscope.head_importance/1" and imp["method"] == "mean"
    assert [h["name"] for h in imp["heads"]] == ["L1H0", "L0H1+L2H3"]
    cli("ablate", "--model", "tiny", "--text", text, "--heads", "L1H0,L0H1+L2H3", "--method", "mean",
        "--output", str(tmp_path / "abl"))
    same = json.load(open(tmp_path / "abl" / "head_importance.json"))
    assert [h["delta"] for h in imp["heads"]] == [h["delta"] for h in same["heads"]]   # the same bits
    p = runner.patch_activations("The cat sat on the mat", "The dog sat on the mat", metric="loss", what="resid_pre")
    assert "loss" in p["metric"] and len(p["scores"]) == 4 and p["scores"][0][0] == 0.0
    with pytest.raises(attnscope.Error, match="not one"):
        runner.patch_activations("The cat sat", "The dog sat", answer=" on the", wrong=" a")
    with pytest.raises(attnscope.Error, match="L9H0"):
        runner.ablate_heads(text, heads="L9H0")


def test_hooks_see_the_batch_as_the_cache_does():
    """A batch of equal-length sequences: each hook is called once with [batch, ...] (the cache's
    shape), and a change made there reaches every sequence: the same logits as changing each
    sequence alone. Patterns, which the engine computes one sequence at a time, come as [1, ...]."""
    model = HookedModel.from_pretrained("tiny")
    cfg = model.cfg
    assert (cfg.n_layers, cfg.n_heads, cfg.n_key_value_heads, cfg.d_model, cfg.d_head) == (4, 4, 4, 128, 32)
    assert (cfg.d_mlp, cfg.n_ctx, cfg.d_vocab, cfg.act_fn) == (512, 256, 4096, "gelu_new")
    assert (cfg.normalization_type, cfg.positional_embedding_type, cfg.model_name) == ("LN", "standard", "tiny")
    with pytest.raises(Exception):
        cfg.n_layers = 5                                      # frozen
    one = model.to_tokens("The cat sat on the mat, and the dog ran in the park.")
    other = one.copy()
    other[0, 3:6] = [100, 200, 300]
    tokens = np.concatenate([one, other])                     # [2, T]
    _, cache = model.run_with_cache(tokens)
    seen = []

    def scale(resid, hook):
        seen.append((hook.name, resid.shape, hook.seq))
        if resid.shape[0] == 2:                               # [batch, pos, d_model], as cached
            assert np.array_equal(resid, cache[hook.name])
        resid *= 0.5

    both = model.run_with_hooks(tokens, fwd_hooks=[("blocks.2.hook_resid_pre", scale)])
    assert seen == [("blocks.2.hook_resid_pre", (2, tokens.shape[1], 128), None)]
    for s in range(2):
        alone = model.run_with_hooks(tokens[s:s + 1], fwd_hooks=[("blocks.2.hook_resid_pre", scale)])
        assert np.array_equal(bits(alone[0]), bits(both[s]))
    patterns = []
    model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_pattern", lambda p, h: patterns.append((p.shape, h.seq)))])
    T = tokens.shape[1]
    assert patterns == [((1, 4, T, T), 0), ((1, 4, T, T), 1)]


def test_revisions_of_a_cached_model(tmp_path, monkeypatch):
    # a Hugging Face cache entry with two revisions of the built-in model's files (as symlinks, like
    # the hub's blobs): refs/main and refs/step1000
    tiny = attnscope.TransformerRunner("tiny")._runner.model_path
    repo = tmp_path / "hub" / "models--org--tiny"
    for commit in ("aaaa1111", "bbbb2222"):
        snap = repo / "snapshots" / commit
        snap.mkdir(parents=True)
        for f in os.listdir(tiny):
            (snap / f).symlink_to(os.path.join(tiny, f))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("aaaa1111")
    (repo / "refs" / "step1000").write_text("bbbb2222")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert HookedModel.from_pretrained("org/tiny")._runner.model_path.endswith("aaaa1111")
    assert HookedModel.from_pretrained("org/tiny", checkpoint_value=1000)._runner.model_path.endswith("bbbb2222")
    runner = attnscope.TransformerRunner("org/tiny", revision="step1000")
    assert runner._runner.model_path.endswith("bbbb2222")
    with pytest.raises(attnscope.Error, match="no revision 'step7'.*present: main"):
        HookedModel.from_pretrained("org/tiny", revision="step7")
