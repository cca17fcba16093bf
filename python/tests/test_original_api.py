"""The original module's Quick Start and Example Analysis Workflow, with only the import line
changed (its pickle step becomes load_capture), on the built-in model: every file it lists."""
import os

import numpy as np
import pytest

import attnscope
from attnscope import AttentionDataAnalyzer, TransformerRunner

from conftest import TEXTS


def test_quick_start_and_workflow(tmp_path):
    os.chdir(tmp_path)
    # Quick Start
    runner = TransformerRunner(model_name="tiny", device="cpu")
    input_ids, attention_mask = runner.prepare_data(TEXTS, max_length=128)
    assert input_ids.dtype == np.int64 and attention_mask.shape == input_ids.shape
    assert (attention_mask[:, 0] == 1).all()                  # right padding
    lengths = attention_mask.sum(1)
    assert lengths.max() == input_ids.shape[1] and lengths.min() < lengths.max()
    assert (input_ids[attention_mask == 0] == 0).all()
    outputs = runner.run_with_hooks(input_ids, attention_mask, save_dir="attention_data", return_logits=True)
    assert outputs["n_sequences"] == 3 and outputs["n_tokens"] == int(lengths.sum())
    assert [lg.shape for lg in outputs["logits"]] == [(int(n), 4096) for n in lengths]
    analysis = runner.analyze_attention_patterns("attention_data")
    assert analysis["n_sequences"] == 3 and len(analysis["layers"]) == 4
    flow = runner.visualize_attention_flow("attention_data")
    weights = runner.visualize_attention_weights("attention_data", layer_idx=0, head_idx=0)
    # Example Analysis Workflow: the report, and the captured data read back (was: pickle.load)
    paths = AttentionDataAnalyzer("attention_data").create_comprehensive_report()
    data = attnscope.load_capture("attention_data")
    for name in ["attention_analysis_report.txt", "attention_data_summary.json", "comprehensive_attention_analysis.png",
                 "attention_flow_visualization.png", "attention_weights_L0_H0.png"]:
        path = os.path.join("attention_data", name)
        assert os.path.getsize(path) > 0, name
    assert flow.endswith("attention_flow_visualization.png") and weights.endswith("attention_weights_L0_H0.png")
    assert any(p.endswith("attention_analysis_report.txt") for p in paths)
    report = open("attention_data/attention_analysis_report.txt").read()
    assert "Recommendations" in report
    # the capture as the original pickled it: attention weights per layer with their shapes
    p = data.tensor("blocks.0.attn.hook_pattern", seq=1)
    assert p.shape == (4, lengths[1], lengths[1])
    assert np.allclose(p.sum(-1), 1.0, atol=1e-5)             # rows are distributions
    assert data.tokens(1) == [int(t) for t in input_ids[1, :lengths[1]]]


def test_cuda_runs_on_the_cpu_and_bad_inputs_are_clear_errors(tmp_path):
    with pytest.warns(RuntimeWarning, match="device='cuda:1'.*CPU"):
        assert TransformerRunner(model_name="tiny", device="cuda:1").device == "cpu"
    with pytest.raises(attnscope.Error, match="device='mps'.*CPU"):
        TransformerRunner(model_name="tiny", device="mps")
    runner = TransformerRunner(model_name="tiny")
    ids, mask = runner.prepare_data(TEXTS[:2])
    with pytest.raises(attnscope.Error, match="integer token ids"):
        runner.run_with_hooks(ids.astype(np.float32), mask, save_dir=str(tmp_path / "a"))
    with pytest.raises(attnscope.Error, match="same shape"):
        runner.run_with_hooks(ids, mask[:, :-1], save_dir=str(tmp_path / "b"))
    with pytest.raises(attnscope.Error, match="only 0 and 1"):
        runner.run_with_hooks(ids, mask * 2, save_dir=str(tmp_path / "c"))
    with pytest.raises(attnscope.Error, match="outside the vocabulary"):
        runner.run_with_hooks(ids + 10000, mask, save_dir=str(tmp_path / "d"))
    with pytest.raises(attnscope.Error, match="no such capture directory"):
        attnscope.load_capture(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(attnscope.Error, match="manifest"):
        attnscope.load_capture(tmp_path / "empty")
    assert issubclass(attnscope.Error, ValueError)


def test_stats_only_loss_is_the_ablation_clean_loss(tmp_path):
    runner = attnscope.TransformerRunner("tiny", progress=lambda *a: None)
    texts = ["the cat sat on the mat. the cat sat on the mat.", "Once upon a time there was a king."]
    ids, mask = runner.prepare_data(texts, max_length=64)
    summary = runner.run_stats_only(ids, mask, save_dir=tmp_path / "s", loss=True)
    assert summary["loss"]["predictions"] == sum(int(m.sum()) - 1 for m in mask)
    clean = runner.ablate_heads(texts, heads="0.0")["clean_loss"]
    assert abs(summary["loss"]["mean_nats"] - clean) <= 1e-9 * clean
    assert "loss" not in runner.run_stats_only(ids, mask, save_dir=tmp_path / "t")


def test_stats_only_shards_merge_to_the_whole_run(tmp_path):
    """run_stats_only over 3 shards, merged by AttentionDataAnalyzer in any order, gives the
    summary of one stats-only run over the texts (every number within 1e-9 relative)."""
    runner = attnscope.TransformerRunner("tiny", progress=lambda *a: None)
    texts = [f"Text {i}: the cat sat on the mat and the cat sat again, {i} times." for i in range(7)]
    ids, mask = runner.prepare_data(texts, max_length=64)
    whole = runner.run_stats_only(ids, mask, save_dir=tmp_path / "whole")
    assert whole["stats_only"] and whole["n_sequences"] == 7
    dirs = []
    for i in range(3):
        part = runner.run_stats_only(ids, mask, save_dir=tmp_path / f"s{i}", shard=f"{i}/3")
        assert part["n_sequences"] == (i + 1) * 7 // 3 - i * 7 // 3
        dirs.append(os.fspath(tmp_path / f"s{i}"))
    merged = attnscope.AttentionDataAnalyzer(dirs[::-1]).analyze()

    def close(a, b, where=""):
        if isinstance(a, dict):
            assert set(a) == set(b), where
            for k in a:
                if k not in ("sources", "capture_fingerprint"):
                    close(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                close(x, y, f"{where}[{i}]")
        elif isinstance(a, float) or isinstance(b, float):
            assert abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300), f"{where}: {a} vs {b}"
        else:
            assert a == b, where

    close(whole, merged)
    with pytest.raises(attnscope.Error, match="missing"):
        attnscope.AttentionDataAnalyzer(dirs[:2]).analyze()
    with pytest.raises(attnscope.Error, match="I/N"):
        runner.run_stats_only(ids, mask, save_dir=tmp_path / "bad", shard="3")
    with pytest.raises(attnscope.Error, match="0 <= I < N"):
        runner.run_stats_only(ids, mask, save_dir=tmp_path / "bad", shard=(3, 3))
