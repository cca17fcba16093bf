#!/usr/bin/env bash
# Builds attnscope and runs every test (installing missing Debian packages first).
#   scripts/test.sh              release build in build/, all tests
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh

build=build
flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan
  # -O1 -g1 (line tables: the sanitizers' reports keep file and line) compiles in half the time
  # of -O2 -g, which keeps CI well inside its limit; the benchmarks are not built here.
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DATTNSCOPE_SANITIZE=ON
         -DATTNSCOPE_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
labels=()
[ "$build" = build-asan ] && labels=(-LE "slow|cluster") # the npm parity and Slurm runs add nothing under sanitizers
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "${labels[@]}"
