#!/usr/bin/env bash
# Big captures stay fast and viewable (issue #25): a gpt2-xl-shaped capture (48 layers x 25 heads,
# 4 texts x 512 tokens, weights only: 5.0 GB; bench/synthetic_capture.py, random causal
# patterns) through analyze, the figures, the original module's six-figure loop, view and serve.
# Prints each command's wall time and peak RSS (GNU time), the page's size, and the server's
# first paint and head time in headless Chromium.
#   bench/big_capture.sh [BUILD_DIR] [WORK_DIR] [BASELINE_ATTNSCOPE]
# With BASELINE_ATTNSCOPE (another build's binary), its analyze runs too and the two summaries
# are compared number by number (tools/compare_summaries.py, 1e-9).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
work=${2:-$build/bench-big}
baseline=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
cli=$build/attnscope
cap=$work/xl
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "needs GNU time (Debian package time)"; exit 1; }
if [ ! -f "$cap/manifest.json" ]; then
  echo "making the capture (5.0 GB) in $cap"
  /usr/bin/python3 "$here/synthetic_capture.py" "$cap" --layers 48 --heads 25 --tokens 512 --sequences 4
fi
rm -f "$cap"/attention_data_summary.json "$cap"/attention_analysis_report.txt
cat "$cap/attention_data_weights.safetensors" >/dev/null # in the page cache, as after a capture
timed() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "$label: %e s, peak RSS %M kB" "$@" >/dev/null 2>"$work/time.log" || { cat "$work/time.log"; exit 1; }
  tail -1 "$work/time.log"
}
if [ -n "$baseline" ] && [ ! -f "$work/baseline/attention_data_summary.json" ]; then
  timed "baseline analyze" "$baseline" analyze "$cap" --output "$work/baseline"
fi
timed "analyze" "$cli" analyze "$cap"
if [ -n "$baseline" ]; then
  /usr/bin/python3 "$here/../tools/compare_summaries.py" --allow-added "$work/baseline/attention_data_summary.json" \
    "$cap/attention_data_summary.json"
fi
timed "plot weights --layer 40 --head 3" "$cli" plot "$cap" weights --layer 40 --head 3
timed "plot flow" "$cli" plot "$cap" flow
timed "plot dashboard" "$cli" plot "$cap" dashboard
timed "plot grid" "$cli" plot "$cap" grid
timed "heads" "$cli" heads "$cap"
# the original module's loop: visualize_attention_weights over six (layer, head) pairs
start=$(date +%s.%N)
for lh in "0 0" "10 5" "20 10" "30 15" "40 20" "47 24"; do
  set -- $lh
  "$cli" plot "$cap" weights --layer "$1" --head "$2" 2>/dev/null
done
echo "six-figure loop: $(echo "$(date +%s.%N) - $start" | bc) s"
timed "view" "$cli" view "$cap"
ls -l "$cap/attention_view.html" | awk '{printf "attention_view.html: %.1f MB (%.1f MiB)\n", $5 / 1e6, $5 / 1048576}'
# the server in headless Chromium: first paint, then sequence 3 and a head of layer 40
if command -v node >/dev/null && [ -x /usr/bin/chromium ]; then
  if [ ! -d "$work/node_modules/playwright-core" ]; then
    (cd "$work" && npm install --silent --no-audit --no-fund playwright-core@1.49.1 >/dev/null 2>&1)
  fi
  cp "$here/../tests/serve/serve_browser.mjs" "$work/"
  rm -f "$work/url.txt" # a stale URL would be read before the new server truncates the file
  "$cli" serve "$cap" --port 0 >"$work/url.txt" 2>"$work/serve.log" &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 300); do [ -s "$work/url.txt" ] && break; sleep 0.1; done
  for k in 1 2 3; do node "$work/serve_browser.mjs" "$(head -1 "$work/url.txt")" "$cap" "$work/serve-$k.png"; done
  kill -INT $pid
  wait $pid || true
else
  echo "serve: skipped (needs node and /usr/bin/chromium)"
fi
