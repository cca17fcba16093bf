#!/usr/bin/env bash
# Installs the Debian 12 packages attnscope needs to build and test, when they are missing.
# Idempotent and quiet when there is nothing to do. Uses sudo when not run as root.
#   scripts/setup-debian.sh           what the build and every test need
#   scripts/setup-debian.sh --bench   and what the benchmarks compare against (OpenBLAS)
set -euo pipefail

packages=(
  g++ cmake make pkg-config           # build
  nlohmann-json3-dev                  # JSON
  libpcre2-dev                        # the tokenizer's pre-tokenization pattern (Unicode classes)
  libglib2.0-dev                      # the tokenizer's Unicode normalization (NFC, NFKC)
  libcairo2-dev libpango1.0-dev       # figures (PNG, SVG) and their text
  libcpp-httplib-dev                  # attnscope serve (the local viewer server)
  fonts-dejavu-core                   # the figures' font
  libgtest-dev                        # tests
  libbenchmark-dev                    # kernel benchmarks (bench/bench_kernels)
  python3 python3-numpy               # the test of docs/capture-format.md's numpy reader
  python3-torch                       # the PyTorch reference of the forward differential test
  python3-regex                       # tools/train (the built-in model's and the training runs' BPE)
  python3-dev pybind11-dev            # the Python package (python/)
  python3-pytest                      # its tests
  python3-setuptools python3-wheel python3-pip python3-venv  # pip install . (setup.py, no network)
  chromium                            # the viewer's browser test (headless)
  clang libclang-rt-14-dev libomp-dev # the libFuzzer targets (tests/fuzz/run.sh)
)
# node and npm drive the browser test and the tokenizer parity test; any install will do
# (Debian's, or one already on the machine)
command -v npm >/dev/null || packages+=(nodejs npm)
# the benchmarks' sgemm peer (OpenMP build: one thread pool with ours); no library path uses it
[ "${1:-}" = --bench ] && packages+=(libopenblas-openmp-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
echo "setup: done" >&2
