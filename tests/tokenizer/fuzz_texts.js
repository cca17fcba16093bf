// Adversarial texts for the tokenizer differential test (fuzz_hf.js), generated from a seed: the
// same seed gives the same texts on every machine.
//
//   const { generate } = require('./fuzz_texts.js');
//   const texts = generate(seed, count, addedTokens);   // addedTokens: strings from tokenizer.json
//
// Each text is built from one of these kinds (in turn, so every kind is in every sample):
//   bytes      random bytes decoded as UTF-8 (invalid sequences become U+FFFD, as any reader does)
//   category   code points drawn from one Unicode general category (Cc with NUL, Cf, Mn, Me, Zs,
//              Zl, Zp, Nd, Lo, So, ... every one JavaScript's \p{..} knows), mixed with ASCII
//   edges      neighbours of the surrogate range, noncharacters, U+FEFF, U+0085, the last
//              code points of each plane, variation selectors, ZWJ emoji sequences, RTL marks
//              and Hebrew/Arabic text, combining marks stacked on letters, whitespace of every kind
//   added      the tokenizer's own added tokens concatenated, cut short (partial matches), with
//              spaces and newlines around them and inside them
//   runs       a long run of one character or one short unit (spaces, digits, "ab", an emoji)
//   long       a text near the length limits (several thousand characters of mixed kinds)
//   mixed      pieces of all of the above glued together
'use strict';

// A small, fast, seedable generator (mulberry32): the sequence depends only on the seed.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = n => Math.floor(next() * n);
  return { next, int, pick: xs => xs[int(xs.length)] };
}

const CATEGORIES = ['Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Mn', 'Mc', 'Me', 'Nd', 'Nl', 'No', 'Pc', 'Pd', 'Ps', 'Pe',
                    'Pi', 'Pf', 'Po', 'Sm', 'Sc', 'Sk', 'So', 'Zs', 'Zl', 'Zp', 'Cc', 'Cf', 'Co', 'Cn'];

// Code points of each general category (surrogates excluded: they are not text), built once.
let byCategory = null;
function categories() {
  if (byCategory) return byCategory;
  byCategory = {};
  const tests = CATEGORIES.map(c => [c, new RegExp(`^\\p{gc=${c}}$`, 'u')]);
  for (const [c] of tests) byCategory[c] = [];
  const ranges = [[0, 0x3FFFF], [0xE0000, 0xE01EF], [0xF0000, 0xF00FF], [0x10FF00, 0x10FFFF]];
  for (const [lo, hi] of ranges)
    for (let cp = lo; cp <= hi; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const s = String.fromCodePoint(cp);
      for (const [c, re] of tests)
        if (re.test(s)) {
          byCategory[c].push(cp);
          break;
        }
    }
  return byCategory;
}

const EDGES = [
  0x0000, 0x0001, 0x0009, 0x000A, 0x000B, 0x000C, 0x000D, 0x001F, 0x007F, 0x0080, 0x0085, 0x009F, 0x00A0, 0x00AD,
  0x034F, 0x061C, 0x1680, 0x180E, 0x2000, 0x2007, 0x200A, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029,
  0x202A, 0x202E, 0x202F, 0x205F, 0x2060, 0x2066, 0x2069, 0x3000, 0xD7FF, 0xE000, 0xF8FF, 0xFDD0, 0xFDEF, 0xFE00,
  0xFE0F, 0xFEFF, 0xFFF9, 0xFFFC, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x1FFFE, 0x1FFFF, 0xE0001, 0xE0100, 0xE01EF,
  0x10FFFD, 0x10FFFF, 0x0300, 0x0301, 0x0308, 0x0327, 0x05D0, 0x05B4, 0x0627, 0x064B, 0x0E01, 0x0E48, 0x1100,
  0x1161, 0x11A8, 0xAC00, 0xD7A3, 0x3042, 0x3099, 0x4E00, 0x9FFF, 0x20000, 0x2FA1D, 0x1F600, 0x1F3FB, 0x1F3FF,
  0x1F1E6, 0x1F1FA, 0x1F468, 0x1F469, 0x1F467, 0x2764, 0x0130, 0x0131, 0x03A3, 0x03C2, 0x1E9E, 0x00DF, 0xFB01,
  0x2126, 0x212B, 0x00C5, 0x1E0A, 0x0323, 0x0344, 0x0F73, 0x2460, 0x00BD, 0x0660, 0x0966, 0xFF10, 0x1D7CE,
];
const SNIPPETS = [
  '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', '\u{1F3F3}\uFE0F\u200D\u{1F308}', '\u{1F44D}\u{1F3FD}', '\u2764\uFE0F',
  '\u{1F1FA}\u{1F1F8}', '#\uFE0F\u20E3', 'שָׁלוֹם', 'مرحبا بالعالم', '\u202Eabc\u202C', 'e\u0301\u0302\u0303',
  'Å', 'A\u030A', 'ﬁ', '①②', '한국어', 'ｶﾀｶﾅ', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', "don't", "I'm", "we'LL", 'x = 1.5e-3;', '  \t\n  ',
  '\r\n', '...', '12345678901234567890', '٣٤٥', 'ǅungla', 'İstanbul', 'ΣΑΣ', 'straße',
];
const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f', '\u0085', '\u00A0', '\u1680', '\u2000', '\u2003', '\u2009',
                    '\u200A', '\u2028', '\u2029', '\u202F', '\u205F', '\u3000', '  ', '\n\n', ' \n'];
const ASCII = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?\'"-()[]{}<>/\\|@#$%^&*_+=~`\n\t';

function fromCategory(r, n) {
  const cats = categories(), c = r.pick(CATEGORIES.filter(k => cats[k].length));
  let s = '';
  for (let i = 0; i < n; ++i) s += r.next() < 0.7 ? String.fromCodePoint(r.pick(cats[c])) : r.pick(ASCII);
  return s;
}

function fromBytes(r, n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; ++i) b[i] = r.next() < 0.5 ? r.int(128) : 128 + r.int(128);
  return b.toString('utf-8');
}

function fromEdges(r, n) {
  let s = '';
  for (let i = 0; i < n; ++i) {
    const u = r.next();
    if (u < 0.4) s += String.fromCodePoint(r.pick(EDGES));
    else if (u < 0.6) s += r.pick(SNIPPETS);
    else if (u < 0.75) s += r.pick(WHITESPACE);
    else s += r.pick(ASCII);
  }
  return s;
}

function fromAdded(r, n, added) {
  if (!added.length) return fromEdges(r, n);
  let s = '';
  for (let i = 0; i < n; ++i) {
    const t = r.pick(added), u = r.next();
    if (u < 0.4) s += t;
    else if (u < 0.6) s += t.slice(0, 1 + r.int(Math.max(1, t.length - 1))); // a partial match
    else if (u < 0.7) s += t.slice(r.int(t.length));
    else if (u < 0.85) s += r.pick(WHITESPACE);
    else s += r.pick(ASCII);
  }
  return s;
}

function fromRun(r) {
  const unit = r.pick([' ', '\n', '\t', 'a', 'ab', '0', '12', '.', '!', '-', '\u00A0', '\u3000', 'é', '\u{1F600}', '\u0301',
                       '\u200D', '\u0000', 'の', ' a', 'a ', '\r\n', '▁', 'Ġ']);
  return (r.next() < 0.5 ? r.pick(ASCII) : '') + unit.repeat(1 + r.int(3000)) + (r.next() < 0.5 ? r.pick(ASCII) : '');
}

function generate(seed, count, added = []) {
  const r = rng(seed);
  const kinds = [
    () => fromBytes(r, 1 + r.int(60)),
    () => fromCategory(r, 1 + r.int(40)),
    () => fromEdges(r, 1 + r.int(40)),
    () => fromAdded(r, 1 + r.int(12), added),
    () => fromRun(r),
    () => { let s = ''; while (s.length < 2000 + r.int(6000)) s += kinds[r.int(4)](); return s; },
    () => { let s = ''; for (let k = 1 + r.int(5); k > 0; --k) s += kinds[r.int(5)](); return s; },
  ];
  const out = [];
  for (let i = 0; i < count; ++i) out.push(kinds[i % kinds.length]());
  return out;
}

module.exports = { generate, rng };
