#!/usr/bin/env bash
# Checks docs/design.md §1's rule: a layer includes only itself and the layers above it in the list
# core, io, tokenizer, model, engine, capture, generate, intervene, convert, analysis, report, render, api (the public API: Runner,
# AttentionDataAnalyzer), serve (the local viewer server, over the API).
set -eu
cd "$(dirname "$0")/.."
order=(core io tokenizer model engine capture generate intervene convert analysis report render api serve)
status=0
for i in "${!order[@]}"; do
  layer=${order[$i]}
  [ -d "src/$layer" ] || continue
  allowed=("${order[@]:0:$((i + 1))}")
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"${line#*:}")
    ok=0
    for a in "${allowed[@]}"; do [ "$inc" = "$a" ] && ok=1; done
    if [ $ok = 0 ]; then
      echo "layering: $file includes \"$inc/...\", but $layer may include only: ${allowed[*]}"
      status=1
    fi
  done < <(grep -rHE '#include "[a-z_]+/' "src/$layer" || true)
done
[ $status = 0 ] && echo "layering: ok"
exit $status
