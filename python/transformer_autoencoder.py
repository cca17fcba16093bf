"""The original module's import line, kept working: `from transformer_autoencoder import
TransformerRunner` gives attnscope's runner, the same names run natively.

One thing is added for the original module's users. Its run_with_hooks left pickles beside the
data, which the module's workflow reads back (`pickle.load(open("results/attention_data_weights.pkl",
"rb"))`). This runner writes `attention_data_weights.pkl` as well: a dict from each hook name
("blocks.{L}.attn.hook_pattern") to a list of one float32 numpy array [head, query, key] per
sequence. attnscope's own files are safetensors (attnscope.load_capture reads them without
copying); the pickle exists only for code that expects it.
"""
import os
import pickle

import attnscope
from attnscope import AttentionDataAnalyzer  # noqa: F401

__all__ = ["TransformerRunner", "AttentionDataAnalyzer"]


class TransformerRunner(attnscope.TransformerRunner):
    def run_with_hooks(self, input_ids, attention_mask=None, save_dir="attention_data", return_logits=False):
        out = super().run_with_hooks(input_ids, attention_mask, save_dir, return_logits)
        cap = attnscope.load_capture(save_dir)
        weights = {}
        for hook in cap.hooks():
            if hook.endswith("attn.hook_pattern"):
                weights[hook] = [cap.tensor(hook, seq).copy() for seq in range(cap.n_sequences)]
        path = os.path.join(os.fspath(save_dir), "attention_data_weights.pkl")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:  # under a temporary name until complete, as every attnscope file
            pickle.dump(weights, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return out
