// Byte-level BPE, GPT-2 style. Three steps turn text into ids:
//   1. pre-tokenization: GPT-2's pattern splits the text into words (PCRE2 with UTF and Unicode
//      properties, so \p{L}, \p{N} and \s are the full Unicode classes); bytes that are not valid
//      UTF-8 match nothing and become one-byte words, so any input is accepted;
//   2. each word's bytes start as one symbol per byte (the byte's vocabulary token);
//   3. merges: repeatedly merge the adjacent pair with the lowest merge rank (leftmost first on
//      ties) until no pair has a rank. With a heap this is O(n log n) per word, and gives the
//      same result as OpenAI's encoder (lowest rank first, every occurrence left to right).
// Words repeat a lot in text, so results are cached per word. Reading the vocabulary checks
// every entry: merges must name known tokens, ids must be unique, and every byte needs a token.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/mmap.h"
#include "core/utf8.h"
#include "io/json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <queue>
#include <unordered_map>

namespace attnscope {

namespace {

// GPT-2's pre-tokenization pattern: contractions, letters, numbers, other symbols, whitespace.
constexpr const char* kPattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr size_t kMaxCachedWords = 1 << 18;

struct ByteTables {
    uint32_t to_unicode[256];
    std::unordered_map<uint32_t, uint8_t> to_byte;
    ByteTables() {
        // printable ranges map to themselves; the other 68 bytes to U+0100.. in byte order
        auto printable = [](int b) {
            return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b)
            to_unicode[b] = printable(b) ? uint32_t(b) : next++;
        for (int b = 0; b < 256; ++b)
            to_byte[to_unicode[b]] = uint8_t(b);
    }
};
const ByteTables& byte_tables() {
    static const ByteTables t;
    return t;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// A vocabulary string ("Ġthe") back to the bytes it stands for (" the"); false if a character
// is not one of the 256 byte symbols.
bool vocab_string_to_bytes(const std::string& s, std::string* out) {
    const auto& to_byte = byte_tables().to_byte;
    out->clear();
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_length(s, i);
        if (n == 0) return false;
        uint32_t cp = uint8_t(s[i]);
        if (n > 1) {
            cp &= (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
            for (size_t k = 1; k < n; ++k)
                cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
        }
        auto it = to_byte.find(cp);
        if (it == to_byte.end()) return false;
        *out += char(it->second);
        i += n;
    }
    return true;
}

uint64_t pair_key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

bool is_special_name(const std::string& s) {
    return s.size() > 4 && s.rfind("<|", 0) == 0 && s.substr(s.size() - 2) == "|>";
}

} // namespace

uint32_t byte_to_unicode(uint8_t b) {
    return byte_tables().to_unicode[b];
}

struct Tokenizer::Impl {
    std::string source;
    std::unordered_map<std::string, int32_t> vocab; // vocabulary string -> id
    std::vector<std::string> token_bytes;           // id -> the bytes it stands for
    std::vector<bool> is_special;                   // id -> special (added) token
    int32_t byte_token[256];
    struct Merge {
        int32_t rank, merged;
    };
    std::unordered_map<uint64_t, Merge> merges;
    std::vector<std::pair<std::string, int32_t>> specials; // content -> id, longest first
    bool add_prefix_space = false;
    pcre2_code* re = nullptr;

    mutable std::mutex cache_mutex;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

    ~Impl() {
        if (re) pcre2_code_free(re);
    }

    void compile() {
        int err = 0;
        PCRE2_SIZE off = 0;
        re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw Error(cat("tokenizer: cannot compile the pre-tokenization pattern: ", reinterpret_cast<char*>(msg)));
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); // falls back to the interpreter if JIT is unavailable
    }

    void add_token(const std::string& name, int64_t id, bool special, const std::string& where) {
        if (id < 0 || id >= (int64_t(1) << 24))
            throw Error(cat(where, ": token '", name, "' has id ", id, ", expected 0 <= id < 16777216"));
        if (size_t(id) >= token_bytes.size()) {
            token_bytes.resize(size_t(id) + 1);
            is_special.resize(size_t(id) + 1, false);
        }
        auto [it, fresh] = vocab.emplace(name, int32_t(id));
        if (!fresh && it->second != id)
            throw Error(cat(where, ": token '", name, "' appears with two ids, ", it->second, " and ", id));
        std::string bytes;
        if (special || !vocab_string_to_bytes(name, &bytes)) bytes = name; // added tokens are plain text
        token_bytes[size_t(id)] = bytes;
        if (special) {
            is_special[size_t(id)] = true;
            specials.emplace_back(name, int32_t(id));
        }
    }

    void add_merge(const std::string& a, const std::string& b, const std::string& where) {
        auto find = [&](const std::string& t) {
            auto it = vocab.find(t);
            if (it == vocab.end())
                throw Error(cat(where, ": merge '", a, " ", b, "' names '", t, "', which is not in the vocabulary"),
                            "the merges and the vocabulary come from different tokenizers");
            return it->second;
        };
        const int32_t ia = find(a), ib = find(b), im = find(a + b);
        merges.emplace(pair_key(ia, ib), Merge{int32_t(merges.size()), im}); // first occurrence keeps its rank
    }

    void finish() {
        for (int b = 0; b < 256; ++b) {
            std::string s;
            append_utf8(s, byte_tables().to_unicode[b]);
            auto it = vocab.find(s);
            if (it == vocab.end())
                throw Error(cat(source, ": the vocabulary has no token for byte ", b, " ('", s, "')"),
                            "a byte-level BPE vocabulary holds all 256 byte symbols");
            byte_token[b] = it->second;
        }
        std::sort(specials.begin(), specials.end(), [](auto& x, auto& y) { return x.first.size() > y.first.size(); });
        compile();
    }

    // BPE over one pre-tokenized word (raw bytes), appending ids to `out`.
    void bpe_word(std::string_view word, std::vector<int32_t>& out) const {
        if (word.size() == 1) {
            out.push_back(byte_token[uint8_t(word[0])]);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(cache_mutex);
            auto it = cache.find(std::string(word));
            if (it != cache.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        struct Sym {
            int32_t id;
            int32_t prev, next;
        };
        const int32_t n = int32_t(word.size());
        std::vector<Sym> sym(static_cast<size_t>(n));
        for (int32_t i = 0; i < n; ++i)
            sym[size_t(i)] = {byte_token[uint8_t(word[size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1};
        struct Cand {
            int32_t rank, left, left_id, right_id;
            bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
        };
        std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
        auto consider = [&](int32_t left) {
            if (left < 0) return;
            const int32_t right = sym[size_t(left)].next;
            if (right < 0) return;
            auto it = merges.find(pair_key(sym[size_t(left)].id, sym[size_t(right)].id));
            if (it != merges.end()) heap.push({it->second.rank, left, sym[size_t(left)].id, sym[size_t(right)].id});
        };
        for (int32_t i = 0; i + 1 < n; ++i)
            consider(i);
        while (!heap.empty()) {
            const Cand c = heap.top();
            heap.pop();
            Sym& l = sym[size_t(c.left)];
            if (l.id != c.left_id || l.next < 0 || sym[size_t(l.next)].id != c.right_id) continue; // stale
            Sym& r = sym[size_t(l.next)];
            l.id = merges.at(pair_key(c.left_id, c.right_id)).merged;
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
        std::lock_guard<std::mutex> lock(cache_mutex);
        if (cache.size() >= kMaxCachedWords) cache.clear();
        cache.emplace(std::string(word), std::move(ids));
    }

    // Pre-tokenize `text` (no special tokens in it) and BPE every word.
    void encode_plain(std::string_view text, std::vector<int32_t>& out) const {
        if (text.empty()) return;
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
        if (!md) throw Error("tokenizer: out of memory");
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
        size_t pos = 0;
        while (pos < text.size()) {
            const int rc = pcre2_match(re, subject, text.size(), pos, 0, md, nullptr);
            size_t start = text.size(), end = text.size();
            if (rc > 0) {
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                start = ov[0];
                end = ov[1];
            } else if (rc != PCRE2_ERROR_NOMATCH) {
                pcre2_match_data_free(md);
                throw Error(cat("tokenizer: pattern matching failed (PCRE2 error ", rc, ") at byte ", pos));
            }
            for (; pos < start; ++pos)
                bpe_word(text.substr(pos, 1), out); // bytes no pattern matched: invalid UTF-8
            if (end == start) {                     // cannot happen with GPT-2's pattern; never loop forever
                if (start < text.size()) bpe_word(text.substr(start, 1), out);
                pos = start + 1;
                continue;
            }
            bpe_word(text.substr(start, end - start), out);
            pos = end;
        }
        pcre2_match_data_free(md);
    }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->source = path;
    const nlohmann::json j = read_json_file(path);
    if (!j.is_object()) throw Error(cat(path, ": expected a JSON object, found ", j.type_name()));
    auto model = j.find("model");
    if (model == j.end() || !model->is_object())
        throw Error(cat(path, ": missing object 'model'"), "is this a Hugging Face tokenizer.json?");
    const std::string type = json_string_or(*model, "type", path, "BPE");
    if (type != "BPE")
        throw Error(cat(path, ": model type '", type, "' is not supported; expected 'BPE'"),
                    "attnscope reads byte-level BPE tokenizers (GPT-2 family)");
    for (const char* key : {"pre_tokenizer", "decoder"}) {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) continue;
        const std::string t = json_string_or(*it, "type", path, "");
        if (t != "ByteLevel")
            throw Error(cat(path, ": ", key, " type '", t, "' is not supported; expected 'ByteLevel'"),
                        "attnscope reads byte-level BPE tokenizers (GPT-2 family)");
        if (std::string(key) == "pre_tokenizer") {
            impl->add_prefix_space = json_bool_or(*it, "add_prefix_space", path, false);
            if (!json_bool_or(*it, "use_regex", path, true))
                throw Error(cat(path, ": pre_tokenizer use_regex = false is not supported"));
        }
    }
    auto vocab = model->find("vocab");
    if (vocab == model->end() || !vocab->is_object()) throw Error(cat(path, ": missing object 'model.vocab'"));
    for (const auto& [tok, id] : vocab->items()) {
        if (!id.is_number_integer())
            throw Error(cat(path, ": model.vocab['", tok, "'] must be an integer id, found ", id.type_name()));
        impl->add_token(tok, id.get<int64_t>(), false, path);
    }
    if (auto added = j.find("added_tokens"); added != j.end() && added->is_array()) {
        for (const auto& t : *added) {
            if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id") ||
                !t["id"].is_number_integer())
                throw Error(
                    cat(path, ": added_tokens entries need a string 'content' and an integer 'id', found ", t.dump()));
            impl->add_token(t["content"].get<std::string>(), t["id"].get<int64_t>(),
                            json_bool_or(t, "special", path, true), path);
        }
    }
    auto merges = model->find("merges");
    if (merges == model->end() || !merges->is_array()) throw Error(cat(path, ": missing array 'model.merges'"));
    size_t k = 0;
    for (const auto& m : *merges) {
        const std::string where = cat(path, ": merge ", k++);
        if (m.is_string()) { // "a b"
            const std::string s = m.get<std::string>();
            const size_t sp = s.find(' ');
            if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size() || s.find(' ', sp + 1) != std::string::npos)
                throw Error(cat(where, ": '", s, "' is not two tokens separated by one space"));
            impl->add_merge(s.substr(0, sp), s.substr(sp + 1), where);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) { // ["a", "b"]
            impl->add_merge(m[0].get<std::string>(), m[1].get<std::string>(), where);
        } else {
            throw Error(cat(where, ": expected \"a b\" or [\"a\", \"b\"], found ", m.dump()));
        }
    }
    impl->finish();
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_vocab_merges(const std::string& vocab_path, const std::string& merges_path) {
    auto impl = std::make_unique<Impl>();
    impl->source = vocab_path + " + " + merges_path;
    const nlohmann::json v = read_json_file(vocab_path);
    if (!v.is_object()) throw Error(cat(vocab_path, ": expected a JSON object {token: id}, found ", v.type_name()));
    for (const auto& [tok, id] : v.items()) {
        if (!id.is_number_integer())
            throw Error(cat(vocab_path, ": '", tok, "' must map to an integer id, found ", id.type_name()));
        impl->add_token(tok, id.get<int64_t>(), is_special_name(tok), vocab_path);
    }
    MappedFile f(merges_path);
    const std::string_view text(reinterpret_cast<const char*>(f.data()), f.size());
    size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string line(text.substr(pos, eol - pos));
        pos = eol + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
        const std::string where = cat(merges_path, ": line ", line_no);
        const size_t sp = line.find(' ');
        if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() || line.find(' ', sp + 1) != std::string::npos)
            throw Error(cat(where, ": '", line.substr(0, 80), "' is not two tokens separated by one space"));
        impl->add_merge(line.substr(0, sp), line.substr(sp + 1), where);
    }
    impl->finish();
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load(const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path d(dir);
    if (fs::exists(d / "tokenizer.json")) return from_tokenizer_json((d / "tokenizer.json").string());
    if (fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt"))
        return from_vocab_merges((d / "vocab.json").string(), (d / "merges.txt").string());
    throw Error(cat(dir, ": no tokenizer.json, and no vocab.json + merges.txt"),
                "a model directory needs its tokenizer files (from the same Hugging Face repository)");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
    std::vector<int32_t> out;
    std::string prefixed;
    if (impl_->add_prefix_space && !text.empty() && text[0] != ' ') {
        prefixed.reserve(text.size() + 1);
        prefixed += ' ';
        prefixed += text;
        text = prefixed;
    }
    if (!options.allow_special || impl_->specials.empty()) {
        impl_->encode_plain(text, out);
        return out;
    }
    size_t pos = 0;
    while (pos < text.size()) {
        size_t best = std::string_view::npos;
        const std::pair<std::string, int32_t>* which = nullptr;
        for (const auto& sp : impl_->specials) { // longest first, so the earliest longest wins
            const size_t at = text.find(sp.first, pos);
            if (at != std::string_view::npos && (best == std::string_view::npos || at < best)) {
                best = at;
                which = &sp;
            }
        }
        if (!which) break;
        impl_->encode_plain(text.substr(pos, best - pos), out);
        out.push_back(which->second);
        pos = best + which->first.size();
    }
    impl_->encode_plain(text.substr(pos), out);
    return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) {
        if (id < 0 || size_t(id) >= impl_->token_bytes.size())
            throw Error(
                cat("decode: token id ", id, " is outside the vocabulary [0, ", impl_->token_bytes.size(), ")"));
        out += impl_->token_bytes[size_t(id)];
    }
    return out;
}

std::string Tokenizer::display(int32_t id) const {
    if (id < 0 || size_t(id) >= impl_->token_bytes.size()) return cat("<", id, "?>");
    const std::string& b = impl_->token_bytes[size_t(id)];
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (size_t i = 0; i < b.size();) {
        const auto c = uint8_t(b[i]);
        const size_t n = utf8_length(b, i);
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\r')
            out += "\\r";
        else if (n == 0 || c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out.append(b, i, n);
            i += n;
            continue;
        }
        ++i;
    }
    return out;
}

std::vector<std::string> Tokenizer::display(const std::vector<int32_t>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int32_t id : ids)
        out.push_back(display(id));
    return out;
}

int32_t Tokenizer::vocab_size() const {
    return int32_t(impl_->token_bytes.size());
}

std::optional<int32_t> Tokenizer::token_id(const std::string& token) const {
    auto it = impl_->vocab.find(token);
    if (it == impl_->vocab.end()) return std::nullopt;
    return it->second;
}

const std::string& Tokenizer::source() const {
    return impl_->source;
}

} // namespace attnscope
