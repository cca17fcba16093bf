#!/usr/bin/env bash
# The viewer at gpt2-xl's size: 48 layers x 25 heads, 128 tokens (a synthetic capture: random
# patterns of that shape). Prints the file size and the load time in headless Chromium.
#   bench/viewer_xl.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
work=$build/bench-viewer-xl
mkdir -p "$work"
/usr/bin/python3 "$here/synthetic_capture.py" "$work/capture" --layers 48 --heads 25 --tokens 128
"$build/attnscope" view "$work/capture"
ls -l "$work/capture/attention_view.html" | awk '{printf "attention_view.html: %.2f MB\n", $5 / 1e6}'
if [ ! -d "$work/node_modules/playwright-core" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund playwright-core@1.49.1 >/dev/null 2>&1)
fi
cp "$here/viewer_load.mjs" "$work/"
node "$work/viewer_load.mjs" "$work/capture/attention_view.html" 3
