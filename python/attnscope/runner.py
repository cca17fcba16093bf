"""TransformerRunner: the original module's runner over the native engine. Its users' code runs
unchanged: TransformerRunner(model_name, device), prepare_data, run_with_hooks,
analyze_attention_patterns, visualize_attention_flow, visualize_attention_weights."""
import os
import warnings

from . import _common
from ._common import Error, Figure, _native, progress_bar, with_revision
from .hooked import HookedConfig

_warned_devices = set()


def _cpu_device(device):
    """attnscope runs on the CPU. The original module's device='cuda' (or 'cuda:0', a torch.device)
    runs there too, with one warning per device name; anything else is an error."""
    name = str(device)
    if name == "cpu":
        return "cpu"
    if name.startswith("cuda"):
        if name not in _warned_devices:
            _warned_devices.add(name)
            warnings.warn(f"device={name!r}: attnscope has no GPU backend yet; running on the CPU "
                          "(the numbers are the same)", RuntimeWarning, stacklevel=3)
        return "cpu"
    raise Error(f"device={name!r}: attnscope runs on the CPU; use device='cpu' (or 'cuda', which runs on the CPU)")


class TransformerRunner:
    """The original module's runner: a model (a directory, "tiny", or a Hugging Face cache name)
    on texts, capturing what every attention block does into a directory."""

    def __init__(self, model_name="gpt2", device="cpu", capture="", layers="", heads="", batch_size=8,
                 progress=None, revision=None):
        self.model_name = model_name
        self.device = _cpu_device(device)
        callback = progress if progress is not None else progress_bar("attnscope")
        self._runner = _native.Runner(with_revision(model_name, revision), capture=capture, layers=layers, heads=heads,
                                      batch_size=batch_size, on_progress=callback)

    @property
    def config(self):
        """The model's configuration as a dict of the engine's names (n_layer, n_head, ...)."""
        return self._runner.config

    @property
    def cfg(self):
        """The model's configuration with TransformerLens's names (HookedConfig)."""
        return HookedConfig.of(self._runner)

    def prepare_data(self, texts, max_length=128):
        """Tokenize `texts` (truncated to max_length tokens). Returns (input_ids, attention_mask),
        numpy int64 [B, T], right-padded with 0, mask 1 for tokens and 0 for padding."""
        np = _common.np()
        if isinstance(texts, str):
            texts = [texts]
        data = self._runner.prepare_data(list(texts), int(max_length))
        seqs = data.tokens
        T = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), T), dtype=np.int64)
        mask = np.zeros((len(seqs), T), dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = s
            mask[i, :len(s)] = 1
        return ids, mask

    def _sequences(self, input_ids, attention_mask):
        np = _common.np()
        ids = np.asarray(input_ids)
        if ids.dtype.kind not in "iu":
            raise Error(f"input_ids: expected integer token ids, found dtype {ids.dtype}")
        if ids.ndim == 1:
            ids = ids[None, :]
        if ids.ndim != 2:
            raise Error(f"input_ids: expected shape [B, T], found {ids.shape}")
        if attention_mask is None:
            return [list(map(int, row)) for row in ids]
        mask = np.asarray(attention_mask)
        if mask.shape != ids.shape:
            raise Error(f"attention_mask has shape {mask.shape}, input_ids {ids.shape}: expected the same shape")
        if mask.dtype.kind not in "iub":
            raise Error(f"attention_mask: expected 0/1 integers, found dtype {mask.dtype}")
        if not np.isin(mask, (0, 1)).all():
            raise Error("attention_mask: expected only 0 and 1")
        seqs = []
        for b in range(ids.shape[0]):
            keep = np.flatnonzero(mask[b])
            if keep.size == 0:
                raise Error(f"attention_mask row {b} is all zeros: the sequence has no tokens")
            if keep[-1] - keep[0] + 1 != keep.size:
                raise Error(f"attention_mask row {b} has a gap: padding must be on the left or the right")
            seqs.append([int(t) for t in ids[b, keep[0]:keep[-1] + 1]])
        return seqs

    def run_with_hooks(self, input_ids, attention_mask=None, save_dir="attention_data", return_logits=False):
        """Run the texts and capture into save_dir (the files `attnscope run` writes). Returns a
        dict: what was written (dir, n_sequences, n_tokens, n_tensors, bytes, seconds) and, with
        return_logits=True, "logits": one [T, V] array per sequence."""
        seqs = self._sequences(input_ids, attention_mask)
        data = self._runner.prepare_tokens(seqs)
        out = dict(self._runner.run_to_dir(data, os.fspath(save_dir)))
        if return_logits:
            logits, _ = self._runner.forward(seqs, [], [], True, None)
            out["logits"] = logits
        return out

    def run_stats_only(self, input_ids, attention_mask=None, save_dir="attention_stats", shard=None,
                       covariance=False, loss=False):
        """Statistics without storing tensors (attnscope run --stats-only): the per-head and layer
        statistics computed while the forward pass runs, written to save_dir with their sums
        (statistics.safetensors). shard="I/N" (or (I, N)) runs only the I-th of N slices of the
        texts; AttentionDataAnalyzer([dir0, dir1, ...]) merges the shards exactly. covariance=True
        keeps what effective dimensionality needs (3 x layers x width^2 sums); loss=True measures the
        next-token loss on the texts (the summary's "loss"). Returns the summary."""
        seqs = self._sequences(input_ids, attention_mask)
        data = self._runner.prepare_tokens(seqs)
        if shard is None:
            spec = ""
        elif isinstance(shard, str):
            spec = shard
        else:  # (I, N): the engine parses "I/N", as for attnscope run --shard
            index, count = shard
            spec = f"{int(index)}/{int(count)}"
        return self._runner.run_stats_to_dir(data, os.fspath(save_dir), spec, bool(covariance), bool(loss))

    def ablate_heads(self, texts, heads="all", method="zero", max_length=0):
        """Each head's (or group's, "L0H1+L2H3") output replaced — method zero, mean or resample —
        and the next-token loss against the clean loss (attnscope ablate): head_importance.json's
        content as a dict (clean_loss, and per target ablated_loss, delta, se)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self._runner.ablate(texts, heads, method, int(max_length))

    def patch_activations(self, clean, corrupt, answer=None, wrong=None, what="z", metric=None):
        """Activation patching (attnscope patch): scored by the logit difference of `answer` and
        `wrong` (one token each) at the last position, or with metric="loss" by the clean text's
        own loss. patching.json's content as a dict (scores: one row per layer)."""
        if metric not in (None, "loss", "logit_diff"):
            raise Error(f"metric={metric!r}: use 'loss', or answer and wrong tokens")
        if metric == "loss":
            if answer is not None or wrong is not None:
                raise Error("metric='loss' takes no answer or wrong token")
            answer = wrong = ""
        elif answer is None or wrong is None:
            raise Error("give answer and wrong (one token each), or metric='loss'")
        return self._runner.patch(clean, corrupt, answer, wrong, what)

    def analyze_attention_patterns(self, save_dir="attention_data"):
        """The analysis of a capture directory (attention_data_summary.json's content, as a dict)."""
        return self._runner.analyze_summary(os.fspath(save_dir))

    def visualize_attention_flow(self, save_dir="attention_data", out_dir=""):
        """attention_flow_visualization.png (into out_dir, default the capture); shows inline in notebooks."""
        return Figure(_native.AttentionDataAnalyzer([os.fspath(save_dir)]).visualize_attention_flow(out_dir))

    def visualize_attention_weights(self, save_dir="attention_data", layer_idx=0, head_idx=0, seq=0, out_dir=""):
        """attention_weights_L{layer}_H{head}.png of one sequence; shows inline in notebooks."""
        return Figure(_native.AttentionDataAnalyzer([os.fspath(save_dir)]).visualize_attention_weights(
            layer_idx, head_idx, seq, out_dir))
