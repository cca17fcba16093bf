"""AttentionDataAnalyzer: the original module's analyzer over a capture directory (or the shards
of one corpus): the analysis as a dict, the report, the figures."""
import os

from ._common import Figure, _native


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
