// BPE, as Hugging Face's BPE model applies it to one word: start from one symbol per byte
// (byte-level vocabularies, whose strings stand for bytes: "Ġthe" is " the") or per character
// (SentencePiece ones: a character missing from the vocabulary falls back to its <0xNN> byte
// tokens, or becomes unk, consecutive unks fused when fuse_unk), then repeatedly merge the
// adjacent pair of lowest merge rank, leftmost first on ties, until no pair has a rank. A heap of
// candidate pairs makes that O(n log n) per word. ignore_merges (Llama 3) first looks the whole
// word up: some of its tokens no merge reaches. Results are cached per word.
#include "core/error.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/stages.h"

#include <algorithm>
#include <queue>

namespace attnscope {

namespace {

constexpr size_t kMaxCachedWordBytes = 256;
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81"; // U+2581, SentencePiece's space

uint64_t pair_key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

} // namespace

void BpeModel::read(const TokenizerFile& f, bool byte_level_vocabulary) {
    byte_level = byte_level_vocabulary;
    const std::string where = f.source + ": model";
    const nlohmann::json& m = f.model;
    const std::string type = json_string_or(m, "type", where, "BPE");
    if (type != "BPE")
        throw Error(cat(where, ": model type '", type, "' is not supported; expected 'BPE'"),
                    "attnscope reads BPE tokenizers (GPT-2, Llama, Mistral, Qwen families)");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (!json_string_or(m, k, where, "").empty())
            throw Error(cat(where, ": ", k, " '", m[k].get<std::string>(), "' is not supported"),
                        "attnscope reads BPE models without subword prefixes or suffixes");
    if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"].get<double>() == 0))
        throw Error(cat(where, ": dropout ", m["dropout"].dump(), " is not supported (it makes tokenization random)"));
    byte_fallback_ = json_bool_or(m, "byte_fallback", where, false);
    fuse_unk_ = json_bool_or(m, "fuse_unk", where, false);
    ignore_merges_ = json_bool_or(m, "ignore_merges", where, false);
    vocab.reserve(f.n_vocab() + f.added_tokens.size());
    for (size_t i = 0; i < f.n_vocab(); ++i) {
        const std::string_view name = f.vocab_tokens[i];
        const int64_t id = f.vocab_ids[i];
        if (id < 0 || id >= (int64_t(1) << 24))
            throw Error(cat(where, ".vocab: token '", name, "' has id ", id, ", expected 0 <= id < 16777216"));
        const int32_t before = vocab.insert(name, int32_t(id));
        if (before >= 0 && before != id)
            throw Error(cat(where, ".vocab: token '", name, "' appears with two ids, ", before, " and ", id));
        max_id = std::max(max_id, int32_t(id));
    }
    const std::string unk = json_string_or(m, "unk_token", where, "");
    if (!unk.empty()) {
        const int32_t* id = vocab.find(unk);
        if (!id) throw Error(cat(where, ".unk_token: '", unk, "' is not in the vocabulary"));
        unk_id_ = *id;
    }
    // Three lookups per merge (left, right, and both joined: adjacent in the table), the bulk
    // of a large tokenizer's load: threads share them, and each looks a batch of keys' slots up
    // ahead (prefetch) so that the cache misses overlap.
    const size_t n = f.n_merges();
    std::vector<int32_t> ids(3 * n);
    const StringTable& parts = f.merge_parts;
#pragma omp parallel for schedule(static) if (n > 20000)
    for (size_t k0 = 0; k0 < n; k0 += 16) {
        const size_t k1 = std::min(n, k0 + 16);
        uint64_t h[48];
        for (size_t k = k0; k < k1; ++k) {
            const std::string_view keys[3] = {parts[2 * k], parts[2 * k + 1], parts.joined(2 * k)};
            for (int j = 0; j < 3; ++j) {
                h[3 * (k - k0) + size_t(j)] = vocab.hash(keys[j]);
                vocab.prefetch(h[3 * (k - k0) + size_t(j)]);
            }
        }
        for (size_t k = k0; k < k1; ++k) {
            const std::string_view keys[3] = {parts[2 * k], parts[2 * k + 1], parts.joined(2 * k)};
            for (int j = 0; j < 3; ++j) {
                const int32_t* id = vocab.find(keys[j], h[3 * (k - k0) + size_t(j)]);
                ids[3 * k + size_t(j)] = id ? *id : -1;
            }
        }
    }
    merges_.reserve(n);
    for (size_t k = 0; k < n; ++k) {
        for (int j = 0; j < 3; ++j)
            if (ids[3 * k + size_t(j)] < 0) {
                const std::string t(j == 2 ? parts.joined(2 * k) : parts[2 * k + size_t(j)]);
                throw Error(cat(where, ".merges: merge ", k, " '", parts[2 * k], " ", parts[2 * k + 1], "' names '", t,
                                "', which is not in the vocabulary"),
                            "the merges and the vocabulary come from different tokenizers");
            }
        if (k + 8 < n) merges_.prefetch(pair_key(ids[3 * (k + 8)], ids[3 * (k + 8) + 1]));
        // a repeated pair takes its last rank, as Hugging Face's map of merges does
        merges_.assign(pair_key(ids[3 * k], ids[3 * k + 1]), {int32_t(k), ids[3 * k + 2]});
    }
}

void BpeModel::finish(const std::string& where) {
    if (byte_level) {
        for (int b = 0; b < 256; ++b) {
            std::string s;
            append_byte_symbol(s, uint8_t(b));
            const int32_t* id = vocab.find(s);
            if (!id)
                throw Error(cat(where, ": the vocabulary has no token for byte ", b, " ('", s, "')"),
                            "a byte-level BPE vocabulary holds all 256 byte symbols");
            byte_token_[b] = *id;
        }
    }
    for (int b = 0; b < 256; ++b) {
        static const char* hex = "0123456789ABCDEF";
        const std::string name = cat("<0x", hex[b >> 4], hex[b & 15], ">");
        const int32_t* id = vocab.find(name);
        fallback_token_[b] = id ? *id : -1;
    }
    if (!byte_level) { // may words be cut before "▁" (see stages.h)?
        bool safe = vocab.find(kSpaceSymbol) != nullptr;
        vocab.for_each([&](std::string_view name, int32_t) {
            size_t lead = 0;
            while (name.compare(lead, 3, kSpaceSymbol) == 0)
                lead += 3;
            if (name.find(kSpaceSymbol, lead) != std::string_view::npos) safe = false;
        });
        cut_before_space_symbol_ = safe;
    }
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
    if (!cut_before_space_symbol_) {
        bpe(word, out);
        return;
    }
    size_t start = 0;
    for (size_t at = word.find(kSpaceSymbol, 1); at != std::string_view::npos; at = word.find(kSpaceSymbol, at + 3)) {
        const bool in_run = at >= 3 && word.compare(at - 3, 3, kSpaceSymbol) == 0;
        if (in_run) continue; // "▁▁" stays together
        bpe(word.substr(start, at - start), out);
        start = at;
    }
    bpe(word.substr(start), out);
}

void BpeModel::bpe(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (byte_level && word.size() == 1) {
        out.push_back(byte_token_[uint8_t(word[0])]);
        return;
    }
    // a word's ids do not change: the cache answers first, whichever way they were found
    const bool cached = word.size() <= kMaxCachedWordBytes;
    if (cached) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.get(word, out)) return;
    }
    if (ignore_merges_) { // the whole word, if it is a token (byte-level: spelled with byte symbols)
        const int32_t* id = nullptr;
        if (byte_level) {
            std::string spelled;
            for (char c : word)
                append_byte_symbol(spelled, uint8_t(c));
            id = vocab.find(spelled);
        } else {
            id = vocab.find(word);
        }
        if (id) {
            out.push_back(*id);
            if (cached) {
                std::lock_guard<std::mutex> lock(cache_mutex_);
                cache_.put(word, id, 1);
            }
            return;
        }
    }
    struct Sym {
        int32_t id;
        int32_t prev, next;
    };
    std::vector<Sym> sym;
    sym.reserve(word.size());
    auto push = [&](int32_t id) {
        const int32_t i = int32_t(sym.size());
        if (i > 0) sym.back().next = i;
        sym.push_back({id, i - 1, -1});
    };
    if (byte_level) {
        for (char c : word)
            push(byte_token_[uint8_t(c)]);
    } else {
        int32_t pending_unk = -1; // fused unknown characters wait here
        for (size_t i = 0; i < word.size();) {
            const size_t n0 = utf8_length(word, i), n = n0 ? n0 : 1;
            const std::string_view ch = word.substr(i, n);
            i += n;
            if (const int32_t* id = vocab.find(ch)) {
                if (pending_unk >= 0) push(pending_unk), pending_unk = -1;
                push(*id);
                continue;
            }
            if (byte_fallback_) {
                bool all = true;
                for (char c : ch)
                    all = all && fallback_token_[uint8_t(c)] >= 0;
                if (all) {
                    if (pending_unk >= 0) push(pending_unk), pending_unk = -1;
                    for (char c : ch)
                        push(fallback_token_[uint8_t(c)]);
                    continue;
                }
            }
            if (unk_id_ < 0) continue; // no unknown token: the character is dropped, as in Hugging Face
            if (pending_unk >= 0 && !fuse_unk_) push(pending_unk);
            pending_unk = unk_id_;
        }
        if (pending_unk >= 0) push(pending_unk);
    }
    if (sym.empty()) return;
    struct Cand {
        int32_t rank, left, left_id, right_id;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = sym[size_t(left)].next;
        if (right < 0) return;
        if (const PairMap::Value* m = merges_.find(pair_key(sym[size_t(left)].id, sym[size_t(right)].id)))
            heap.push({m->rank, left, sym[size_t(left)].id, sym[size_t(right)].id});
    };
    for (int32_t i = 0; i + 1 < int32_t(sym.size()); ++i)
        consider(i);
    while (!heap.empty()) {
        const Cand c = heap.top();
        heap.pop();
        Sym& l = sym[size_t(c.left)];
        if (l.id != c.left_id || l.next < 0 || sym[size_t(l.next)].id != c.right_id) continue; // stale
        Sym& r = sym[size_t(l.next)];
        l.id = merges_.find(pair_key(c.left_id, c.right_id))->merged;
        r.id = -1;
        l.next = r.next;
        if (r.next >= 0) sym[size_t(r.next)].prev = c.left;
        consider(l.prev);
        consider(c.left);
    }
    std::vector<int32_t> ids;
    for (int32_t i = 0; i >= 0; i = sym[size_t(i)].next)
        ids.push_back(sym[size_t(i)].id);
    out.insert(out.end(), ids.begin(), ids.end());
    if (!cached) return;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    cache_.put(word, ids.data(), ids.size());
}

} // namespace attnscope
