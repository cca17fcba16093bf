"""Byte-level BPE in the GPT-2 style: the pre-tokenization pattern, the byte <-> unicode mapping,
a trainer (merges by pair frequency over pre-tokenized words) and an encoder (merges by rank).
Used by train_tiny.py; the C++ tokenizer (src/tokenizer) is the product, this is the trainer."""
import collections
import json

import regex

# GPT-2's pre-tokenization: contractions, letters, numbers, other symbols, whitespace runs.
PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable unicode characters:
    printable Latin-1 bytes map to themselves, the rest to U+0100 onwards (space -> 'Ġ')."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = bytes_to_unicode()


def words(text):
    """Pre-tokenize and map each word's UTF-8 bytes to the printable alphabet."""
    for w in PATTERN.findall(text):
        yield "".join(BYTE_ENCODER[b] for b in w.encode("utf-8"))


def train(texts, n_merges, log=print):
    """Learn n_merges merges from an iterable of texts. Returns the merge list [(a, b), ...]."""
    counts = collections.Counter()
    for t in texts:
        counts.update(words(t))
    vocab_words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    pairs = collections.Counter()
    where = collections.defaultdict(set)  # pair -> ids of words containing it
    for i, w in enumerate(vocab_words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    merges = []
    for m in range(n_merges):
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(where[best]):
            w = vocab_words[i]
            for a, b in zip(w, w[1:]):  # remove this word's old pairs
                pairs[(a, b)] -= freq[i]
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
                where[(a, b)].discard(i)
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            vocab_words[i] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += freq[i]
                where[(a, b)].add(i)
        del where[best]
        if (m + 1) % 500 == 0:
            log(f"bpe: {m + 1} merges")
    return merges


class Encoder:
    def __init__(self, merges):
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        alphabet = [BYTE_ENCODER[b] for b in range(256)]
        # ids: the 256 byte symbols in GPT-2's order, then one per merge, then <|endoftext|>
        order = list(bytes_to_unicode().values())
        self.vocab = {s: i for i, s in enumerate(order)}
        for a, b in merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.vocab[EOT] = len(self.vocab)
        self.inverse = {i: s for s, i in self.vocab.items()}
        self.byte_decoder = {c: b for b, c in BYTE_ENCODER.items()}
        assert all(c in self.vocab for c in alphabet)
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks.get((a, b), 1 << 30), k) for k, (a, b) in enumerate(zip(parts, parts[1:]))]
            r, k = min(ranked)
            if r == 1 << 30:
                break
            a, b = parts[k], parts[k + 1]
            out, j = [], 0
            while j < len(parts):  # merge every occurrence of (a, b), left to right
                if j + 1 < len(parts) and parts[j] == a and parts[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(parts[j])
                    j += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for w in words(text):
            ids.extend(self.bpe(w))
        return ids

    def decode(self, ids):
        data = bytes(self.byte_decoder[c] for i in ids for c in self.inverse[i] if i != self.vocab[EOT])
        return data.decode("utf-8", errors="replace")


def save(enc, merges, out_dir):
    """tokenizer.json (Hugging Face), vocab.json and merges.txt (OpenAI / HF slow tokenizer)."""
    eot = enc.vocab[EOT]
    merge_strings = [f"{a} {b}" for a, b in merges]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eot, "content": EOT, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": enc.vocab, "merges": merge_strings},
    }
    with open(f"{out_dir}/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    with open(f"{out_dir}/vocab.json", "w", encoding="utf-8") as f:
        json.dump(enc.vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(f"{out_dir}/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in merge_strings:
            f.write(m + "\n")
