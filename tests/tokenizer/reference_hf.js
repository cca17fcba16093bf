// Reference ids from Hugging Face's own tokenizer library (the Rust `tokenizers` crate through its
// npm binding): reads JSON Lines {"text": ...} and writes one {"ids": [...]} line per text, encoded
// with and without added special tokens.
//   node reference_hf.js <tokenizers package dir> <tokenizer.json> <in.jsonl> <out.jsonl> <out-plain.jsonl>
const fs = require('fs');
const path = require('path');
const [pkg, tokfile, input, output, outputPlain] = process.argv.slice(2);
const { Tokenizer } = require(path.resolve(pkg));
const tok = Tokenizer.fromFile(tokfile);
(async () => {
  const texts = fs.readFileSync(input, 'utf-8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l).text);
  for (const [file, add] of [[output, true], [outputPlain, false]]) {
    const out = [];
    for (const t of texts) out.push(JSON.stringify({ ids: Array.from((await tok.encode(t, null, { addSpecialTokens: add })).getIds()) }));
    fs.writeFileSync(file, out.join('\n') + '\n');
  }
})().catch(e => { console.error(e); process.exit(1); });
