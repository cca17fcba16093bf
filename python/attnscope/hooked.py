"""TransformerLens's idioms over the engine: HookedModel (to_tokens, run_with_cache,
run_with_hooks), its cfg (HookedConfig, TransformerLens's names), ActivationCache and HookPoint.
Hook functions and the cache both see batch-shaped values, batch first."""
import dataclasses

from . import _common
from ._common import Error, _native, with_revision


@dataclasses.dataclass(frozen=True)
class HookedConfig:
    """A model's configuration with TransformerLens's names (HookedTransformerConfig's)."""
    model_name: str
    n_layers: int
    n_heads: int
    n_key_value_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    n_ctx: int
    d_vocab: int
    act_fn: str
    normalization_type: str          # "LN" (LayerNorm) or "RMS"
    positional_embedding_type: str   # "standard" (learned) or "rotary"
    model_type: str = ""             # the Hugging Face model_type
    parallel_attn_mlp: bool = False  # attention and MLP read the same input (GPT-NeoX)
    rotary_dim: int = 0              # the rotated dimensions of each head (rotary models)

    @classmethod
    def of(cls, runner):
        c = runner.config
        return cls(model_name=runner.model_name, n_layers=c["n_layer"], n_heads=c["n_head"],
                   n_key_value_heads=c["n_kv_head"], d_model=c["n_embd"], d_head=c["d_head"],
                   d_mlp=c["n_inner"], n_ctx=c["n_positions"], d_vocab=c["vocab_size"], act_fn=c["activation"],
                   normalization_type="RMS" if c["norm"] == "rms_norm" else "LN",
                   positional_embedding_type="rotary" if c["positions"] == "rotary" else "standard",
                   model_type=c["model_type"], parallel_attn_mlp=bool(c["parallel"]),
                   rotary_dim=int(c["rotary_dim"]))


class HookPoint:
    """What a hook function is told about the value it gets: the hook's name, the layer (-1 for
    model-level hooks) and, when it is called for one sequence of several, which (else None)."""

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
            np = _common.np()
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
        self.cfg = HookedConfig.of(runner)

    @classmethod
    def from_pretrained(cls, model_name, revision=None, checkpoint_value=None, **kwargs):
        """The model by name, directory or "tiny"; revision= picks a cached revision (a branch such
        as Pythia's "step1000", a tag or a commit prefix), and TransformerLens's checkpoint_value=N
        means revision "stepN"."""
        if checkpoint_value is not None:
            if revision is not None and revision != f"step{checkpoint_value}":
                raise Error(f"from_pretrained: revision={revision!r} and checkpoint_value={checkpoint_value!r} disagree")
            revision = f"step{int(checkpoint_value)}"
        return cls(_native.Runner(with_revision(model_name, revision), **kwargs))

    def hook_names(self):
        return self._runner.hook_names()

    def to_tokens(self, text, prepend_bos=True):
        """Token ids, numpy int64 [1, T] (or [B, T] for a list of texts of equal length in tokens)."""
        np = _common.np()
        texts = [text] if isinstance(text, str) else list(text)
        seqs = [self._runner.encode(t, prepend_bos) for t in texts]
        if len({len(s) for s in seqs}) != 1:
            raise Error("to_tokens: the texts have different lengths in tokens; tokenize them one at a time")
        return np.asarray(seqs, dtype=np.int64)

    def to_str_tokens(self, text, prepend_bos=True):
        ids = text if not isinstance(text, str) else self.to_tokens(text, prepend_bos)[0]
        return self._runner.display([int(t) for t in _common.np().asarray(ids).reshape(-1)])

    def to_string(self, tokens):
        return self._runner.decode([int(t) for t in _common.np().asarray(tokens).reshape(-1)])

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
        np = _common.np()
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
        fwd_hooks is called as fn(value, hook), as in TransformerLens: value is batch first, with
        the shape the cache has (hook_z: [batch, pos, head, d_head]); change it in place or return
        a replacement of the same shape; hook is a HookPoint. With one sequence the value is a
        writable view of the engine's own buffer. With several (of one length), fn is called once
        per hook with them stacked, and what it leaves or returns is written back; except for
        hook_attn_scores and hook_pattern, which the engine computes one sequence at a time: those
        are called once per sequence, [1, head, query, key], hook.seq saying which."""
        tokens = self._tokens(text_or_tokens)
        names = self.hook_names()
        if isinstance(tokens, list) and tokens and isinstance(tokens[0], (list, tuple)):  # ragged
            lengths = [len(s) for s in tokens]
        else:
            shape = _common.np().asarray(tokens).shape
            lengths = [shape[-1]] * (shape[0] if len(shape) == 2 else 1)
        n_seq, same_length = len(lengths), len(set(lengths)) == 1
        pairs = []
        for key, fn in fwd_hooks:
            if callable(key):
                pairs += [(n, _batched(fn, n_seq, same_length)) for n in names if key(n)]
            else:
                if not any(n == key for n in names) and "*" not in key:
                    raise Error(f"fwd_hooks: unknown hook {key!r}; see HookedModel.hook_names()")
                pairs.append((key, _batched(fn, n_seq, same_length)))
        logits, _ = self._runner.forward(tokens, [], pairs, return_logits, HookPoint)
        return self._stack_logits(logits) if return_logits else None


def _batched(fn, n_seq, same_length):
    """fn(value [batch, ...], hook) over the engine's per-sequence calls (see run_with_hooks)."""
    np = _common.np()
    pending = {}  # hook name -> the views of sequences 0.. of the batch, until its last one

    def one(view, hook):  # one sequence, as a batch of one: a view, so in-place changes apply
        ret = fn(view[None], hook)
        if ret is None:
            return None
        ret = np.asarray(ret)
        if ret.shape != (1,) + view.shape:
            raise Error(f"hook {hook.name}: the function returned shape {ret.shape}, the value's is "
                        f"{(1,) + view.shape}")
        return ret[0]

    def call(view, hook):
        if n_seq == 1 or not same_length or hook.name.endswith(("hook_pattern", "hook_attn_scores")):
            return one(view, hook)
        views = pending.setdefault(hook.name, [])
        views.append(view)
        if len(views) < n_seq:
            return None
        del pending[hook.name]
        batch = np.stack(views)
        ret = fn(batch, HookPoint(hook.name, hook.layer, None))
        if ret is not None:
            ret = np.asarray(ret)
            if ret.shape != batch.shape:
                raise Error(f"hook {hook.name}: the function returned shape {ret.shape}, the value's is {batch.shape}")
            batch = ret
        for s, v in enumerate(views):  # the engine's buffers of every sequence, still live
            v[...] = batch[s]
        return None
    return call
