#!/usr/bin/env bash
# The main job, set-up included: build attnscope, then run `attnscope demo`: the built-in tiny
# model on built-in texts (one repeats itself), captured, analysed, drawn and put in the
# interactive viewer, into ./attnscope-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attnscope_cli
./build/attnscope info --model tiny
echo
./build/attnscope demo --output attnscope-demo
echo
echo "The capture can be read from Python with numpy alone: see docs/capture-format.md, 'Reading a capture from Python'."
