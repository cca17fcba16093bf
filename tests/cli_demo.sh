#!/usr/bin/env bash
# `attnscope demo` end to end: every file appears, the report has its sections, the summary its
# schema, the viewer its data, and a rerun into the same directory works while a foreign
# non-empty directory is refused. Usage: cli_demo.sh ATTNSCOPE WORKDIR
set -euo pipefail
cli=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
"$cli" demo --output "$work/demo" > "$work/out.txt"
for f in manifest.json attention_data_weights.safetensors attention_analysis_report.txt attention_data_summary.json \
         attention_flow_visualization.png comprehensive_attention_analysis.png attention_heads_grid.png \
         attention_weights_L0_H0.png attention_view.html heads_probe.txt head_importance.json \
         head_importance.png ablation_report.txt; do
  [ -s "$work/demo/$f" ] || { echo "missing or empty: $f"; exit 1; }
done
grep -q "9. Recommendations" "$work/demo/attention_analysis_report.txt"
grep -q "10. Head importance (measured)" "$work/demo/attention_analysis_report.txt"
grep -q "mean ablation" "$work/demo/attention_analysis_report.txt"
grep -q '"method": "mean"' "$work/demo/head_importance.json"
grep -q '"schema": "attnscope.summary/1"' "$work/demo/attention_data_summary.json"
grep -q 'id="attnscope-data"' "$work/demo/attention_view.html"
grep -q "Heads of the built-in model" "$work/out.txt"
"$cli" demo --output "$work/demo" > /dev/null            # a rerun replaces its own files
mkdir -p "$work/foreign" && echo keep > "$work/foreign/notes.txt"
if "$cli" demo --output "$work/foreign" 2> "$work/err.txt"; then echo "wrote into a foreign directory"; exit 1; fi
grep -q "is not an attnscope capture" "$work/err.txt"
[ "$(cat "$work/foreign/notes.txt")" = keep ]
echo "demo ok"
