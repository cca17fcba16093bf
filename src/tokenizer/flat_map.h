// Open-addressing hash maps for the tokenizer's two big tables: vocabulary strings -> ids
// (128k-150k entries for Llama 3 and Qwen) and merge pairs -> (rank, merged id) (280k). Node-based
// std::unordered_map spends most of a tokenizer's load time on allocations and pointer chasing;
// these keep every entry in one array (strings in one buffer) and probe linearly.
//
//   TokenMap vocab;  vocab.reserve(n);
//   vocab.insert("hello", 31373);                 // returns the id already there, or -1 if new
//   const int32_t* id = vocab.find("hello");      // nullptr when absent
//   PairMap merges;  merges.insert(key, {rank, merged});
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

inline uint64_t hash_bytes(std::string_view s) {
    // FNV-1a over 8-byte words then bytes, with a final avalanche (splitmix64's): cheap for the
    // short strings of a vocabulary, and well spread.
    uint64_t h = 0xcbf29ce484222325ull ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < s.size(); ++i)
        h = (h ^ uint8_t(s[i])) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

class TokenMap {
  public:
    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2)
            cap *= 2;
        if (cap > slots_.size()) rehash(cap);
    }
    // Inserts key -> value; returns the value already held for the key, or -1 when it was new.
    int32_t insert(std::string_view key, int32_t value) {
        if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
        const uint64_t h = hash_bytes(key);
        for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
            Slot& s = slots_[i];
            if (s.value < 0) {
                s = {uint32_t(keys_.size()), uint32_t(key.size()), value, uint32_t(h)};
                keys_.append(key);
                ++size_;
                return -1;
            }
            if (s.tag == uint32_t(h) && key_of(s) == key) return s.value;
        }
    }
    // Sets key -> value whether or not it is present.
    void assign(std::string_view key, int32_t value) {
        if (insert(key, value) < 0) return;
        const uint64_t h = hash_bytes(key);
        for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1))
            if (slots_[i].tag == uint32_t(h) && key_of(slots_[i]) == key) {
                slots_[i].value = value;
                return;
            }
    }
    const int32_t* find(std::string_view key) const { return find(key, hash_bytes(key)); }
    // With the key's hash computed beforehand (hash()), after prefetch(hash) has asked for its slot.
    static uint64_t hash(std::string_view key) { return hash_bytes(key); }
    void prefetch(uint64_t h) const {
        if (!slots_.empty()) __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
    }
    const int32_t* find(std::string_view key, uint64_t h) const {
        if (slots_.empty()) return nullptr;
        for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
            const Slot& s = slots_[i];
            if (s.value < 0) return nullptr;
            if (s.tag == uint32_t(h) && key_of(s) == key) return &s.value;
        }
    }
    size_t size() const { return size_; }
    void clear() {
        slots_.assign(slots_.size(), Slot{});
        keys_.clear();
        size_ = 0;
    }
    template <class F> void for_each(F&& f) const {
        for (const Slot& s : slots_)
            if (s.value >= 0) f(key_of(s), s.value);
    }

  private:
    struct Slot {
        uint32_t offset = 0, length = 0;
        int32_t value = -1; // -1: empty
        uint32_t tag = 0;   // low bits of the hash
    };
    std::string_view key_of(const Slot& s) const { return {keys_.data() + s.offset, s.length}; }
    void rehash(size_t cap) {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(cap, Slot{});
        for (const Slot& s : old) {
            if (s.value < 0) continue;
            const uint64_t h = hash_bytes(key_of(s));
            size_t i = h & (cap - 1);
            while (slots_[i].value >= 0)
                i = (i + 1) & (cap - 1);
            slots_[i] = s;
        }
    }
    std::vector<Slot> slots_;
    std::string keys_;
    size_t size_ = 0;
};

// Words -> the ids BPE gave them: a TokenMap to an entry, entries' ids end to end in one vector.
class WordCache {
  public:
    // Appends the cached ids of `word` to `out`; false when it is not cached.
    bool get(std::string_view word, std::vector<int32_t>& out) const {
        const int32_t* e = index_.find(word);
        if (!e) return false;
        const uint32_t b = begin_[size_t(*e)], end = begin_[size_t(*e) + 1];
        out.insert(out.end(), ids_.begin() + b, ids_.begin() + end);
        return true;
    }
    void put(std::string_view word, const int32_t* ids, size_t n) {
        if (index_.size() >= kMaxWords || ids_.size() + n > kMaxIds) clear();
        if (index_.insert(word, int32_t(begin_.size() - 1)) >= 0) return; // there already
        ids_.insert(ids_.end(), ids, ids + n);
        begin_.push_back(uint32_t(ids_.size()));
    }
    void clear() {
        index_.clear();
        ids_.clear();
        begin_.assign(1, 0);
    }

  private:
    static constexpr size_t kMaxWords = size_t(1) << 18, kMaxIds = size_t(1) << 22;
    TokenMap index_;
    std::vector<uint32_t> begin_{0}; // entry e's ids: [begin_[e], begin_[e + 1])
    std::vector<int32_t> ids_;
};

// (left id, right id) packed in 64 bits -> (rank, merged id).
class PairMap {
  public:
    struct Value {
        int32_t rank, merged;
    };
    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2)
            cap *= 2;
        if (cap > slots_.size()) rehash(cap);
    }
    // Sets key -> value (a repeated key takes the later value).
    void assign(uint64_t key, Value v) {
        if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
        for (size_t i = slot(key);; i = (i + 1) & (slots_.size() - 1)) {
            Slot& s = slots_[i];
            if (s.key == kEmpty) {
                s = {key, v};
                ++size_;
                return;
            }
            if (s.key == key) {
                s.value = v;
                return;
            }
        }
    }
    void prefetch(uint64_t key) const {
        if (!slots_.empty()) __builtin_prefetch(&slots_[slot(key)]);
    }
    const Value* find(uint64_t key) const {
        if (slots_.empty()) return nullptr;
        for (size_t i = slot(key);; i = (i + 1) & (slots_.size() - 1)) {
            const Slot& s = slots_[i];
            if (s.key == key) return &s.value;
            if (s.key == kEmpty) return nullptr;
        }
    }
    size_t size() const { return size_; }

  private:
    static constexpr uint64_t kEmpty = ~uint64_t(0);
    struct Slot {
        uint64_t key = kEmpty;
        Value value{};
    };
    size_t slot(uint64_t key) const {
        uint64_t h = key * 0x9E3779B97F4A7C15ull;
        return size_t(h ^ (h >> 32)) & (slots_.size() - 1);
    }
    void rehash(size_t cap) {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(cap, Slot{});
        for (const Slot& s : old) {
            if (s.key == kEmpty) continue;
            size_t i = slot(s.key);
            while (slots_[i].key != kEmpty)
                i = (i + 1) & (cap - 1);
            slots_[i] = s;
        }
    }
    std::vector<Slot> slots_;
    size_t size_ = 0;
};

} // namespace attnscope
