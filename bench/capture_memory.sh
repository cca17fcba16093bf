#!/usr/bin/env bash
# Memory does not grow with the corpus: peak RSS of `attnscope run` on 10 texts and on 500
# texts (same text lengths, default capture: weights + inputs + outputs), measured in one run.
#   bench/capture_memory.sh [model]       (default: tiny; after scripts/test.sh has built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-tiny}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$model" "$work" <<'PY'
import os, resource, subprocess, sys
model, work = sys.argv[1:3]
base = ("The first duty of government is to protect the people, and the second is to tell them the truth "
        "about what it is doing and why. ")
def peak(n):
    path = f"{work}/in{n}.txt"
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"{i}: " + base * (1 + i % 3) + "\n")
    out = f"{work}/out{n}"
    # each measurement in a fresh child of a fresh child, so ru_maxrss is this run's alone
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    kb = int(subprocess.run([sys.executable, "-c", code, "./build/attnscope", "run", "--model", model, "--input", path,
                             "--output", out], check=True, capture_output=True, text=True).stdout)
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    return kb, size
a, sa = peak(10)
b, sb = peak(500)
print(f"model {model}: peak RSS {a / 1024:.1f} MiB for 10 texts ({sa / 1e6:.1f} MB written), "
      f"{b / 1024:.1f} MiB for 500 texts ({sb / 1e6:.1f} MB written): ratio {b / a:.3f}")
PY
