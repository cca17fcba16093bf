// The tokenizer pipeline of Hugging Face's fast tokenizers, interpreted from a tokenizer.json's own
// description. Text becomes ids in five steps, as in the `tokenizers` library:
//   1. added tokens are found in the raw text first (leftmost, longest; lstrip/rstrip take the
//      whitespace beside them); the text between them is processed on its own;
//   2. the normalizer rewrites each such piece (Unicode NFC/NFKC, Replace, Prepend "▁", ...);
//   3. the pre-tokenizer cuts it into words (Split by a regex — PCRE2 with Unicode properties,
//      `\s` rewritten to Unicode's White_Space as Hugging Face's Oniguruma reads it — ByteLevel,
//      Metaspace, Digits);
//   4. BPE turns each word into tokens: start from one symbol per byte (byte-level vocabularies)
//      or per character (SentencePiece ones: unknown characters fall back to <0xNN> byte tokens,
//      or to unk), then repeatedly merge the adjacent pair of lowest merge rank, leftmost first on
//      ties (a heap: O(n log n) per word); `ignore_merges` first looks the whole word up;
//   5. the post-processor adds what its template says (BOS) when special tokens are asked for.
// Byte-level vocabularies are kept as the bytes their strings stand for ("Ġthe" -> " the"), so
// words are matched as raw bytes. Results are cached per word; words repeat a lot in text.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/mmap.h"
#include "core/utf8.h"
#include "io/gguf.h"
#include "io/json.h"
#include "tokenizer/flat_map.h"
#include "tokenizer/tokenizer_file.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <glib.h>
#include <pcre2.h>

#include <algorithm>
#include <cstring>
#include <forward_list>
#include <filesystem>
#include <mutex>
#include <queue>
#include <unordered_map>

namespace attnscope {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81"; // U+2581, SentencePiece's space
constexpr size_t kMaxCachedWordBytes = 256;

struct ByteTables {
    uint32_t to_unicode[256];
    int16_t to_byte[324]; // code point -> byte, -1 if it is not a byte symbol (they are all < U+0144)
    ByteTables() {
        // printable ranges map to themselves; the other 68 bytes to U+0100.. in byte order
        auto printable = [](int b) {
            return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        uint32_t next = 256;
        for (int b = 0; b < 256; ++b)
            to_unicode[b] = printable(b) ? uint32_t(b) : next++;
        std::fill(std::begin(to_byte), std::end(to_byte), int16_t(-1));
        for (int b = 0; b < 256; ++b)
            to_byte[to_unicode[b]] = int16_t(b);
    }
};
const ByteTables& byte_tables() {
    static const ByteTables t;
    return t;
}

// A vocabulary string ("Ġthe") back to the bytes it stands for (" the"); false if a character
// is not one of the 256 byte symbols.
bool vocab_string_to_bytes(std::string_view s, std::string* out) {
    const auto& to_byte = byte_tables().to_byte;
    out->clear();
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_length(s, i);
        if (n == 0 || n > 2) return false;
        const uint32_t cp = decode_utf8(s, i, n);
        if (cp >= 324 || to_byte[cp] < 0) return false;
        *out += char(to_byte[cp]);
        i += n;
    }
    return true;
}

// Unicode's White_Space property, which is what Rust's char::is_whitespace and Oniguruma's \s
// (the regex engine of Hugging Face's tokenizers) mean: U+0085 is whitespace, U+180E, U+200B and
// U+FEFF are not (PCRE2's own \s takes U+180E; JavaScript's takes U+FEFF).
bool is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
constexpr const char* kWhiteSpaceClass = R"(\t-\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000})";

// A pattern as Hugging Face's regex engine reads it, for PCRE2: \s and \S become White_Space.
std::string translate_regex(const std::string& re, const std::string& where) {
    std::string out;
    bool in_class = false;
    for (size_t i = 0; i < re.size(); ++i) {
        const char c = re[i];
        if (c == '\\' && i + 1 < re.size()) {
            const char n = re[++i];
            if (n == 's') {
                out += in_class ? std::string(kWhiteSpaceClass) : cat("[", kWhiteSpaceClass, "]");
            } else if (n == 'S') {
                if (in_class)
                    throw Error(cat(where, ": the pattern '", re, "' uses \\S inside a character class"),
                                "attnscope does not translate that form; please report the model");
                out += cat("[^", kWhiteSpaceClass, "]");
            } else {
                out += c;
                out += n;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out += c;
            if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
            if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i]; // a literal ']' first in a class
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        out += c;
    }
    return out;
}

struct Regex {
    pcre2_code* code = nullptr;
    Regex() = default;
    Regex(const std::string& pattern, const std::string& where) {
        const std::string p = translate_regex(pattern, where);
        int err = 0;
        PCRE2_SIZE off = 0;
        code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw Error(cat(where, ": the regular expression '", pattern, "' does not compile: ",
                            reinterpret_cast<char*>(msg), " (at offset ", off, ")"),
                        "attnscope reads patterns with PCRE2; please report the model");
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); // falls back to the interpreter without JIT
    }
    Regex(Regex&& o) noexcept : code(o.code) { o.code = nullptr; }
    Regex& operator=(Regex&& o) noexcept {
        std::swap(code, o.code);
        return *this;
    }
    ~Regex() {
        if (code) pcre2_code_free(code);
    }
    // Every match in `s`, as (begin, end) byte offsets; empty matches are skipped.
    void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
        out.clear();
        // one match block per thread, reused: room for 32 groups (with more, PCRE2 returns 0 and
        // still sets the whole match's offsets, which is all that is read)
        struct MatchData {
            pcre2_match_data* md = pcre2_match_data_create(32, nullptr);
            ~MatchData() { pcre2_match_data_free(md); }
        };
        static thread_local MatchData scratch;
        pcre2_match_data* md = scratch.md;
        if (!md) throw Error("tokenizer: out of memory");
        const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
        size_t pos = 0;
        while (pos < s.size()) {
            const int rc = pcre2_match(code, subject, s.size(), pos, 0, md, nullptr);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) throw Error(cat("tokenizer: pattern matching failed (PCRE2 error ", rc, ") at byte ", pos));
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
            if (ov[1] == ov[0]) { // an empty match: move on by one character
                const size_t n = utf8_length(s, ov[0]);
                pos = ov[0] + (n ? n : 1);
                continue;
            }
            out.emplace_back(ov[0], ov[1]);
            pos = ov[1];
        }
    }
};

uint64_t pair_key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

bool is_special_name(const std::string& s) {
    return s.size() > 4 && s.rfind("<|", 0) == 0 && s.substr(s.size() - 2) == "|>";
}


std::string type_of(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) throw Error(cat(where, ": expected an object, found ", j.type_name()));
    auto it = j.find("type");
    if (it == j.end() || !it->is_string()) throw Error(cat(where, ": missing string field 'type'"));
    return it->get<std::string>();
}

// A Split / Replace pattern: {"String": "x"} or {"Regex": "..."}.
struct Pattern {
    std::string literal;
    std::unique_ptr<Regex> regex;
    static Pattern read(const nlohmann::json& j, const std::string& where) {
        Pattern p;
        if (j.is_object() && j.contains("String") && j["String"].is_string()) {
            p.literal = j["String"].get<std::string>();
            if (p.literal.empty()) throw Error(cat(where, ": an empty String pattern"));
        } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
            p.regex = std::make_unique<Regex>(j["Regex"].get<std::string>(), where);
        } else {
            throw Error(cat(where, ": pattern should be {\"String\": ...} or {\"Regex\": ...}, found ", j.dump()));
        }
        return p;
    }
    void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
        if (regex) return regex->find_all(s, out);
        out.clear();
        for (size_t at = s.find(literal); at != std::string_view::npos; at = s.find(literal, at + literal.size()))
            out.emplace_back(at, at + literal.size());
    }
};

struct NormalizerStep {
    enum Kind { nfc, nfkc, nfd, nfkd, replace, prepend, lowercase, strip } kind;
    Pattern pattern; // replace
    std::string text;  // replace: content; prepend: what is prepended
    bool left = false, right = false; // strip
};

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct PreStep {
    enum Kind { split, byte_level, metaspace } kind;
    Pattern pattern;                     // split (ByteLevel's regex, Digits as a regex)
    bool has_pattern = false;
    Behavior behavior = Behavior::isolated;
    bool invert = false;
    bool add_prefix_space = false;       // byte_level
    std::string replacement;             // metaspace
    enum Prepend { always, first, never } prepend = always;
    bool split_on_replacement = true;    // metaspace
};

// A piece of text during pre-tokenization; `first` when it starts at the start of the input.
struct Piece {
    std::string_view text;
    bool first;
};

} // namespace

uint32_t byte_to_unicode(uint8_t b) {
    return byte_tables().to_unicode[b];
}

struct Tokenizer::Impl {
    std::string source;
    TokenMap vocab;                       // vocabulary string -> id, as the file writes it
    std::vector<std::string> token_bytes; // id -> its bytes as the decoder writes them
    std::vector<uint8_t> special;         // id -> a special added token
    bool byte_level = false, byte_fallback = false, fuse_unk = false, ignore_merges = false;
    int32_t unk_id = -1;
    int32_t byte_token[256];              // byte-level: byte -> id
    int32_t fallback_token[256];          // "<0xNN>" -> id, or -1
    PairMap merges;                       // (left id, right id) -> (rank, merged id)

    struct Added {
        std::string content;
        int32_t id;
        bool special, lstrip, rstrip, single_word, normalized;
    };
    std::vector<Added> added;
    std::vector<uint32_t> added_by_byte[256]; // first byte -> indices into `added`, longest first
    bool any_normalized_added = false;
    int single_first_byte = -1; // the first byte of every added token, when they share one

    std::vector<NormalizerStep> normalizer;
    std::vector<PreStep> pre;
    std::vector<int32_t> prefix_ids, suffix_ids; // what the post-processor adds around a text
    std::vector<std::string> prefix_tokens, suffix_tokens;
    size_t decode_strip = 0;                     // leading spaces the decoder removes
    // SentencePiece vocabularies without a pre-tokenizer see a whole paragraph as one word. When no
    // token holds "▁" after another character, no token can span a "▁" that follows another
    // character: the word is then cut there, exactly, and the pieces are cached as words.
    bool cut_before_space_symbol = false;

    mutable std::mutex cache_mutex;
    mutable WordCache cache;

    // ---- building ----

    int32_t id_of(const std::string& token, const std::string& where) const {
        const int32_t* id = vocab.find(token);
        if (!id) throw Error(cat(where, ": '", token, "' is not in the vocabulary"));
        return *id;
    }

    void set_token(std::string_view name, int64_t id, const char* where) {
        if (id < 0 || id >= (int64_t(1) << 24))
            throw Error(cat(source, ": ", where, ": token '", name, "' has id ", id, ", expected 0 <= id < 16777216"));
        if (size_t(id) >= token_bytes.size()) {
            token_bytes.resize(size_t(id) + 1);
            special.resize(size_t(id) + 1, 0);
        }
    }

    void add_vocab(std::string_view name, int64_t id) {
        set_token(name, id, "model.vocab");
        const int32_t before = vocab.insert(name, int32_t(id));
        if (before >= 0 && before != id)
            throw Error(cat(source, ": model.vocab: token '", name, "' appears with two ids, ", before, " and ", id));
    }

    void read_model(const TokenizerFile& f) {
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
        byte_fallback = json_bool_or(m, "byte_fallback", where, false);
        fuse_unk = json_bool_or(m, "fuse_unk", where, false);
        ignore_merges = json_bool_or(m, "ignore_merges", where, false);
        vocab.reserve(f.n_vocab() + f.added_tokens.size());
        for (size_t i = 0; i < f.n_vocab(); ++i)
            add_vocab(f.vocab_tokens[i], f.vocab_ids[i]);
        const std::string unk = json_string_or(m, "unk_token", where, "");
        if (!unk.empty()) unk_id = id_of(unk, where + ".unk_token");
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
        merges.reserve(n);
        for (size_t k = 0; k < n; ++k) {
            for (int j = 0; j < 3; ++j)
                if (ids[3 * k + size_t(j)] < 0) {
                    const std::string t(j == 2 ? parts.joined(2 * k) : parts[2 * k + size_t(j)]);
                    throw Error(cat(where, ".merges: merge ", k, " '", parts[2 * k], " ", parts[2 * k + 1], "' names '", t,
                                    "', which is not in the vocabulary"),
                                "the merges and the vocabulary come from different tokenizers");
                }
            if (k + 8 < n) merges.prefetch(pair_key(ids[3 * (k + 8)], ids[3 * (k + 8) + 1]));
            // a repeated pair takes its last rank, as Hugging Face's map of merges does
            merges.assign(pair_key(ids[3 * k], ids[3 * k + 1]), {int32_t(k), ids[3 * k + 2]});
        }
    }

    void read_added(const TokenizerFile& f) {
        const std::string where = f.source + ": added_tokens";
        for (const auto& t : f.added_tokens) {
            if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id") ||
                !t["id"].is_number_integer())
                throw Error(cat(where, ": entries need a string 'content' and an integer 'id', found ", t.dump()));
            Added a;
            a.content = t["content"].get<std::string>();
            if (a.content.empty()) throw Error(cat(where, ": an added token with empty content (id ", t["id"].dump(), ")"));
            const int64_t id = t["id"].get<int64_t>();
            set_token(a.content, id, "added_tokens");
            a.id = int32_t(id);
            a.special = json_bool_or(t, "special", where, false);
            a.lstrip = json_bool_or(t, "lstrip", where, false);
            a.rstrip = json_bool_or(t, "rstrip", where, false);
            a.single_word = json_bool_or(t, "single_word", where, false);
            a.normalized = json_bool_or(t, "normalized", where, !a.special);
            vocab.assign(a.content, a.id); // an added token's string names it, as in Hugging Face
            special[size_t(id)] = a.special;
            added.push_back(std::move(a));
        }
    }

    void read_normalizer(const nlohmann::json& j, const std::string& where) {
        if (j.is_null()) return;
        const std::string t = type_of(j, where);
        NormalizerStep s{};
        if (t == "Sequence") {
            if (!j.contains("normalizers") || !j["normalizers"].is_array())
                throw Error(cat(where, ": Sequence needs an array 'normalizers'"));
            for (size_t i = 0; i < j["normalizers"].size(); ++i)
                read_normalizer(j["normalizers"][i], cat(where, ".normalizers[", i, "]"));
            return;
        }
        if (t == "NFC") s.kind = NormalizerStep::nfc;
        else if (t == "NFKC") s.kind = NormalizerStep::nfkc;
        else if (t == "NFD") s.kind = NormalizerStep::nfd;
        else if (t == "NFKD") s.kind = NormalizerStep::nfkd;
        else if (t == "Lowercase") s.kind = NormalizerStep::lowercase;
        else if (t == "Replace") {
            s.kind = NormalizerStep::replace;
            if (!j.contains("pattern")) throw Error(cat(where, ": Replace needs a 'pattern'"));
            s.pattern = Pattern::read(j["pattern"], where + ".pattern");
            if (!j.contains("content") || !j["content"].is_string()) throw Error(cat(where, ": Replace needs a string 'content'"));
            s.text = j["content"].get<std::string>();
        } else if (t == "Prepend") {
            s.kind = NormalizerStep::prepend;
            if (!j.contains("prepend") || !j["prepend"].is_string()) throw Error(cat(where, ": Prepend needs a string 'prepend'"));
            s.text = j["prepend"].get<std::string>();
        } else if (t == "Strip") {
            s.kind = NormalizerStep::strip;
            s.left = json_bool_or(j, "strip_left", where, false);
            s.right = json_bool_or(j, "strip_right", where, false);
        } else {
            throw Error(cat(where, ": normalizer '", t, "' is not supported"),
                        "supported: Sequence, NFC, NFKC, NFD, NFKD, Lowercase, Replace, Prepend, Strip");
        }
        normalizer.push_back(std::move(s));
    }

    void read_pre(const nlohmann::json& j, const std::string& where) {
        if (j.is_null()) return;
        const std::string t = type_of(j, where);
        if (t == "Sequence") {
            if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
                throw Error(cat(where, ": Sequence needs an array 'pretokenizers'"));
            for (size_t i = 0; i < j["pretokenizers"].size(); ++i)
                read_pre(j["pretokenizers"][i], cat(where, ".pretokenizers[", i, "]"));
            return;
        }
        if (byte_level)
            throw Error(cat(where, ": '", t, "' comes after ByteLevel"),
                        "attnscope expects ByteLevel to be the last pre-tokenizer; please report the model");
        PreStep s{};
        if (t == "Split") {
            s.kind = PreStep::split;
            if (!j.contains("pattern")) throw Error(cat(where, ": Split needs a 'pattern'"));
            s.pattern = Pattern::read(j["pattern"], where + ".pattern");
            s.has_pattern = true;
            const std::string b = json_string_or(j, "behavior", where, "Isolated");
            if (b == "Removed") s.behavior = Behavior::removed;
            else if (b == "Isolated") s.behavior = Behavior::isolated;
            else if (b == "MergedWithPrevious") s.behavior = Behavior::merged_with_previous;
            else if (b == "MergedWithNext") s.behavior = Behavior::merged_with_next;
            else if (b == "Contiguous") s.behavior = Behavior::contiguous;
            else throw Error(cat(where, ": Split behavior '", b, "' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous"));
            s.invert = json_bool_or(j, "invert", where, false);
        } else if (t == "Digits") {
            s.kind = PreStep::split;
            const bool individual = json_bool_or(j, "individual_digits", where, false);
            s.pattern = Pattern::read({{"Regex", individual ? "\\p{N}" : "\\p{N}+"}}, where);
            s.has_pattern = true;
        } else if (t == "ByteLevel") {
            s.kind = PreStep::byte_level;
            s.add_prefix_space = json_bool_or(j, "add_prefix_space", where, true);
            if (json_bool_or(j, "use_regex", where, true)) {
                s.pattern = Pattern::read(
                    {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}, where);
                s.has_pattern = true;
            }
            byte_level = true;
        } else if (t == "Metaspace") {
            s.kind = PreStep::metaspace;
            s.replacement = json_string_or(j, "replacement", where, "\xE2\x96\x81");
            if (s.replacement.empty() || utf8_length(s.replacement, 0) != s.replacement.size())
                throw Error(cat(where, ": Metaspace replacement '", s.replacement, "' should be one character"));
            std::string scheme = json_string_or(j, "prepend_scheme", where, "");
            if (scheme.empty()) scheme = json_bool_or(j, "add_prefix_space", where, true) ? "always" : "never";
            if (scheme == "always") s.prepend = PreStep::always;
            else if (scheme == "first") s.prepend = PreStep::first;
            else if (scheme == "never") s.prepend = PreStep::never;
            else throw Error(cat(where, ": Metaspace prepend_scheme '", scheme, "' is not always, first or never"));
            s.split_on_replacement = json_bool_or(j, "split", where, true);
        } else {
            throw Error(cat(where, ": pre-tokenizer '", t, "' is not supported"),
                        "supported: Sequence, Split, ByteLevel, Metaspace, Digits");
        }
        pre.push_back(std::move(s));
    }

    void read_post(const nlohmann::json& j, const std::string& where) {
        if (j.is_null()) return;
        const std::string t = type_of(j, where);
        if (t == "Sequence") {
            if (!j.contains("processors") || !j["processors"].is_array())
                throw Error(cat(where, ": Sequence needs an array 'processors'"));
            for (size_t i = 0; i < j["processors"].size(); ++i)
                read_post(j["processors"][i], cat(where, ".processors[", i, "]"));
            return;
        }
        if (t == "ByteLevel") return; // offsets only
        auto pair_of = [&](const char* key) {
            if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][0].is_string() ||
                !j[key][1].is_number_integer())
                throw Error(cat(where, ": ", t, " needs '", key, "' as [token, id]"));
            return std::make_pair(j[key][0].get<std::string>(), j[key][1].get<int32_t>());
        };
        if (t == "BertProcessing" || t == "RobertaProcessing") {
            const auto cls = pair_of("cls"), sep = pair_of("sep");
            prefix_ids.push_back(cls.second), prefix_tokens.push_back(cls.first);
            suffix_ids.push_back(sep.second), suffix_tokens.push_back(sep.first);
            return;
        }
        if (t != "TemplateProcessing")
            throw Error(cat(where, ": post-processor '", t, "' is not supported"),
                        "supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence");
        if (!j.contains("single") || !j["single"].is_array()) throw Error(cat(where, ": TemplateProcessing needs an array 'single'"));
        const nlohmann::json specials = j.value("special_tokens", nlohmann::json::object());
        bool seen_a = false;
        for (const auto& item : j["single"]) {
            if (item.contains("Sequence")) {
                if (item["Sequence"].value("id", "") != "A")
                    throw Error(cat(where, ": single template names sequence ", item["Sequence"].dump(), "; expected A"));
                seen_a = true;
            } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id") &&
                       item["SpecialToken"]["id"].is_string()) {
                const std::string name = item["SpecialToken"]["id"].get<std::string>();
                auto sp = specials.find(name);
                if (sp == specials.end() || !sp->contains("ids") || !(*sp)["ids"].is_array())
                    throw Error(cat(where, ": the template's special token '", name, "' is not in special_tokens"));
                for (const auto& id : (*sp)["ids"]) {
                    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t(1) << 24))
                        throw Error(cat(where, ": special token '", name, "' has id ", id.dump()));
                    (seen_a ? suffix_ids : prefix_ids).push_back(id.get<int32_t>());
                    (seen_a ? suffix_tokens : prefix_tokens).push_back(name);
                }
            } else {
                throw Error(cat(where, ": template item ", item.dump(), " is neither Sequence nor SpecialToken"));
            }
        }
        if (!seen_a) throw Error(cat(where, ": the single template has no $A"));
    }

    // Per-token bytes as the decoder writes them; sequence-level effects (Strip) are kept aside.
    void read_decoder(const nlohmann::json& j, const std::string& where, std::vector<std::pair<std::string, std::string>>& replaces,
                      bool& bytes_fallback, bool& bytes_level) {
        if (j.is_null()) return;
        const std::string t = type_of(j, where);
        if (t == "Sequence") {
            if (!j.contains("decoders") || !j["decoders"].is_array()) throw Error(cat(where, ": Sequence needs an array 'decoders'"));
            for (size_t i = 0; i < j["decoders"].size(); ++i)
                read_decoder(j["decoders"][i], cat(where, ".decoders[", i, "]"), replaces, bytes_fallback, bytes_level);
        } else if (t == "ByteLevel") {
            bytes_level = true;
        } else if (t == "ByteFallback") {
            bytes_fallback = true;
        } else if (t == "Fuse") {
        } else if (t == "Replace") {
            Pattern p = Pattern::read(j.value("pattern", nlohmann::json()), where + ".pattern");
            if (p.regex) throw Error(cat(where, ": a Replace decoder with a regex is not supported"));
            replaces.emplace_back(p.literal, json_string_or(j, "content", where, ""));
        } else if (t == "Strip") {
            if (json_string_or(j, "content", where, " ") != " ") throw Error(cat(where, ": Strip of other than spaces is not supported"));
            decode_strip = size_t(json_int_or(j, "start", where, 0, 1 << 20, 0));
        } else if (t == "Metaspace") {
            std::string r = json_string_or(j, "replacement", where, "\xE2\x96\x81");
            replaces.emplace_back(r, " ");
            std::string scheme = json_string_or(j, "prepend_scheme", where, "");
            if (scheme.empty()) scheme = json_bool_or(j, "add_prefix_space", where, true) ? "always" : "never";
            if (scheme != "never") decode_strip = 1;
        } else {
            throw Error(cat(where, ": decoder '", t, "' is not supported"),
                        "supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace");
        }
    }

    void finish(const TokenizerFile& f) {
        const std::string& where = f.source;
        // vocabulary strings -> bytes
        std::vector<std::pair<std::string, std::string>> replaces;
        bool dec_fallback = false, dec_bytes = false;
        read_decoder(f.decoder, where + ": decoder", replaces, dec_fallback, dec_bytes);
        vocab.for_each([&](std::string_view name, int32_t id) {
            std::string& b = token_bytes[size_t(id)];
            if ((byte_level || dec_bytes) && vocab_string_to_bytes(name, &b)) return;
            b = name;
            if (dec_fallback && name.size() == 6 && name.rfind("<0x", 0) == 0 && name[5] == '>') {
                const int hi = g_ascii_xdigit_value(name[3]), lo = g_ascii_xdigit_value(name[4]);
                if (hi >= 0 && lo >= 0) {
                    b = std::string(1, char(hi * 16 + lo));
                    return;
                }
            }
            for (const auto& [from, to] : replaces)
                for (size_t at = b.find(from); at != std::string::npos; at = b.find(from, at + to.size()))
                    b.replace(at, from.size(), to);
        });
        for (const Added& a : added)
            token_bytes[size_t(a.id)] = a.content;
        // byte symbols
        if (byte_level) {
            for (int b = 0; b < 256; ++b) {
                std::string s;
                append_utf8(s, byte_tables().to_unicode[b]);
                const int32_t* id = vocab.find(s);
                if (!id)
                    throw Error(cat(where, ": the vocabulary has no token for byte ", b, " ('", s, "')"),
                                "a byte-level BPE vocabulary holds all 256 byte symbols");
                byte_token[b] = *id;
            }
        }
        for (int b = 0; b < 256; ++b) {
            static const char* hex = "0123456789ABCDEF";
            const std::string name = cat("<0x", hex[b >> 4], hex[b & 15], ">");
            const int32_t* id = vocab.find(name);
            fallback_token[b] = id ? *id : -1;
        }
        // added tokens: by first byte, longest first
        for (size_t i = 0; i < added.size(); ++i)
            added_by_byte[uint8_t(added[i].content[0])].push_back(uint32_t(i));
        for (int c = 0; c < 256; ++c)
            if (!added_by_byte[c].empty()) single_first_byte = single_first_byte == -1 ? c : -2;
        if (single_first_byte < 0) single_first_byte = -1;
        for (auto& v : added_by_byte)
            std::stable_sort(v.begin(), v.end(), [&](uint32_t x, uint32_t y) { return added[x].content.size() > added[y].content.size(); });
        if (!byte_level) {
            bool safe = vocab.find(kSpaceSymbol) != nullptr;
            vocab.for_each([&](std::string_view name, int32_t) {
                size_t lead = 0;
                while (name.compare(lead, 3, kSpaceSymbol) == 0)
                    lead += 3;
                if (name.find(kSpaceSymbol, lead) != std::string_view::npos) safe = false;
            });
            cut_before_space_symbol = safe;
        }
        any_normalized_added = !normalizer.empty() &&
                               std::any_of(added.begin(), added.end(), [](const Added& a) { return a.normalized; });
        for (int32_t id : prefix_ids)
            if (size_t(id) >= token_bytes.size()) throw Error(cat(where, ": post_processor adds id ", id, ", beyond the vocabulary"));
        for (int32_t id : suffix_ids)
            if (size_t(id) >= token_bytes.size()) throw Error(cat(where, ": post_processor adds id ", id, ", beyond the vocabulary"));
    }

    // ---- encoding ----

    // Split `text` by added tokens (those with normalized == `normalized_group`, or all when no
    // normalizer makes a difference); calls out(piece, -1, at) for text and out({}, id, at) for tokens.
    template <class Out>
    void split_added(std::string_view text, bool normalized_group, bool parse_special, Out&& out) const {
        if (added.empty()) {
            out(text, -1, size_t(0));
            return;
        }
        size_t start = 0; // start of the pending text
        size_t i = 0;
        while (i < text.size()) {
            if (single_first_byte >= 0) { // most vocabularies: every added token starts with '<'
                const void* at = std::memchr(text.data() + i, single_first_byte, text.size() - i);
                if (!at) break;
                i = size_t(static_cast<const char*>(at) - text.data());
            }
            const auto& bucket = added_by_byte[uint8_t(text[i])];
            const Added* hit = nullptr;
            for (uint32_t k : bucket) {
                const Added& a = added[k];
                if (any_normalized_added && a.normalized != normalized_group) continue;
                if (!parse_special && a.special) continue;
                if (text.compare(i, a.content.size(), a.content) != 0) continue;
                if (a.single_word) {
                    auto word_char = [](std::string_view s, size_t at) {
                        const size_t n = utf8_length(s, at);
                        if (!n) return false;
                        const gunichar c = decode_utf8(s, at, n);
                        return g_unichar_isalnum(c) || c == '_';
                    };
                    size_t before = i;
                    while (before > 0 && (uint8_t(text[before - 1]) & 0xC0) == 0x80) --before;
                    if (before > 0) {
                        size_t b = before - 1;
                        while (b > 0 && (uint8_t(text[b]) & 0xC0) == 0x80) --b;
                        if (word_char(text, b)) continue;
                    }
                    const size_t after = i + a.content.size();
                    if (after < text.size() && word_char(text, after)) continue;
                }
                hit = &a;
                break;
            }
            if (!hit) {
                ++i;
                continue;
            }
            size_t b = i, e = i + hit->content.size();
            if (hit->lstrip) { // whitespace before it, back to the previous match
                while (b > start) {
                    size_t c = b - 1;
                    while (c > start && (uint8_t(text[c]) & 0xC0) == 0x80) --c;
                    const size_t n = utf8_length(text, c);
                    if (n != b - c || !is_white_space(decode_utf8(text, c, n))) break;
                    b = c;
                }
            }
            if (hit->rstrip) {
                while (e < text.size()) {
                    const size_t n = utf8_length(text, e);
                    if (!n || !is_white_space(decode_utf8(text, e, n))) break;
                    e += n;
                }
            }
            if (b > start) out(text.substr(start, b - start), -1, start);
            out(std::string_view(), hit->id, b);
            start = i = e;
        }
        if (start < text.size() || start == 0) out(text.substr(start), -1, start);
    }

    static void unicode_normalize(std::string& s, GNormalizeMode mode) {
        bool ascii = true;
        for (char c : s)
            if (uint8_t(c) >= 0x80) {
                ascii = false;
                break;
            }
        if (ascii) return;
        // glib normalizes valid UTF-8 only: invalid bytes pass through between normalized runs
        std::string out;
        size_t run = 0, i = 0;
        auto flush = [&](size_t end) {
            if (end > run) {
                gchar* n = g_utf8_normalize(s.data() + run, gssize(end - run), mode);
                if (n) {
                    out += n;
                    g_free(n);
                } else {
                    out.append(s, run, end - run);
                }
            }
        };
        while (i < s.size()) {
            const size_t n = utf8_length(s, i);
            if (n) {
                i += n;
                continue;
            }
            flush(i);
            out += s[i];
            run = ++i;
        }
        flush(s.size());
        s = std::move(out);
    }

    std::string normalize(std::string_view text) const {
        std::string s(text);
        std::vector<std::pair<size_t, size_t>> m;
        for (const NormalizerStep& n : normalizer) {
            switch (n.kind) {
            case NormalizerStep::nfc: unicode_normalize(s, G_NORMALIZE_NFC); break;
            case NormalizerStep::nfkc: unicode_normalize(s, G_NORMALIZE_NFKC); break;
            case NormalizerStep::nfd: unicode_normalize(s, G_NORMALIZE_NFD); break;
            case NormalizerStep::nfkd: unicode_normalize(s, G_NORMALIZE_NFKD); break;
            case NormalizerStep::prepend:
                if (!s.empty()) s.insert(0, n.text);
                break;
            case NormalizerStep::replace: {
                n.pattern.find_all(s, m);
                if (m.empty()) break;
                std::string out;
                size_t at = 0;
                for (auto [b, e] : m) {
                    out.append(s, at, b - at);
                    out += n.text;
                    at = e;
                }
                out.append(s, at, std::string::npos);
                s = std::move(out);
                break;
            }
            case NormalizerStep::lowercase: {
                if (find_invalid_utf8(s) == std::string::npos) {
                    gchar* l = g_utf8_strdown(s.data(), gssize(s.size()));
                    s = l;
                    g_free(l);
                } else {
                    for (char& c : s)
                        c = char(g_ascii_tolower(c));
                }
                break;
            }
            case NormalizerStep::strip: {
                size_t b = 0, e = s.size();
                if (n.left)
                    while (b < e) {
                        const size_t k = utf8_length(s, b);
                        if (!k || !is_white_space(decode_utf8(s, b, k))) break;
                        b += k;
                    }
                if (n.right)
                    while (e > b) {
                        size_t c = e - 1;
                        while (c > b && (uint8_t(s[c]) & 0xC0) == 0x80) --c;
                        const size_t k = utf8_length(s, c);
                        if (k != e - c || !is_white_space(decode_utf8(s, c, k))) break;
                        e = c;
                    }
                s = s.substr(b, e - b);
                break;
            }
            }
        }
        return s;
    }

    // Split each piece by a pattern with a Split behavior (as Hugging Face's NormalizedString::split).
    static void split_pieces(const PreStep& st, std::vector<Piece>& pieces) {
        std::vector<Piece> out;
        std::vector<std::pair<size_t, size_t>> m;
        struct Span {
            size_t b, e;
            bool match;
            bool valid; // matched by the pattern, so valid UTF-8
        };
        std::vector<Span> spans, res;
        // bytes that are not UTF-8 match no pattern: each is a word of its own
        auto emit = [&](std::string_view t, size_t at, bool first, bool valid) {
            if (valid || find_invalid_utf8(t) == std::string_view::npos) {
                out.push_back({t, first && at == 0});
                return;
            }
            size_t run = 0;
            for (size_t i = 0; i < t.size();) {
                const size_t n = utf8_length(t, i);
                if (n) {
                    i += n;
                    continue;
                }
                if (i > run) out.push_back({t.substr(run, i - run), first && at + run == 0});
                out.push_back({t.substr(i, 1), first && at + i == 0});
                run = ++i;
            }
            if (run < t.size()) out.push_back({t.substr(run), false});
        };
        for (const Piece& p : pieces) {
            const std::string_view s = p.text;
            st.pattern.find_all(s, m);
            if (st.behavior == Behavior::isolated && !st.invert) { // the common case, directly
                size_t prev = 0;
                for (auto [b, e] : m) {
                    if (b > prev) emit(s.substr(prev, b - prev), prev, p.first, false);
                    emit(s.substr(b, e - b), b, p.first, st.pattern.regex != nullptr);
                    prev = e;
                }
                if (prev < s.size()) emit(s.substr(prev), prev, p.first, false);
                continue;
            }
            spans.clear();
            size_t prev = 0;
            for (auto [b, e] : m) {
                if (b > prev) spans.push_back({prev, b, false, false});
                spans.push_back({b, e, true, st.pattern.regex != nullptr});
                prev = e;
            }
            if (prev < s.size()) spans.push_back({prev, s.size(), false, false});
            if (st.invert)
                for (Span& x : spans)
                    x.match = !x.match;
            res.clear();
            switch (st.behavior) {
            case Behavior::isolated: res = spans; break;
            case Behavior::removed:
                for (const Span& x : spans)
                    if (!x.match) res.push_back(x);
                break;
            case Behavior::merged_with_previous: {
                bool prev_match = false;
                for (const Span& x : spans) {
                    if (x.match && !prev_match && !res.empty()) res.back().e = x.e, res.back().valid = false;
                    else res.push_back(x);
                    prev_match = x.match;
                }
                break;
            }
            case Behavior::merged_with_next: {
                bool prev_match = false;
                for (size_t k = spans.size(); k-- > 0;) {
                    const Span& x = spans[k];
                    if (x.match && !prev_match && !res.empty()) res.back().b = x.b, res.back().valid = false;
                    else res.push_back(x);
                    prev_match = x.match;
                }
                std::reverse(res.begin(), res.end());
                break;
            }
            case Behavior::contiguous: {
                bool prev_match = false;
                for (const Span& x : spans) {
                    if (x.match == prev_match && !res.empty()) res.back().e = x.e, res.back().valid = false;
                    else res.push_back(x);
                    prev_match = x.match;
                }
                break;
            }
            }
            for (const Span& x : res)
                if (x.e > x.b) emit(s.substr(x.b, x.e - x.b), x.b, p.first, x.valid);
        }
        pieces = std::move(out);
    }

    void pre_tokenize(std::vector<Piece>& pieces, std::forward_list<std::string>& arena) const {
        for (const PreStep& st : pre) {
            if (st.kind == PreStep::byte_level) {
                if (st.add_prefix_space)
                    for (Piece& p : pieces)
                        if (!p.text.empty() && p.text[0] != ' ') {
                            arena.push_front(cat(" ", p.text));
                            p.text = arena.front();
                        }
                if (st.has_pattern) split_pieces(st, pieces);
            } else if (st.kind == PreStep::metaspace) {
                for (Piece& p : pieces) {
                    std::string s;
                    s.reserve(p.text.size() + 3);
                    for (char c : p.text)
                        if (c == ' ') s += st.replacement;
                        else s += c;
                    const bool prepend = st.prepend == PreStep::always || (st.prepend == PreStep::first && p.first);
                    if (prepend && !s.empty() && s.rfind(st.replacement, 0) != 0) s.insert(0, st.replacement);
                    arena.push_front(std::move(s));
                    p.text = arena.front();
                }
                if (st.split_on_replacement) {
                    PreStep sp;
                    sp.kind = PreStep::split;
                    sp.pattern.literal = st.replacement;
                    sp.behavior = Behavior::merged_with_next;
                    split_pieces(sp, pieces);
                }
            } else {
                split_pieces(st, pieces);
            }
        }
    }

    // BPE over one word, appending ids to `out`.
    void bpe_word(std::string_view word, std::vector<int32_t>& out) const {
        if (word.empty()) return;
        if (byte_level && word.size() == 1) {
            out.push_back(byte_token[uint8_t(word[0])]);
            return;
        }
        if (ignore_merges) { // the whole word, if it is a token (byte-level: spelled with byte symbols)
            const int32_t* id = nullptr;
            if (byte_level) {
                std::string spelled;
                for (char c : word)
                    append_utf8(spelled, byte_tables().to_unicode[uint8_t(c)]);
                id = vocab.find(spelled);
            } else {
                id = vocab.find(word);
            }
            if (id) {
                out.push_back(*id);
                return;
            }
        }
        const bool cached = word.size() <= kMaxCachedWordBytes;
        if (cached) {
            std::lock_guard<std::mutex> lock(cache_mutex);
            if (cache.get(word, out)) return;
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
                push(byte_token[uint8_t(c)]);
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
                if (byte_fallback) {
                    bool all = true;
                    for (char c : ch)
                        all = all && fallback_token[uint8_t(c)] >= 0;
                    if (all) {
                        if (pending_unk >= 0) push(pending_unk), pending_unk = -1;
                        for (char c : ch)
                            push(fallback_token[uint8_t(c)]);
                        continue;
                    }
                }
                if (unk_id < 0) continue; // no unknown token: the character is dropped, as in Hugging Face
                if (pending_unk >= 0 && !fuse_unk) push(pending_unk);
                pending_unk = unk_id;
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
            if (const PairMap::Value* m = merges.find(pair_key(sym[size_t(left)].id, sym[size_t(right)].id)))
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
            l.id = merges.find(pair_key(c.left_id, c.right_id))->merged;
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
        std::lock_guard<std::mutex> lock(cache_mutex);
        cache.put(word, ids.data(), ids.size());
    }

    // Normalize, pre-tokenize and BPE one piece of text that holds no added token.
    void encode_text(std::string_view text, bool first, bool parse_special, std::vector<int32_t>& out) const {
        std::forward_list<std::string> arena; // pieces the steps rewrote (stable addresses)
        std::string_view s = text;
        if (!normalizer.empty()) {
            arena.push_front(normalize(text));
            s = arena.front();
        }
        auto words = [&](std::string_view t, bool at_start) {
            std::vector<Piece> pieces{{t, at_start}};
            pre_tokenize(pieces, arena);
            for (const Piece& p : pieces) {
                if (!cut_before_space_symbol) {
                    bpe_word(p.text, out);
                    continue;
                }
                size_t start = 0;
                for (size_t at = p.text.find(kSpaceSymbol, 1); at != std::string_view::npos;
                     at = p.text.find(kSpaceSymbol, at + 3)) {
                    const bool in_run = at >= 3 && p.text.compare(at - 3, 3, kSpaceSymbol) == 0;
                    if (in_run) continue; // "▁▁" stays together
                    bpe_word(p.text.substr(start, at - start), out);
                    start = at;
                }
                bpe_word(p.text.substr(start), out);
            }
        };
        if (!any_normalized_added) {
            words(s, first);
            return;
        }
        split_added(s, true, parse_special, [&](std::string_view piece, int32_t id, size_t at) {
            if (id >= 0) out.push_back(id);
            else if (!piece.empty()) words(piece, first && at == 0);
        });
    }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(TokenizerFile f) {
    auto impl = std::make_unique<Impl>();
    impl->source = f.source;
    impl->read_model(f);
    impl->read_added(f);
    impl->read_normalizer(f.normalizer, f.source + ": normalizer");
    impl->read_pre(f.pre_tokenizer, f.source + ": pre_tokenizer");
    impl->read_post(f.post_processor, f.source + ": post_processor");
    impl->finish(f);
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
    return from_file(read_tokenizer_json(path));
}

Tokenizer Tokenizer::from_gguf(const std::string& path) {
    return from_file(tokenizer_file_from_gguf(path));
}

Tokenizer Tokenizer::from_vocab_merges(const std::string& vocab_path, const std::string& merges_path) {
    // GPT-2's two files say what tokenizer.json says of GPT-2: byte-level BPE with its pattern
    TokenizerFile f;
    f.source = vocab_path + " + " + merges_path;
    const nlohmann::json v = read_json_file(vocab_path);
    if (!v.is_object()) throw Error(cat(vocab_path, ": expected a JSON object {token: id}, found ", v.type_name()));
    for (const auto& [tok, id] : v.items()) {
        if (!id.is_number_integer())
            throw Error(cat(vocab_path, ": '", tok, "' must map to an integer id, found ", id.type_name()));
        f.add_vocab(tok, id.get<int64_t>());
        if (is_special_name(tok))
            f.added_tokens.push_back({{"id", id}, {"content", tok}, {"special", true}, {"normalized", false}});
    }
    std::unordered_map<std::string, bool> known;
    for (size_t i = 0; i < f.n_vocab(); ++i)
        known.emplace(f.vocab_tokens[i], true);
    MappedFile m(merges_path);
    const std::string_view text(reinterpret_cast<const char*>(m.data()), m.size());
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
        std::string a = line.substr(0, sp), b = line.substr(sp + 1);
        for (const std::string& t : {a, b, a + b})
            if (!known.count(t))
                throw Error(cat(where, ": merge '", line, "' names '", t, "', which is not in the vocabulary"),
                            "the merges and the vocabulary come from different tokenizers");
        f.add_merge(a, b);
    }
    f.model = {{"type", "BPE"}};
    f.pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    f.decoder = {{"type", "ByteLevel"}};
    return from_file(std::move(f));
}

Tokenizer Tokenizer::load(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    if (fs::is_regular_file(p)) {
        if (is_gguf_file(path)) return from_gguf(path);
        if (p.extension() == ".bin") return from_file(sentencepiece_tokenizer(read_llama2c_tokenizer(path), path));
        if (p.extension() == ".model") return from_file(sentencepiece_tokenizer(read_sentencepiece_model(path), path));
        return from_tokenizer_json(path);
    }
    if (fs::exists(p / "tokenizer.json")) return from_tokenizer_json((p / "tokenizer.json").string());
    if (fs::exists(p / "vocab.json") && fs::exists(p / "merges.txt"))
        return from_vocab_merges((p / "vocab.json").string(), (p / "merges.txt").string());
    if (fs::exists(p / "tokenizer.model")) {
        const std::string model = (p / "tokenizer.model").string();
        return from_file(sentencepiece_tokenizer(read_sentencepiece_model(model), model));
    }
    if (fs::exists(p / "tokenizer.bin")) {
        const std::string bin = (p / "tokenizer.bin").string();
        return from_file(sentencepiece_tokenizer(read_llama2c_tokenizer(bin), bin));
    }
    throw Error(cat(path, ": no tokenizer.json, no vocab.json + merges.txt, no tokenizer.model, no tokenizer.bin"),
                "a model directory needs its tokenizer files (from the same Hugging Face repository), or give "
                "--tokenizer FILE (tokenizer.json or .gguf)");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
    const Impl& m = *impl_;
    std::vector<int32_t> out;
    if (options.add_special_tokens) out = m.prefix_ids;
    m.split_added(text, false, options.parse_special, [&](std::string_view piece, int32_t id, size_t at) {
        if (id >= 0) out.push_back(id);
        else m.encode_text(piece, at == 0, options.parse_special, out);
    });
    if (options.add_special_tokens) out.insert(out.end(), m.suffix_ids.begin(), m.suffix_ids.end());
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
    size_t strip = 0;
    while (strip < impl_->decode_strip && strip < out.size() && out[strip] == ' ')
        ++strip;
    return out.substr(strip);
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
    const int32_t* id = impl_->vocab.find(token);
    if (!id) return std::nullopt;
    return *id;
}

bool Tokenizer::is_special(int32_t id) const {
    return id >= 0 && size_t(id) < impl_->special.size() && impl_->special[size_t(id)];
}

std::vector<std::string> Tokenizer::added_special_tokens() const {
    std::vector<std::string> out = impl_->prefix_tokens;
    out.insert(out.end(), impl_->suffix_tokens.begin(), impl_->suffix_tokens.end());
    return out;
}

const std::string& Tokenizer::source() const {
    return impl_->source;
}

} // namespace attnscope
