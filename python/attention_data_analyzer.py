"""The original module's import line, kept working: `from attention_data_analyzer import
AttentionDataAnalyzer` gives attnscope's analyzer."""
from attnscope import AttentionDataAnalyzer  # noqa: F401

__all__ = ["AttentionDataAnalyzer"]
