// Differential fuzzing of attnscope's tokenizers against Hugging Face's Rust `tokenizers` library
// (its npm binding): generated adversarial texts (fuzz_texts.js) must get exactly the reference's
// ids, with and without added special tokens. A mismatch is minimised (delta debugging over code
// points, every candidate checked against both sides) and printed as a JSON string, ready to be
// committed to tests/tokenizer/fuzz_regressions.jsonl.
//
//   node fuzz_hf.js --attnscope BIN --hf DIR --seed S --count N [--out failures.jsonl]
//                   NAME=ATTNSCOPE_PATH[,REFERENCE_TOKENIZER_JSON] ...
//
// Exit status: 0 when every text of every tokenizer agrees, 1 otherwise.
'use strict';
const fs = require('fs'), path = require('path'), os = require('os');
const { spawnSync } = require('child_process');
const { generate } = require('./fuzz_texts.js');

const args = process.argv.slice(2);
const opt = { seed: '1', count: '1000', out: '' };
const tokenizers = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i].startsWith('--')) opt[args[i].slice(2)] = args[++i];
  else tokenizers.push(args[i]);
}
if (!opt.attnscope || !opt.hf || !tokenizers.length) {
  console.error('usage: node fuzz_hf.js --attnscope BIN --hf DIR --seed S --count N NAME=PATH[,REF_JSON] ...');
  process.exit(2);
}
const { Tokenizer } = require(path.resolve(opt.hf));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'attnscope-fuzz-'));

// attnscope's ids for many texts in one process: [{ids}, ...] per mode.
function attnscope(tokPath, texts, plain) {
  const file = path.join(work, 'texts.jsonl');
  fs.writeFileSync(file, texts.map(t => JSON.stringify({ text: t })).join('\n') + '\n');
  const a = ['tokenize', '--tokenizer', tokPath, '--input', file];
  if (plain) a.push('--no-special');
  const r = spawnSync(opt.attnscope, a, { maxBuffer: 1 << 30, encoding: 'utf-8' });
  if (r.status !== 0) return texts.map(() => ({ error: (r.stderr || '').trim() }));
  // one line of ids per JSON line, in order (the reader keeps blank texts of a .jsonl file)
  const lines = r.stdout.split('\n').filter(l => l);
  return texts.map((t, i) => (lines[i] ? JSON.parse(lines[i]) : { ids: null }));
}

async function reference(tok, texts, plain) {
  const out = [];
  for (const t of texts) out.push(Array.from((await tok.encode(t, null, { addSpecialTokens: !plain })).getIds()));
  return out;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// A text as a JSON string in ASCII: everything outside printable ASCII as \uXXXX escapes (UTF-16
// units, so a code point beyond U+FFFF is a surrogate pair, as JSON writes it), never raw.
const escape = t =>
  JSON.stringify(t).replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

// The texts among `texts` on which the two sides differ (in the given mode).
async function differing(tok, tokPath, texts, plain) {
  const got = attnscope(tokPath, texts, plain), ref = await reference(tok, texts, plain);
  return texts.map((t, i) => !same(got[i].ids, ref[i]));
}

// Delta debugging over code points: the shortest failing text found by removing chunks.
async function minimise(tok, tokPath, text, plain) {
  let cps = Array.from(text), n = 2;
  while (cps.length >= 2) {
    const size = Math.ceil(cps.length / n), candidates = [];
    for (let i = 0; i < cps.length; i += size) candidates.push(cps.slice(0, i).concat(cps.slice(i + size)));
    const texts = candidates.map(c => c.join('')).filter(t => t.length);
    const bad = texts.length ? await differing(tok, tokPath, texts, plain) : [];
    const k = bad.indexOf(true);
    if (k >= 0) {
      cps = Array.from(texts[k]);
      n = Math.max(n - 1, 2);
    } else if (n >= cps.length) {
      break;
    } else {
      n = Math.min(cps.length, 2 * n);
    }
  }
  return cps.join('');
}

(async () => {
  const seed = Number(opt.seed), count = Number(opt.count);
  let failed = 0;
  const failures = [];
  for (const spec of tokenizers) {
    const [name, rest] = spec.split('=');
    const [tokPath, refJson] = rest.split(',');
    const refFile = refJson || (fs.statSync(tokPath).isDirectory() ? path.join(tokPath, 'tokenizer.json') : tokPath);
    const tok = Tokenizer.fromFile(refFile);
    const added = (JSON.parse(fs.readFileSync(refFile, 'utf-8')).added_tokens || []).map(t => t.content);
    const texts = generate(seed, count, added);
    for (const plain of [false, true]) {
      const mode = plain ? 'without added special tokens' : 'with added special tokens';
      const got = attnscope(tokPath, texts, plain), ref = await reference(tok, texts, plain);
      let agree = 0, tokens = 0;
      const bad = [];
      for (let i = 0; i < texts.length; ++i) {
        tokens += ref[i].length;
        if (same(got[i].ids, ref[i])) agree++;
        else bad.push(i);
      }
      console.log(`${name}, ${mode}: ${agree}/${texts.length} generated texts identical (seed ${seed}, ${tokens} reference tokens)`);
      if (!bad.length) continue;
      failed = 1;
      for (const i of bad.slice(0, 3)) {
        const small = await minimise(tok, tokPath, texts[i], plain);
        const [g] = attnscope(tokPath, [small], plain), [r] = await reference(tok, [small], plain);
        console.log(`  text ${i} minimised to ${escape(small)}`);
        console.log(`    reference: ${JSON.stringify(r)}`);
        console.log(`    attnscope: ${g.error ? 'error: ' + g.error : JSON.stringify(g.ids)}`);
        failures.push({ text: small, tokenizer: name, special: !plain });
      }
    }
  }
  if (opt.out && failures.length)
    fs.writeFileSync(opt.out, failures.map(f => `{"text": ${escape(f.text)}, "tokenizer": "${f.tokenizer}", ` +
                                              `"special": ${f.special}}`).join('\n') + '\n');
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(failed);
})().catch(e => { console.error(e); process.exit(2); });
