"""The original module's own document (tests/data/original-module/README.md, the module attnscope
replaces) runs as written: every python block of it, in order, in one namespace as a notebook
would run them. Its import lines (`from transformer_autoencoder import TransformerRunner`,
`from attention_data_analyzer import AttentionDataAnalyzer`) are the compatibility modules; its
models (gpt2, gpt2-medium, gpt2-large, distilgpt2, gpt2-xl) are one small random-weight GPT-2 with
GPT-2's 12 layers and 12 heads and the built-in model's tokenizer, put into a scratch Hugging Face
cache under those names (nothing is downloaded); `device='cuda'` runs on the
CPU with one warning. The one addition: `import pickle`, which its workflow uses without importing."""
import json
import os
import pickle
import re
import shutil
import struct
import warnings

import numpy as np

from conftest import SOURCE

DOC = os.path.join(SOURCE, "tests", "data", "original-module", "README.md")
NAMES = ["gpt2", "gpt2-medium", "gpt2-large", "distilgpt2", "gpt2-xl"]


def blocks():
    return re.findall(r"```python\n(.*?)```", open(DOC, encoding="utf-8").read(), re.S)


def random_gpt2(path, n_layer=12, n_head=12, n_embd=48, n_positions=1024):
    """A GPT-2 checkpoint with GPT-2's layers, heads and context, narrow and random (seeded), and
    the built-in model's tokenizer (vocabulary 4096)."""
    tiny = os.path.join(SOURCE, "models", "tiny")
    os.makedirs(path)
    for f in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(os.path.join(tiny, f), path)
    V, D, F = 4096, n_embd, 4 * n_embd
    rng = np.random.default_rng(0)
    shapes = {"wte.weight": (V, D), "wpe.weight": (n_positions, D), "ln_f.weight": (D,), "ln_f.bias": (D,)}
    for i in range(n_layer):
        shapes.update({f"h.{i}.ln_1.weight": (D,), f"h.{i}.ln_1.bias": (D,), f"h.{i}.attn.c_attn.weight": (D, 3 * D),
                       f"h.{i}.attn.c_attn.bias": (3 * D,), f"h.{i}.attn.c_proj.weight": (D, D),
                       f"h.{i}.attn.c_proj.bias": (D,), f"h.{i}.ln_2.weight": (D,), f"h.{i}.ln_2.bias": (D,),
                       f"h.{i}.mlp.c_fc.weight": (D, F), f"h.{i}.mlp.c_fc.bias": (F,),
                       f"h.{i}.mlp.c_proj.weight": (F, D), f"h.{i}.mlp.c_proj.bias": (D,)})
    header, blobs, offset = {}, [], 0
    for name, shape in shapes.items():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            a = np.ones(shape, np.float32)
        else:
            a = (rng.standard_normal(shape) * 0.2).astype(np.float32)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_positions": n_positions,
              "n_ctx": n_positions, "n_embd": D, "n_layer": n_layer, "n_head": n_head, "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new", "bos_token_id": 4095, "eos_token_id": 4095}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)


def fake_cache(root):
    """A Hugging Face cache in which each of NAMES is random_gpt2's checkpoint."""
    model = os.path.join(root, "gpt2-standin")
    random_gpt2(model)
    for name in NAMES:
        snap = os.path.join(root, f"models--{name}", "snapshots", "0123456789abcdef")
        os.makedirs(snap)
        for f in os.listdir(model):
            os.symlink(os.path.join(model, f), os.path.join(snap, f))
        os.makedirs(os.path.join(root, f"models--{name}", "refs"))
        with open(os.path.join(root, f"models--{name}", "refs", "main"), "w") as f:
            f.write("0123456789abcdef")


def test_every_snippet_of_the_original_document_runs(tmp_path, monkeypatch):
    code = blocks()
    assert len(code) == 7, "the document's python blocks changed"
    fake_cache(str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    namespace = {"pickle": pickle}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, block in enumerate(code):
            try:
                exec(compile(block, f"{DOC} python block {i}", "exec"), namespace)
            except Exception as e:  # say which block, then fail
                raise AssertionError(f"python block {i} of the original document failed: {e!r}\n{block}") from e
    cuda = [w for w in caught if "cuda" in str(w.message)]
    assert len(cuda) == 1, [str(w.message) for w in caught]    # one warning, however often 'cuda' is asked for
    assert "CPU" in str(cuda[0].message) and issubclass(cuda[0].category, RuntimeWarning)
    # what the snippets were after: the Quick Start's capture and analysis, the workflow's files
    assert namespace["analysis"]["n_sequences"] == 1
    for name in ["attention_analysis_report.txt", "attention_data_summary.json", "comprehensive_attention_analysis.png",
                 "attention_flow_visualization.png", "attention_weights_L2_H1.png", "attention_data_weights.pkl"]:
        assert os.path.getsize(os.path.join("results", name)) > 0, name
    weights = namespace["weights"]                  # the workflow's pickle.load
    assert sorted(weights) == sorted(f"blocks.{L}.attn.hook_pattern" for L in range(12))
    p = weights["blocks.0.attn.hook_pattern"][0]
    assert p.dtype == np.float32 and p.shape[0] == 12 and p.shape[1] == p.shape[2]
    assert np.allclose(p.sum(-1), 1.0, atol=1e-5)
    assert namespace["input_ids"].shape[1] <= 32     # the troubleshooting block's max_length=32
