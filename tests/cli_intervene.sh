#!/usr/bin/env bash
# `attnscope ablate`, `patch` and `analyze --importance` from the command line on the built-in
# model: the files they write and what is in them, the recommendations' evidence, clear errors
# for bad heads, layers, tokens, texts and metrics, and an interrupted ablation that leaves no
# file behind. Usage: cli_intervene.sh ATTNSCOPE WORKDIR
set -euo pipefail
cli=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
# expect_error WHAT... -- CMD...: the command fails (not a crash: exit 1 or 2) and stderr has every WHAT
expect_error() {
  local want=()
  while [ "$1" != "--" ]; do want+=("$1"); shift; done
  shift
  local rc=0
  "$@" > /dev/null 2> "$work/err.txt" || rc=$?
  [ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "exit $rc from: $* ($(cat "$work/err.txt"))"
  for w in "${want[@]}"; do grep -qF -- "$w" "$work/err.txt" || fail "'$w' not in: $(cat "$work/err.txt")"; done
}

text="liberty treaty harbor railroad tariff revenue frontier liberty treaty harbor railroad tariff revenue frontier"
"$cli" ablate --model tiny --text "$text" --text "Peace and war, bread and salt." --heads L1H0,L0H1+L2H3 \
  --method mean --output "$work/abl" > "$work/abl.txt"
for f in head_importance.json ablation_report.txt head_importance.png; do
  [ -s "$work/abl/$f" ] || fail "missing $f"
done
/usr/bin/python3 - "$work/abl/head_importance.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["schema"] == "attnscope.head_importance/1" and j["method"] == "mean", j
names = [h["name"] for h in j["heads"]]
assert names == ["L1H0", "L0H1+L2H3"], names
for h in j["heads"]:
    assert abs(h["delta"] - (h["ablated_loss"] - j["clean_loss"])) < 1e-12, h
assert j["heads"][1]["heads"] == [[0, 1], [2, 3]]
PY
grep -q "Method: mean ablation" "$work/abl/ablation_report.txt" || fail "report names no method"

"$cli" patch --model tiny --clean "The cat sat on the mat" --corrupt "The dog sat on the mat" --metric loss \
  --what resid_pre --output "$work/patch" > /dev/null
grep -q '"metric": "normalised loss recovery' "$work/patch/patching.json" || fail "patch --metric loss"

# analyze with and without measured importance
"$cli" run --model tiny --text "$text" --text "Peace and war, bread and salt." --output "$work/cap" 2> /dev/null
"$cli" analyze "$work/cap" --importance "$work/abl/head_importance.json" --print > "$work/report.txt"
grep -q "10. Head importance (measured)" "$work/report.txt" || fail "no importance section"
grep -q '"importance"' "$work/cap/attention_data_summary.json" || fail "summary without importance"

# bad input
expect_error "L9H0" "out of range" -- "$cli" ablate --model tiny --text "$text" --heads L9H0
expect_error "'x3'" "not a head" -- "$cli" ablate --model tiny --text "$text" --heads x3
expect_error "head 7 is out of range" -- "$cli" ablate --model tiny --text "$text" --heads 1.7
expect_error "--method" "'ablate'" -- "$cli" ablate --model tiny --text "$text" --method ablate
expect_error "--metric" "'kl'" -- "$cli" ablate --model tiny --text "$text" --metric kl
expect_error "empty" -- "$cli" ablate --model tiny --text ""
expect_error "--answer" "not one" -- "$cli" patch --model tiny --clean "The cat sat" --corrupt "The dog sat" \
  --answer " on the mat" --wrong " the"
expect_error "same length" -- "$cli" patch --model tiny --clean "The cat sat" --corrupt "The cat sat on the mat" \
  --answer " on" --wrong " the"
expect_error "--metric loss takes no --answer" -- "$cli" patch --model tiny --clean "a b" --corrupt "a c" \
  --metric loss --answer " on"
expect_error "--importance" "no such file" -- "$cli" analyze "$work/cap" --importance "$work/none.json"
echo '{"schema": "attnscope.head_importance/1", "method": "zero"}' > "$work/bad.json"
expect_error "bad.json" -- "$cli" analyze "$work/cap" --importance "$work/bad.json"
expect_error "--prune-max-delta" -- "$cli" analyze "$work/cap" --prune-max-delta -1

# an interrupted ablation writes nothing: many texts, every head, SIGINT once it has started
for i in $(seq 1 300); do echo "$text $i"; done > "$work/many.txt"
"$cli" ablate --model tiny --input "$work/many.txt" --output "$work/intr" > /dev/null 2> "$work/intr.txt" &
pid=$!
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
if [ "$rc" = 0 ]; then
  echo "note: the ablation finished before the signal; the interruption was not exercised"
else
  [ "$rc" = 130 ] || fail "interrupted ablate exited $rc: $(cat "$work/intr.txt")"
  grep -q "interrupted" "$work/intr.txt" || fail "no interruption message"
  [ ! -e "$work/intr/head_importance.json" ] || fail "an interrupted ablation left head_importance.json"
fi
echo "intervene cli ok"
