#!/usr/bin/env bash
# Long contexts: peak memory of `run --stats-only` against a full capture on one long text, with a
# GPT-2-small-shaped model (12 layers x 12 heads, width 768, random weights) whose position table
# covers 4,096 tokens. The per-layer pattern [12, T, T] alone is 805 MB at T = 4,096.
#   bench/long_context.sh [BUILD_DIR] [TOKENS]
set -euo pipefail
build=${1:-build}
tokens=${2:-4096}
here=$(cd "$(dirname "$0")" && pwd)
work=$build/bench-long-context
mkdir -p "$work"
[ -f "$work/model/model.safetensors" ] ||
  /usr/bin/python3 "$here/random_gpt2.py" "$work/model" --positions "$tokens"
# one long text: State of the Union prose, repeated until long enough
text=$(for i in $(seq 1 40); do sed -n '1,400p' "$here/../examples/texts.jsonl" | sed 's/{"text": "//; s/"}$//'; done | tr '\n' ' ')
printf '%s\n' "$text" > "$work/long.txt"
measure() { /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }; echo "$(( $(cat "$work/rss") / 1024 )) MiB"; }
echo "model: $(du -m "$work/model/model.safetensors" | cut -f1) MB of weights; text truncated to $tokens tokens"
s=$(date +%s.%N)
echo "run --stats-only: peak RSS $(measure "$build/attnscope" run --model "$work/model" --input "$work/long.txt" \
  --max-length "$tokens" --output "$work/stats" --force --stats-only), $(echo "$(date +%s.%N) - $s" | bc) s"
s=$(date +%s.%N)
echo "run --capture weights --layers 0 (one layer to disk): peak RSS $(measure "$build/attnscope" run --model "$work/model" --input "$work/long.txt" \
  --max-length "$tokens" --output "$work/capture" --force --capture weights --layers 0), $(echo "$(date +%s.%N) - $s" | bc) s"
du -sh "$work/capture"
