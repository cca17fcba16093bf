#!/usr/bin/env bash
# The main job, set-up included: build attnscope, then capture what the built-in tiny model's
# attention does on a few example texts, into results/demo/.
# (Analysis, figures and the viewer arrive with later issues and will join this demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attnscope_cli
./build/attnscope info --model tiny
echo
./build/attnscope run --model tiny --input examples/texts.jsonl --output results/demo --force
echo
echo "results/demo:"
ls -l results/demo
echo
echo "Read it from Python with numpy alone: see README.md, 'Reading a capture from Python'."
