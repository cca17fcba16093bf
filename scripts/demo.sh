#!/usr/bin/env bash
# The main job, set-up included: build attnscope, then capture what the built-in tiny model's
# attention does on a few example texts, into results/demo/, and analyse it there.
# (Figures and the viewer arrive with a later issue and will join this demo.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target attnscope_cli
./build/attnscope info --model tiny
echo
./build/attnscope run --model tiny --input examples/texts.jsonl --output results/demo --force
./build/attnscope analyze results/demo
echo
echo "The heads of the built-in model, probed with repeated random tokens:"
./build/attnscope heads --model tiny
echo
echo "results/demo:"
ls -l results/demo
echo
echo "The report: results/demo/attention_analysis_report.txt (summary JSON: docs/summary-schema.md)."
echo "Read the capture from Python with numpy alone: see README.md, 'Reading a capture from Python'."
