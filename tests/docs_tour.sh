#!/usr/bin/env bash
# The README's five-minute tour runs as written: every fenced block marked `sh tour` or
# `python tour`, in order, in a scratch directory where `build` is the build tree. `--model gpt2`
# finds the built-in model, put into a scratch Hugging Face cache under that name (nothing is
# downloaded). Then a few checks that the tour made what it says.
#   tests/docs_tour.sh <build dir> <work dir>
set -euo pipefail
build=$(realpath "$1")
work=$2
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work" && mkdir -p "$work/run"
ln -s "$build" "$work/run/build"
snap="$work/hf/models--gpt2/snapshots/0123456789abcdef"
mkdir -p "$snap" "$work/hf/models--gpt2/refs"
for f in "$root"/models/tiny/*; do [ "$(basename "$f")" = README.md ] || ln -s "$f" "$snap/"; done
echo -n 0123456789abcdef > "$work/hf/models--gpt2/refs/main"
# as in the reader's shell after the first block's export (each block runs in its own bash)
export HF_HUB_CACHE="$work/hf" PYTHONPATH="$build/python" PATH="$build:$PATH"

# split the README into its tour blocks, numbered in order: NN.sh / NN.py
/usr/bin/python3 - "$root/README.md" "$work" << 'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"```(sh|python) tour\n(.*?)```", text, re.S)
assert len(blocks) >= 4, f"the README has {len(blocks)} tour blocks"
for i, (kind, body) in enumerate(blocks):
    open(f"{sys.argv[2]}/{i:02d}.{'sh' if kind == 'sh' else 'py'}", "w").write(body)
PY
cd "$work/run"
for block in "$work"/[0-9][0-9].*; do
  echo "== $(basename "$block")"
  case $block in
    *.sh) bash -euo pipefail -c "source '$block'" > "$block.out" 2>&1 || { cat "$block.out"; echo "FAILED: README tour block $(basename "$block")"; exit 1; } ;;
    *.py) /usr/bin/python3 "$block" > "$block.out" 2>&1 || { cat "$block.out"; echo "FAILED: README tour block $(basename "$block")"; exit 1; } ;;
  esac
  cat "$block.out"
done

# what the tour says it made
for f in tour-capture/attention_analysis_report.txt tour-capture/attention_weights_L1_H0.png \
         tour-capture/attention_view.html tour-ablation/head_importance.json tour-py/manifest.json \
         tour-gpt2/attention_view.html tour-gpt2/comprehensive_attention_analysis.png; do
  [ -s "$f" ] || { echo "the tour did not make $f"; exit 1; }
done
grep -q "L0H0  previous_token" "$work"/*.sh.out   # what the tour's comment on `heads` says
grep -q "L1H0       induction" "$work"/*.sh.out
echo "tour ok"
