#!/usr/bin/env bash
# attnscope serve in real headless Chromium. Usage: serve_browser.sh ATTNSCOPE WORKDIR
# A synthetic capture of 48 layers x 4 heads x 64 tokens x 4 sequences (bench/synthetic_capture.py,
# numpy), served on a free loopback port; the browser script checks the read-out against the
# file, then the server must stop cleanly on SIGINT. Exit 77 (skipped) without chromium, node,
# npm's playwright-core or numpy.
set -euo pipefail
cli=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null && command -v npm >/dev/null && [ -x /usr/bin/chromium ] || { echo "skip: node, npm or chromium missing"; exit 77; }
/usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "skip: python3-numpy missing"; exit 77; }
mkdir -p "$work"
if [ ! -d "$work/node_modules/playwright-core" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund playwright-core@1.49.1 >/dev/null 2>&1) ||
    { echo "skip: cannot install playwright-core from npm"; exit 77; }
fi
cp "$here/serve_browser.mjs" "$work/"
rm -rf "$work/capture"
/usr/bin/python3 "$here/../../bench/synthetic_capture.py" "$work/capture" --layers 48 --heads 4 --tokens 64 --sequences 4
# a URL file left by an earlier run must not be read before this server writes its own (the
# background job's redirection truncates the file only once the job has started)
rm -f "$work/url.txt"
"$cli" serve "$work/capture" --port 0 >"$work/url.txt" 2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/url.txt" ] && break; sleep 0.1; done
url=$(head -1 "$work/url.txt")
[ -n "$url" ] || { echo "no URL printed"; cat "$work/serve.log"; exit 1; }
# the port accepts connections before the browser starts (bash's /dev/tcp: no curl needed)
port=${url#http://127.0.0.1:}
port=${port%%/*}
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
node "$work/serve_browser.mjs" "$url" "$work/capture" "$work/serve-screenshot.png" || { echo "server log:"; cat "$work/serve.log"; exit 1; }
kill -INT $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then echo "FAIL: the server did not stop on SIGINT"; exit 1; fi
wait $pid && echo "server stopped cleanly" || { echo "FAIL: the server exited with $?"; exit 1; }
