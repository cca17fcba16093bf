"""Runs docs/capture-format.md's numpy-only reader (the python block after <!-- python-reader -->) on a
capture made by attnscope, and checks it against the PyTorch reference fixture.
    python3 python_snippet.py docs/capture-format.md <capture dir> <expected_capture.safetensors>"""
import json
import re
import sys

readme, capture, expected = sys.argv[1:4]
text = open(readme, encoding="utf-8").read()
block = re.search(r"<!-- python-reader -->\s*```python\n(.*?)```", text, re.S)
assert block, "docs/capture-format.md has no python block after <!-- python-reader -->"
scope = {}
exec(block.group(1), scope)  # defines load_safetensors, and maybe reads an example directory
load = scope["load_safetensors"]

import numpy as np  # noqa: E402

manifest = json.load(open(f"{capture}/manifest.json", encoding="utf-8"))
weights = load(f"{capture}/attention_data_weights.safetensors")
ref = load(expected)
worst = 0.0
for s, seq in enumerate(manifest["sequences"]):
    assert list(ref[f"seq{s}.input_ids"]) == seq["token_ids"], f"sequence {s}: token ids differ"
    for il in range(manifest["model"]["dims"]["n_layer"]):
        name = f"seq{s}.blocks.{il}.attn.hook_pattern"
        got, want = weights[name], ref[name]
        assert got.shape == want.shape, (name, got.shape, want.shape)
        worst = max(worst, float(np.abs(got.astype(np.float64) - want).max()))
assert worst <= 1e-5, f"attention weights differ from the reference by {worst}"
print(f"python reader: {len(manifest['sequences'])} sequences, attention weights max abs error {worst:.3g}")
