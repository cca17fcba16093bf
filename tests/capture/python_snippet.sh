#!/usr/bin/env bash
# docs/capture-format.md's Python reader works on a real capture: run the CLI, then read it with numpy alone.
#   python_snippet.sh <attnscope binary> <work dir>
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
root="$here/../.."
PY=/usr/bin/python3
"$PY" -c "import numpy" 2>/dev/null || { echo "SKIP: python3-numpy is not installed"; exit 77; }
rm -rf "$work"
"$bin" run --model "$root/tests/fixtures/gpt2-tiny" --output "$work" \
  --text "Hi." "The quick brown fox jumps over the lazy dog, and the dog sleeps on." \
  "Attention is all you need: the model looks back at every earlier token, weighs it, and mixes what it finds. Heads that look at the previous token, heads that copy, heads that rest on the first token: each has its job, and a capture shows all of them at once."
"$PY" "$here/python_snippet.py" "$root/docs/capture-format.md" "$work" "$root/tests/fixtures/gpt2-tiny/expected_capture.safetensors"
