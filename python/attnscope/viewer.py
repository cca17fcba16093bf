"""The interactive viewer from Python: view(capture or cache) gives a View, which a notebook shows
inline (the whole self-contained page in an iframe) and save() writes."""
import os

from ._common import Error, _native
from .capture import Capture
from .hooked import ActivationCache


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
