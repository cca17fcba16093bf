#!/usr/bin/env bash
# The main job, set-up included: build attnscope, then show what it sees in a model.
# (For now the model summary and hook points of a test fixture; the full demo on the built-in
# tiny model arrives with the capture, model and analysis issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attnscope_cli
./build/attnscope info --model tests/fixtures/gpt2-tiny
echo
./build/attnscope hooks --model tests/fixtures/gpt2-tiny
