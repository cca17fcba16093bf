#!/usr/bin/env bash
# The viewer in real headless Chromium. Usage: viewer_browser.sh ATTNSCOPE WORKDIR
# Installs playwright-core from the npm registry into WORKDIR once (exit 77 = skipped when
# chromium, node or the registry are missing). The screenshot stays in WORKDIR as the artefact.
set -euo pipefail
cli=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null && [ -x /usr/bin/chromium ] || { echo "skip: node, npm or chromium missing"; exit 77; }
mkdir -p "$work"
if [ ! -d "$work/node_modules/playwright-core" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund playwright-core@1.49.1 >/dev/null 2>&1) ||
    { echo "skip: cannot install playwright-core from npm"; exit 77; }
fi
cp "$here/viewer_browser.mjs" "$work/"
hostile='</script><img src=x onerror=window.__xss=1>'
rm -rf "$work/capture"
"$cli" run --model tiny --output "$work/capture" \
  --text "Peace and war. Peace and war. Peace and war." "$hostile & <b>bold</b>" "The State of the Union is strong."
"$cli" view "$work/capture"
node "$work/viewer_browser.mjs" "$work/capture/attention_view.html" "$work/viewer-screenshot.png" "$hostile"
# the comparison page, from the same capture twice (16 heads matched to themselves)
cp "$here/compare_browser.mjs" "$work/"
"$cli" compare "$work/capture" "$work/capture" --output "$work/compare" >/dev/null
node "$work/compare_browser.mjs" "$work/compare/comparison_view.html" "$work/compare-screenshot.png" 16
