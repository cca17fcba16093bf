"""`pip install --no-build-isolation .` into a virtual environment with no network: the package
imports from there and runs the built-in model (the extension taken from the build tree, so the
test does not compile the engine a second time); and the notebook conveniences: view() is the
self-contained viewer, figures display themselves."""
import os
import subprocess
import sys

import pytest

import attnscope

from conftest import SOURCE, TEXTS


def test_pip_install_into_a_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    prebuilt = attnscope._attnscope.__file__
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(ATTNSCOPE_PREBUILT=prebuilt, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-deps", "-q", SOURCE],
                       env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    code = ("import attnscope, os; print(os.path.dirname(attnscope.__file__)); "
            "m = attnscope.HookedModel.from_pretrained('tiny'); print(m.run_with_hooks('Hello there').shape)")
    r = subprocess.run([str(venv / "bin" / "python"), "-c", code], env=env, capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    where, shape = r.stdout.split("\n")[:2]
    assert where.startswith(str(venv)) and shape.startswith("(1, ")


def test_view_and_figures_for_notebooks(tmp_path):
    runner = attnscope.TransformerRunner(model_name="tiny")
    ids, mask = runner.prepare_data(TEXTS)
    runner.run_with_hooks(ids, mask, save_dir=str(tmp_path / "cap"))
    v = attnscope.view(attnscope.load_capture(tmp_path / "cap"), seq=2)
    html = v._repr_html_()
    assert html.startswith("<iframe") and "srcdoc=" in html and "attnscope-data" in v.html
    assert 's.value = "2"' in v.html
    assert "https://" not in v.html and "<script src" not in v.html   # self-contained
    fig = runner.visualize_attention_flow(str(tmp_path / "cap"))
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(attnscope.Error, match="seq=5"):
        attnscope.view(tmp_path / "cap", seq=5)
    model = attnscope.HookedModel.from_pretrained("tiny")
    _, cache = model.run_with_cache(model.to_tokens("Hello there, general Kenobi"))
    page = attnscope.view(cache).html
    assert "attnscope-data" in page and len(page) > 10000
    with pytest.raises(attnscope.Error, match="does not know the model"):
        attnscope.view(attnscope.ActivationCache([{}]))
