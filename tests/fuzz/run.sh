#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for SECONDS
# (default 30) on its committed seed corpus (tests/fuzz/corpus/<target>/; new inputs go to
# build-fuzz/corpus/<target>/, the committed seeds are never modified).
#   tests/fuzz/run.sh [SECONDS] [TARGET ...]
# A finding stops with the crashing input saved as build-fuzz/crash-*; add it to the target's
# corpus and to tests as a regression. Prints each target's executions and coverage.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors config tokenizer_json vocab_merges encode texts capture summary llama2c gguf sentencepiece
  head_importance statistics)
CXX=clang++ CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNSCOPE_FUZZ=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DATTNSCOPE_TESTS=OFF -DATTNSCOPE_BENCH=OFF -DATTNSCOPE_WERROR=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  log=build-fuzz/fuzz_$t.log
  if ./build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=20 \
       -artifact_prefix=build-fuzz/ "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    echo "fuzz_$t: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1); $(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)"
  else
    echo "fuzz_$t: FINDING, see $log"; tail -30 "$log"; status=1
  fi
done
exit $status
