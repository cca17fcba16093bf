#!/usr/bin/env bash
# compare at scale: two GPT-2-small-shaped models (random weights, two seeds: bench/random_gpt2.py)
# captured on the same 64 texts x 128 tokens (attention weights only, 453 MB each), then
# `attnscope compare` timed as a whole process with its peak RSS; and the same on the first 16
# texts, to show that memory does not grow with the number of texts.
#   bench/compare.sh [WORK_DIR]      (after scripts/test.sh has built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-build/bench-compare}
mkdir -p "$work"
exe=build/attnscope
for seed in 0 1; do
  [ -f "$work/gpt2-$seed/model.safetensors" ] || /usr/bin/python3 bench/random_gpt2.py "$work/gpt2-$seed" --seed "$seed" >/dev/null
done
/usr/bin/python3 - "$work" <<'PY'
import sys
sys.path.insert(0, "bench")
from e2e import texts
for n in (64, 16):
    with open(f"{sys.argv[1]}/texts-{n}.txt", "w") as f:
        f.write("\n".join(texts(n, 256)) + "\n")
PY
for n in 64 16; do
  for seed in 0 1; do
    [ -f "$work/cap-$seed-$n/manifest.json" ] ||
      "$exe" run --model "$work/gpt2-$seed" --input "$work/texts-$n.txt" --max-length 128 --capture weights \
        --output "$work/cap-$seed-$n" --force 2>/dev/null
  done
done
for n in 64 16; do
  for r in 1 2 3; do
    /usr/bin/time -f "$n texts: %e s, peak RSS %M KB" "$exe" compare "$work/cap-0-$n" "$work/cap-1-$n" \
      --labels seed0,seed1 --output "$work/out-$n" >/dev/null 2>"$work/time.txt" || { cat "$work/time.txt"; exit 1; }
    tail -1 "$work/time.txt"
  done
done
