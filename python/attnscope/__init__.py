"""attnscope from Python: the original module's names over the native engine, TransformerLens'
idioms, and captures read as numpy arrays without copies.

    from attnscope import TransformerRunner, AttentionDataAnalyzer
    runner = TransformerRunner(model_name="tiny", device="cpu")
    input_ids, attention_mask = runner.prepare_data(["The cat sat.", "On the mat."], max_length=128)
    outputs = runner.run_with_hooks(input_ids, attention_mask, save_dir="attention_data")
    analysis = runner.analyze_attention_patterns("attention_data")       # the summary, as a dict
    runner.visualize_attention_flow("attention_data")
    runner.visualize_attention_weights("attention_data", layer_idx=0, head_idx=0)
    AttentionDataAnalyzer("attention_data").create_comprehensive_report()

    model = HookedModel.from_pretrained("tiny")                         # TransformerLens idioms
    logits, cache = model.run_with_cache("The cat sat on the mat.")
    cache["blocks.1.attn.hook_pattern"], cache["pattern", 1]             # [batch, head, q, k]

    cap = load_capture("attention_data")                                # memory-mapped
    cap.tensor("blocks.0.attn.hook_pattern", seq=0)                     # numpy view of the file

Every engine error is attnscope.Error (a ValueError) with the engine's one-line message.
"""
import os
import sys

from . import _attnscope as _native
from ._attnscope import Error

__all__ = ["Error", "TransformerRunner", "AttentionDataAnalyzer", "HookedModel", "ActivationCache", "HookPoint",
           "Capture", "load_capture", "view", "View", "Figure", "set_threads", "kernels"]

set_threads = _native.set_threads
kernels = _native.kernels


def _progress_bar(label):
    """A one-line progress display on a terminal (stderr), or None when stderr is not one."""
    if not sys.stderr.isatty():
        return None

    def show(texts_done, texts_total, tokens_done, tokens_total, seconds):
        sys.stderr.write(f"\r{label}: {texts_done}/{texts_total} texts, {tokens_done} tokens, {seconds:.1f} s")
        if texts_done == texts_total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def _np():
    import numpy
    return numpy


class Figure(str):
    """The path of a figure attnscope wrote; in a notebook it displays itself (PNG or SVG)."""

    def _repr_png_(self):
        if self.endswith(".png"):
            with open(self, "rb") as f:
                return f.read()
        return None

    def _repr_svg_(self):
        if self.endswith(".svg"):
            with open(self, encoding="utf-8") as f:
                return f.read()
        return None


class TransformerRunner:
    """The original module's runner: a model (a directory, "tiny", or a Hugging Face cache name)
    on texts, capturing what every attention block does into a directory."""

    def __init__(self, model_name="gpt2", device="cpu", capture="", layers="", heads="", batch_size=8,
                 progress=None):
        if device != "cpu":
            raise Error(f"device={device!r}: attnscope runs on the CPU (no GPU backend yet); use device='cpu'")
        self.model_name = model_name
        self.device = device
        callback = progress if progress is not None else _progress_bar("attnscope")
        self._runner = _native.Runner(model_name, capture=capture, layers=layers, heads=heads,
                                      batch_size=batch_size, on_progress=callback)

    @property
    def config(self):
        return self._runner.config

    def prepare_data(self, texts, max_length=128):
        """Tokenize `texts` (truncated to max_length tokens). Returns (input_ids, attention_mask),
        numpy int64 [B, T], right-padded with 0, mask 1 for tokens and 0 for padding."""
        np = _np()
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
        np = _np()
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
                       covariance=False):
        """Statistics without storing tensors (attnscope run --stats-only): the per-head and layer
        statistics computed while the forward pass runs, written to save_dir with their sums
        (statistics.safetensors). shard="I/N" (or (I, N)) runs only the I-th of N slices of the
        texts; AttentionDataAnalyzer([dir0, dir1, ...]) merges the shards exactly. covariance=True
        keeps what effective dimensionality needs (3 x layers x width^2 sums). Returns the summary."""
        seqs = self._sequences(input_ids, attention_mask)
        data = self._runner.prepare_tokens(seqs)
        index, count = 0, 0
        if shard is not None:
            if isinstance(shard, str):
                parts = shard.split("/")
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    raise Error(f"shard={shard!r}: expected 'I/N' with 0 <= I < N")
                index, count = int(parts[0]), int(parts[1])
            else:
                index, count = (int(x) for x in shard)
            if count < 1:
                raise Error(f"shard={shard!r}: expected N >= 1")
        return self._runner.run_stats_to_dir(data, os.fspath(save_dir), index, count, bool(covariance))

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


class AttentionDataAnalyzer:
    """The original module's analyzer over one capture directory (or several shards)."""

    def __init__(self, data_dir="attention_data"):
        dirs = [data_dir] if isinstance(data_dir, (str, os.PathLike)) else list(data_dir)
        self.dirs = [os.fspath(d) for d in dirs]
        self._an = _native.AttentionDataAnalyzer(self.dirs)

    def analyze(self):
        return self._an.summary()

    def report(self):
        return self._an.report_text()

    def create_comprehensive_report(self, out_dir=""):
        """The report, summary, figures and viewer into out_dir (default: the capture). Returns the paths."""
        return self._an.create_comprehensive_report(os.fspath(out_dir))

    def visualize_attention_flow(self, out_dir=""):
        return Figure(self._an.visualize_attention_flow(os.fspath(out_dir)))

    def visualize_attention_weights(self, layer_idx=0, head_idx=0, seq=0, out_dir=""):
        return Figure(self._an.visualize_attention_weights(layer_idx, head_idx, seq, os.fspath(out_dir)))

    def visualize_dashboard(self, out_dir=""):
        return Figure(self._an.visualize_dashboard(os.fspath(out_dir)))


class HookPoint:
    """What a hook function is told about the value it gets: the hook's name, the layer (-1 for
    model-level hooks) and the sequence of the batch."""

    def __init__(self, name, layer, seq):
        self.name, self.layer, self.seq = name, layer, seq

    def __repr__(self):
        return f"HookPoint({self.name!r}, layer={self.layer}, seq={self.seq})"


_ALIASES = {"pattern": "attn.hook_pattern", "attn_scores": "attn.hook_attn_scores", "q": "attn.hook_q",
            "k": "attn.hook_k", "v": "attn.hook_v", "z": "attn.hook_z", "rot_q": "attn.hook_rot_q",
            "rot_k": "attn.hook_rot_k", "resid_pre": "hook_resid_pre", "resid_mid": "hook_resid_mid",
            "resid_post": "hook_resid_post", "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out",
            "pre": "mlp.hook_pre", "post": "mlp.hook_post", "normalized": "ln1.hook_normalized"}


class ActivationCache:
    """Hook values by name, stacked over the batch: cache["blocks.3.attn.hook_pattern"] is
    [batch, head, query, key]; cache["pattern", 3] is the same (TransformerLens' short names)."""

    def __init__(self, per_sequence, model=None, tokens=None):
        self._per_seq = per_sequence
        self._stacked = {}
        self._model, self._tokens = model, tokens   # what made it: view() can show it

    def _name(self, key):
        if isinstance(key, tuple):
            short, layer = key
            return f"blocks.{layer}.{_ALIASES.get(short, short)}"
        return key

    def __getitem__(self, key):
        name = self._name(key)
        if name not in self._stacked:
            if not self._per_seq or name not in self._per_seq[0]:
                raise KeyError(f"{name} is not in the cache (cached: {', '.join(self.keys()) or 'nothing'})")
            np = _np()
            vals = [d[name] for d in self._per_seq]
            if len({v.shape for v in vals}) != 1:
                raise Error(f"{name}: sequences of different lengths cannot be stacked; use cache.per_sequence")
            self._stacked[name] = np.stack(vals) if len(vals) > 1 else vals[0][None]
        return self._stacked[name]

    def __contains__(self, key):
        return bool(self._per_seq) and self._name(key) in self._per_seq[0]

    def keys(self):
        return list(self._per_seq[0].keys()) if self._per_seq else []

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def __len__(self):
        return len(self.keys())

    @property
    def per_sequence(self):
        """One dict per sequence of unstacked values ({name: array without a batch dimension})."""
        return self._per_seq


class HookedModel:
    """TransformerLens-style access to the engine: to_tokens, to_str_tokens, run_with_cache and
    run_with_hooks, over the same forward pass the CLI runs (hook names as `attnscope hooks`)."""

    def __init__(self, runner):
        self._runner = runner
        self.cfg = runner.config

    @classmethod
    def from_pretrained(cls, model_name, **kwargs):
        return cls(_native.Runner(model_name, **kwargs))

    def hook_names(self):
        return self._runner.hook_names()

    def to_tokens(self, text, prepend_bos=True):
        """Token ids, numpy int64 [1, T] (or [B, T] for a list of texts of equal length in tokens)."""
        np = _np()
        texts = [text] if isinstance(text, str) else list(text)
        seqs = [self._runner.encode(t, prepend_bos) for t in texts]
        if len({len(s) for s in seqs}) != 1:
            raise Error("to_tokens: the texts have different lengths in tokens; tokenize them one at a time")
        return np.asarray(seqs, dtype=np.int64)

    def to_str_tokens(self, text, prepend_bos=True):
        ids = text if not isinstance(text, str) else self.to_tokens(text, prepend_bos)[0]
        return self._runner.display([int(t) for t in _np().asarray(ids).reshape(-1)])

    def to_string(self, tokens):
        return self._runner.decode([int(t) for t in _np().asarray(tokens).reshape(-1)])

    def _tokens(self, text_or_tokens):
        if isinstance(text_or_tokens, str) or (isinstance(text_or_tokens, list) and text_or_tokens
                                                and isinstance(text_or_tokens[0], str)):
            return self.to_tokens(text_or_tokens)
        return text_or_tokens

    def _names(self, names_filter):
        names = self.hook_names()
        if names_filter is None:
            return names
        if isinstance(names_filter, str):
            return [n for n in names if n == names_filter]
        if callable(names_filter):
            return [n for n in names if names_filter(n)]
        wanted = set(names_filter)
        unknown = wanted - set(names)
        if unknown:
            raise Error(f"names_filter: unknown hook {sorted(unknown)[0]!r}; see HookedModel.hook_names()")
        return [n for n in names if n in wanted]

    def _stack_logits(self, logits):
        np = _np()
        if len({lg.shape for lg in logits}) == 1:
            return np.stack(logits)
        return logits

    def run_with_cache(self, text_or_tokens, names_filter=None, return_logits=True):
        """(logits [batch, pos, vocab], ActivationCache) for a text, texts or token ids."""
        tokens = self._tokens(text_or_tokens)
        names = self._names(names_filter)
        logits, caches = self._runner.forward(tokens, names, [], return_logits, HookPoint)
        return (self._stack_logits(logits) if return_logits else None), ActivationCache(caches, self, tokens)

    def run_with_hooks(self, text_or_tokens, fwd_hooks=(), return_logits=True):
        """Logits [batch, pos, vocab] of a forward pass in which each (name or predicate, fn) of
        fwd_hooks is called as fn(value, hook) for every sequence: value is a writable numpy view
        of the engine's value for that sequence (change it in place, or return a replacement of
        the same shape); hook is a HookPoint."""
        tokens = self._tokens(text_or_tokens)
        names = self.hook_names()
        pairs = []
        for key, fn in fwd_hooks:
            if callable(key):
                pairs += [(n, fn) for n in names if key(n)]
            else:
                if not any(n == key for n in names) and "*" not in key:
                    raise Error(f"fwd_hooks: unknown hook {key!r}; see HookedModel.hook_names()")
                pairs.append((key, fn))
        logits, _ = self._runner.forward(tokens, [], pairs, return_logits, HookPoint)
        return self._stack_logits(logits) if return_logits else None


class Capture:
    """A capture directory read in place: manifest, texts, token ids and tensors as numpy arrays
    that are views of the memory-mapped safetensors files (read-only, no copy)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise Error(f"{self.path}: no such capture directory")
        self._reader = _native.CaptureReader(self.path)
        self.manifest = self._reader.manifest

    @property
    def n_sequences(self):
        return self._reader.n_sequences

    def hooks(self):
        return self._reader.hooks()

    def tokens(self, seq=0):
        return self._reader.token_ids(seq)

    def text(self, seq=0):
        return self._reader.text(seq)

    def tensor(self, hook, seq=0):
        """The captured value of `hook` for sequence `seq`: a numpy view of the file (F32 captures)."""
        if not (0 <= seq < self.n_sequences):
            raise Error(f"seq={seq}: the capture has sequences 0..{self.n_sequences - 1}")
        return self._reader.tensor(seq, hook)

    def __getitem__(self, key):
        hook, seq = key if isinstance(key, tuple) else (key, 0)
        return self.tensor(hook, seq)


def load_capture(path):
    """A capture directory (attnscope run, TransformerRunner.run_with_hooks) as a Capture."""
    return Capture(path)


class View:
    """The self-contained interactive viewer (attention_view.html) as an object: a notebook shows
    it inline (an iframe holding the whole page: no server, no network); save() writes it."""

    def __init__(self, html):
        self.html = html

    def _repr_html_(self):
        import html
        return ('<iframe style="width:100%;height:860px;border:1px solid #ddd" srcdoc="'
                + html.escape(self.html, quote=True) + '"></iframe>')

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html)
        return path


def view(capture, seq=0, max_mb=64):
    """The viewer of a capture (a Capture or its directory) or of a run_with_cache cache, opened at
    sequence `seq`."""
    import tempfile
    if isinstance(capture, ActivationCache):
        # the forward pass is batch-invariant, so capturing the cache's tokens again gives the
        # cache's values bit for bit: the viewer is drawn from that capture
        if capture._model is None:
            raise Error("view: this cache does not know the model and tokens that made it; "
                        "use HookedModel.run_with_cache, or view a capture directory")
        with tempfile.TemporaryDirectory() as tmp:
            runner = _native.Runner(capture._model._runner.model_path, capture="weights", force=True)
            runner.capture_tokens(capture._tokens, os.path.join(tmp, "cap"))
            return view(os.path.join(tmp, "cap"), seq, max_mb)
    path = capture.path if isinstance(capture, Capture) else os.fspath(capture)
    n = Capture(path).n_sequences
    if not (0 <= seq < n):
        raise Error(f"view: seq={seq}, the capture has sequences 0..{n - 1}")
    with tempfile.TemporaryDirectory() as tmp:
        page = _native.AttentionDataAnalyzer([path]).create_viewer(tmp, max(8, seq + 1), float(max_mb))
        with open(page, encoding="utf-8") as f:
            html = f.read()
    if seq:
        select = ('<script>addEventListener("load", () => setTimeout(() => { const s = document.getElementById("seq");'
                  f' if (s && s.options.length > {seq}) {{ s.value = "{seq}"; s.dispatchEvent(new Event("change")); }}'
                  ' }, 0));</script>')
        html = html.replace("</body>", select + "</body>") if "</body>" in html else html + select
    return View(html)
