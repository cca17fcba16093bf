// A GGUF file's SentencePiece ("llama") vocabulary written as the tokenizer.json that Hugging Face's
// Llama converter (transformers' convert_slow_tokenizer, LlamaConverter) makes of the same pieces,
// so that the Rust reference can encode with it. Written apart from attnscope's C++ converter: it
// reads the GGUF bytes itself and follows the Python converter's rules.
//   node gguf_to_tokenizer_json.js <file.gguf> <tokenizer.json>
const fs = require('fs');
const [input, output] = process.argv.slice(2);
const buf = fs.readFileSync(input);
let pos = 0;
const u32 = () => { const v = buf.readUInt32LE(pos); pos += 4; return v; };
const u64 = () => { const v = Number(buf.readBigUInt64LE(pos)); pos += 8; return v; };
const str = () => { const n = u64(); const s = buf.toString('utf-8', pos, pos + n); pos += n; return s; };
const scalar = t => {
  switch (t) {
    case 0: return buf.readUInt8(pos++);
    case 1: return buf.readInt8(pos++);
    case 2: { const v = buf.readUInt16LE(pos); pos += 2; return v; }
    case 3: { const v = buf.readInt16LE(pos); pos += 2; return v; }
    case 4: return u32();
    case 5: { const v = buf.readInt32LE(pos); pos += 4; return v; }
    case 6: { const v = buf.readFloatLE(pos); pos += 4; return v; }
    case 7: return buf.readUInt8(pos++) !== 0;
    case 8: return str();
    case 10: return u64();
    case 11: { const v = Number(buf.readBigInt64LE(pos)); pos += 8; return v; }
    case 12: { const v = buf.readDoubleLE(pos); pos += 8; return v; }
  }
  throw new Error('type ' + t);
};
if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error('not GGUF');
pos = 4; u32(); u64();
const nkv = u64();
const kv = {};
for (let i = 0; i < nkv; i++) {
  const k = str(), t = u32();
  if (t === 9) { const et = u32(), n = u64(); const a = new Array(n); for (let j = 0; j < n; j++) a[j] = scalar(et); kv[k] = a; }
  else kv[k] = scalar(t);
}
if (kv['tokenizer.ggml.model'] !== 'llama') throw new Error('only llama vocabularies');
const pieces = kv['tokenizer.ggml.tokens'], scores = kv['tokenizer.ggml.scores'], types = kv['tokenizer.ggml.token_type'];
const vocab = {};
pieces.forEach((p, i) => { vocab[p] = i; });
// generate_merges: every split of a piece into two known pieces; sorted by (score, len(left),
// len(right)) descending, a stable sort over pieces in id order, parts ordered by their ids.
let merges = [];
pieces.forEach((piece, i) => {
  const chars = Array.from(piece), local = [];
  for (let k = 1; k < chars.length; k++) {
    const l = chars.slice(0, k).join(''), r = chars.slice(k).join('');
    if (l in vocab && r in vocab) local.push([l, r, scores[i], k, chars.length - k]);
  }
  local.sort((a, b) => vocab[a[0]] - vocab[b[0]] || vocab[a[1]] - vocab[b[1]]);
  merges.push(...local);
});
merges = merges.map((m, i) => [...m, i]).sort((a, b) => b[2] - a[2] || b[3] - a[3] || b[4] - a[4] || a[5] - b[5]);
const unk = pieces[kv['tokenizer.ggml.unknown_token_id']];
const added = [];
pieces.forEach((p, i) => {
  if (types[i] === 2 || types[i] === 3 || types[i] === 4)
    added.push({ id: i, content: p, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[i] !== 4 });
});
const bos = pieces[kv['tokenizer.ggml.bos_token_id']];
const addBos = kv['tokenizer.ggml.add_bos_token'] !== false;
const single = (addBos ? [{ SpecialToken: { id: bos, type_id: 0 } }] : []).concat([{ Sequence: { id: 'A', type_id: 0 } }]);
const tj = {
  version: '1.0', truncation: null, padding: null, added_tokens: added,
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
  pre_tokenizer: null,
  post_processor: { type: 'TemplateProcessing', single, pair: single, special_tokens: { [bos]: { id: bos, ids: [kv['tokenizer.ggml.bos_token_id']], tokens: [bos] } } },
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: { type: 'BPE', dropout: null, unk_token: unk, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: merges.map(m => [m[0], m[1]]) },
};
fs.writeFileSync(output, JSON.stringify(tj));
