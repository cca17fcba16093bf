#!/usr/bin/env bash
# Bit-for-bit reproducibility (issue #24), end to end with the CLI on the built-in model: 24 texts
# of very different lengths captured with --batch-size 8, 1 and 3 and with --threads 1, 2 and 4
# give byte-identical tensor files (cmp); the same corpus in 4 shards, analysed together, gives
# the summary of the whole run byte for byte except the fields that name the directories
# (sources, capture_fingerprint); stats-only summaries are identical across batch sizes and
# threads; the manifest records the kernel variant. Usage: reproducible.sh ATTNSCOPE WORKDIR
set -euo pipefail
cli=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
/usr/bin/python3 - "$work/texts.txt" <<'PY'
import random, sys
random.seed(24)
words = ("the of and to in a is that for it as was with be by on not he this are or his from at which but "
         "have an they you were her she there liberty treaty harbor railroad tariff revenue frontier").split()
with open(sys.argv[1], "w") as f:
    for i in range(24):
        f.write(" ".join(random.choice(words) for _ in range(random.randint(2, 150))) + "\n")
PY
run() { local out=$1; shift; "$cli" run --model tiny --input "$work/texts.txt" --output "$work/$out" "$@" 2> /dev/null; }
run b8 --batch-size 8
grep -q '"kernels": "\(avx512\|avx2\|scalar\)"' "$work/b8/manifest.json" || fail "the manifest records no kernel variant"
n=0
for cfg in "b1 --batch-size 1" "b3 --batch-size 3" "t1 --threads 1 --batch-size 8" "t2 --threads 2 --batch-size 5" \
           "t4 --threads 4 --batch-size 8"; do
  set -- $cfg
  name=$1; shift
  run "$name" "$@"
  for f in "$work"/b8/*.safetensors; do
    cmp "$f" "$work/$name/$(basename "$f")" || fail "$name: $(basename "$f") differs from --batch-size 8"
    n=$((n + 1))
  done
done
[ "$n" -ge 10 ] || fail "compared only $n files"

# four shards of the corpus (run --shard I/4), analysed together in any order, against the whole
for i in 0 1 2 3; do
  "$cli" run --model tiny --input "$work/texts.txt" --shard "$i/4" --output "$work/shard$i" --batch-size 3 2> /dev/null
done
grep -q '"shard": {' "$work/shard2/manifest.json" || fail "the manifest records no shard"
/usr/bin/python3 - "$work" <<'PY' || fail "shard manifests"
import json, sys
w = sys.argv[1]
idx = [s["index"] for i in range(4) for s in json.load(open(f"{w}/shard{i}/manifest.json"))["sequences"]]
assert idx == list(range(24)), idx                      # global indices, contiguous, complete
assert json.load(open(f"{w}/shard1/manifest.json"))["shard"] == {"index": 1, "count": 4, "first": 6, "total": 24}
PY
"$cli" analyze "$work/b8" --output "$work/whole" 2> /dev/null
"$cli" analyze "$work/shard2" "$work/shard0" "$work/shard3" "$work/shard1" --output "$work/sharded" 2> /dev/null
strip() { /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
j.pop("sources"); j.pop("capture_fingerprint")
print(json.dumps(j, indent=1))' "$1"; }
strip "$work/whole/attention_data_summary.json" > "$work/whole.json"
strip "$work/sharded/attention_data_summary.json" > "$work/sharded.json"
cmp "$work/whole.json" "$work/sharded.json" || fail "4 shards analysed together differ from the whole run"

# stats-only runs
"$cli" run --model tiny --input "$work/texts.txt" --output "$work/s8" --stats-only --batch-size 8 2> /dev/null
"$cli" run --model tiny --input "$work/texts.txt" --output "$work/s1" --stats-only --batch-size 1 --threads 1 2> /dev/null
cmp "$work/s8/attention_data_summary.json" "$work/s1/attention_data_summary.json" || fail "stats-only summaries differ"
# bad shards: malformed, out of range, more shards than texts, a missing or doubled shard, shards
# of another corpus size -- clear errors naming the shard or the pair
expect_error() {
  local want=$1; shift
  if "$@" > /dev/null 2> "$work/err.txt"; then fail "accepted: $*"; fi
  grep -qF -- "$want" "$work/err.txt" || fail "'$want' not in: $(cat "$work/err.txt")"
}
expect_error "'2of4' is not I/N" "$cli" run --model tiny --input "$work/texts.txt" --shard 2of4 --output "$work/x"
expect_error "'4/4' is not I/N" "$cli" run --model tiny --input "$work/texts.txt" --shard 4/4 --output "$work/x"
expect_error "30 shards of 24 texts" "$cli" run --model tiny --input "$work/texts.txt" --shard 0/30 --output "$work/x"
expect_error "shard 3/4 (texts 18..23 of 24) is missing" "$cli" analyze "$work/shard0" "$work/shard1" "$work/shard2"
expect_error "are both shard 1/4" "$cli" analyze "$work/shard0" "$work/shard1" "$work/shard1" "$work/shard2" "$work/shard3"
expect_error "is not a shard" "$cli" analyze "$work/shard0" "$work/b8"
head -20 "$work/texts.txt" > "$work/texts20.txt"
"$cli" run --model tiny --input "$work/texts20.txt" --shard 3/4 --output "$work/other3" 2> /dev/null
expect_error "not one corpus" "$cli" analyze "$work/shard0" "$work/shard1" "$work/shard2" "$work/other3"
[ -d "$work/shard1" ] && [ -f "$work/shard1/manifest.json" ] || fail "a refused analysis touched a shard"
echo "reproducible ok: $n tensor files identical, shards = whole, stats-only identical"
