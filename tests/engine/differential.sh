#!/usr/bin/env bash
# The forward differential test (issue #31): tools/reference/differential.py makes COUNT random
# checkpoints of every registered family from SEED, with the PyTorch reference's value of every
# hook, and test_differential (tests/engine/test_differential.cpp) compares attnscope's forward
# (one ragged batch per checkpoint) hook by hook. Skips (77) without PyTorch (Debian python3-torch,
# which scripts/setup-debian.sh installs).
#   tests/engine/differential.sh <test_differential binary> <work dir> [COUNT [SEED]]
#   (CTest: 25 checkpoints, seed 1; the long mode of .ci/run: 200, seed 2)
set -euo pipefail
bin=$(realpath "$1")
work=$2
count=${3:-25}
seed=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
$py -c "import torch" 2>/dev/null || { echo "SKIP: PyTorch (Debian python3-torch) is not installed"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
$py "$here/../../tools/reference/differential.py" --seed "$seed" --count "$count" --out "$work" > "$work/configs.txt"
echo "generated $count checkpoints (seed $seed): $work/configs.txt"
"$bin" "$work" --gtest_brief=1 > "$work/log.txt" 2>&1 || {
  cat "$work/log.txt"
  echo "the configurations: $work/configs.txt (regenerate one with --seed $seed)"
  exit 1
}
grep -c "tensors compared" "$work/log.txt" | sed 's/^/checkpoints compared: /'
echo "queries and keys tempered in $(grep -c 'tempered [1-9]' "$work/configs.txt") of $count (where the float32 error estimate" \
     "was above a quarter of a bound)"
grep -q "PASSED.*1 test" "$work/log.txt"
rm -rf "$work"
