"""Capture: a capture directory read in place, tensors as numpy views of the memory-mapped
files."""
import os

from ._common import Error, _native


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
