"""attnscope from Python: the original module's names over the native engine, TransformerLens's
idioms, and captures read as numpy arrays without copies.

    from attnscope import TransformerRunner, AttentionDataAnalyzer
    runner = TransformerRunner(model_name="tiny", device="cpu")
    input_ids, attention_mask = runner.prepare_data(["The cat sat.", "On the mat."], max_length=128)
    outputs = runner.run_with_hooks(input_ids, attention_mask, save_dir="attention_data")
    analysis = runner.analyze_attention_patterns("attention_data")       # the summary, as a dict
    runner.visualize_attention_flow("attention_data")
    runner.visualize_attention_weights("attention_data", layer_idx=0, head_idx=0)
    AttentionDataAnalyzer("attention_data").create_comprehensive_report()

    model = HookedModel.from_pretrained("tiny")                         # TransformerLens's idioms
    model.cfg.n_layers, model.cfg.d_head                                # HookedConfig
    logits, cache = model.run_with_cache("The cat sat on the mat.")
    cache["blocks.1.attn.hook_pattern"], cache["pattern", 1]             # [batch, head, q, k]

    cap = load_capture("attention_data")                                # memory-mapped
    cap.tensor("blocks.0.attn.hook_pattern", seq=0)                     # numpy view of the file

Modules by concept: runner (TransformerRunner), analyzer (AttentionDataAnalyzer), hooked
(HookedModel, HookedConfig, ActivationCache, HookPoint), capture (Capture, load_capture), viewer
(view, View). The original module's own import lines work too: `from transformer_autoencoder
import TransformerRunner`, `from attention_data_analyzer import AttentionDataAnalyzer`.
Every engine error is attnscope.Error (a ValueError) with the engine's one-line message.
"""
from ._common import Error, Figure, _native
from .analyzer import AttentionDataAnalyzer
from .capture import Capture, load_capture
from .hooked import ActivationCache, HookedConfig, HookedModel, HookPoint
from .runner import TransformerRunner
from .viewer import View, view

__all__ = ["Error", "TransformerRunner", "AttentionDataAnalyzer", "HookedModel", "HookedConfig", "ActivationCache",
           "HookPoint", "Capture", "load_capture", "view", "View", "Figure", "set_threads", "kernels"]

set_threads = _native.set_threads
kernels = _native.kernels
