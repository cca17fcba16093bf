"""What the package's modules share: the native module, numpy on demand, progress on a terminal,
and figures that show themselves in a notebook."""
import sys

from . import _attnscope as _native
from ._attnscope import Error


def progress_bar(label):
    """A one-line progress display on a terminal (stderr), or None when stderr is not one."""
    if not sys.stderr.isatty():
        return None

    def show(texts_done, texts_total, tokens_done, tokens_total, seconds):
        sys.stderr.write(f"\r{label}: {texts_done}/{texts_total} texts, {tokens_done} tokens, {seconds:.1f} s")
        if texts_done == texts_total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def np():
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



def with_revision(model_name, revision):
    """model_name with "@revision" appended (the engine's NAME@REV), or as it is without one."""
    if revision is None or revision == "":
        return model_name
    name = str(model_name)
    if "@" in name and name.rsplit("@", 1)[1] != str(revision):
        raise Error(f"model {name!r} names revision {name.rsplit('@', 1)[1]!r} but revision={revision!r}")
    return name if "@" in name else f"{name}@{revision}"
