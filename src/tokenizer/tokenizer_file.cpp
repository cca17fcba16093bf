// Reading and writing tokenizer descriptions. A tokenizer.json is mostly its vocabulary and merges
// (Llama 3's: 128k tokens and 280k merges in 9 MB); a JSON DOM spends most of a process's start-up
// building and freeing them. So a small scanner walks the file: the two big fields go straight into
// vectors of strings, every other field (a few kB at most) is cut out whole and handed to
// nlohmann/json. The scanner checks the grammar it relies on and names the field it was reading.
// The other formats (GGUF, llama2.c, SentencePiece pieces with scores) become the same description,
// as Hugging Face's converters would write it, so that one interpreter serves them all.
#include "tokenizer/tokenizer_file.h"

#include "core/error.h"
#include "core/files.h"
#include "core/mmap.h"
#include "core/utf8.h"
#include "io/gguf.h"
#include "io/json.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace attnscope {

namespace {

struct Scanner {
    const char* p;
    const char* end;
    const char* begin;
    const std::string& label;
    std::string field = "the top level";

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(cat(label, ": not valid JSON: ", field, ": ", what, " at byte ", p - begin),
                    "is this a Hugging Face tokenizer.json?");
    }
    void ws() {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            ++p;
    }
    char peek() {
        ws();
        if (p >= end) fail("unexpected end of file");
        return *p;
    }
    void expect(char c) {
        if (peek() != c) fail(cat("expected '", c, "', found '", *p, "'"));
        ++p;
    }
    // True and consumes `c` if it comes next.
    bool accept(char c) {
        if (peek() != c) return false;
        ++p;
        return true;
    }
    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    uint32_t read_hex4() {
        if (end - p < 4) fail("truncated \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex(p[i]);
            if (h < 0) fail("invalid \\u escape");
            v = v * 16 + uint32_t(h);
        }
        p += 4;
        return v;
    }
    void string(std::string& out) {
        expect('"');
        out.clear();
        for (;;) {
            const char* q = p;
            while (q < end && *q != '"' && *q != '\\' && uint8_t(*q) >= 0x20)
                ++q;
            out.append(p, size_t(q - p));
            p = q;
            if (p >= end) fail("unterminated string");
            if (*p == '"') {
                ++p;
                break;
            }
            if (uint8_t(*p) < 0x20) fail("a control character inside a string");
            ++p; // backslash
            if (p >= end) fail("unterminated string");
            const char c = *p++;
            switch (c) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp = read_hex4();
                if (cp >= 0xD800 && cp < 0xDC00) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') fail("a lone UTF-16 surrogate in a \\u escape");
                    p += 2;
                    const uint32_t lo = read_hex4();
                    if (lo < 0xDC00 || lo >= 0xE000) fail("a lone UTF-16 surrogate in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    fail("a lone UTF-16 surrogate in a \\u escape");
                }
                append_utf8(out, cp);
                break;
            }
            default: fail(cat("invalid escape '\\", c, "'"));
            }
        }
    }
    int64_t integer() {
        ws();
        bool neg = false;
        if (p < end && *p == '-') neg = true, ++p;
        if (p >= end || *p < '0' || *p > '9') fail("expected an integer id");
        int64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (int64_t(1) << 40)) fail("an integer id out of range");
            v = v * 10 + (*p++ - '0');
        }
        if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) fail("expected an integer id, found a fraction");
        return neg ? -v : v;
    }
    void skip_string() {
        ++p; // opening quote
        while (p < end && *p != '"')
            p += (*p == '\\') ? 2 : 1;
        if (p >= end) fail("unterminated string");
        ++p;
    }
    // Skip one value of any kind and return its extent (nlohmann/json then checks its grammar).
    std::string_view skip_value() {
        ws();
        const char* start = p;
        if (p >= end) fail("unexpected end of file");
        if (*p == '"') {
            skip_string();
        } else if (*p == '{' || *p == '[') {
            int depth = 0;
            for (;;) {
                if (p >= end) fail("unexpected end of file");
                const char c = *p;
                if (c == '"') {
                    skip_string();
                    continue;
                }
                ++p;
                if (c == '{' || c == '[') ++depth;
                else if ((c == '}' || c == ']') && --depth == 0) break;
            }
        } else {
            while (p < end && !std::strchr(",}] \n\r\t", *p))
                ++p;
        }
        return {start, size_t(p - start)};
    }
    nlohmann::json value(const std::string& name) {
        const std::string_view v = skip_value();
        return parse_json(v.data(), v.data() + v.size(), cat(label, ": ", name));
    }
};

void read_vocab(Scanner& s, TokenizerFile& f) {
    s.field = "model.vocab";
    if (s.peek() != '{') s.fail(cat("expected an object {token: id}, found '", *s.p, "'"));
    s.expect('{');
    std::string key;
    f.vocab_tokens.reserve(size_t(s.end - s.p) / 24, size_t(s.end - s.p) / 3);
    f.vocab_ids.reserve(size_t(s.end - s.p) / 24);
    if (s.accept('}')) return;
    do {
        s.string(key);
        s.expect(':');
        if (s.peek() != '-' && (*s.p < '0' || *s.p > '9')) s.fail(cat("token '", key, "' must map to an integer id"));
        f.add_vocab(key, s.integer());
    } while (s.accept(','));
    s.expect('}');
}

void read_merges(Scanner& s, TokenizerFile& f) {
    s.field = "model.merges";
    s.expect('[');
    f.merge_parts.reserve(size_t(s.end - s.p) / 8, size_t(s.end - s.p) / 2);
    if (s.accept(']')) return;
    std::string a, b;
    do {
        const size_t k = f.n_merges();
        if (s.peek() == '"') { // "a b"
            s.string(a);
            const size_t sp = a.find(' ');
            if (sp == std::string::npos || sp == 0 || sp + 1 >= a.size() || a.find(' ', sp + 1) != std::string::npos)
                s.fail(cat("merge ", k, ": '", a, "' is not two tokens separated by one space"));
            f.add_merge(std::string_view(a).substr(0, sp), std::string_view(a).substr(sp + 1));
        } else if (*s.p == '[') { // ["a", "b"]
            s.expect('[');
            if (s.peek() != '"') s.fail(cat("merge ", k, ": expected [\"a\", \"b\"]"));
            s.string(a);
            if (s.peek() != ',') s.fail(cat("merge ", k, ": expected [\"a\", \"b\"] (two strings)"));
            s.expect(',');
            if (s.peek() != '"') s.fail(cat("merge ", k, ": expected [\"a\", \"b\"]"));
            s.string(b);
            if (s.peek() != ']') s.fail(cat("merge ", k, ": expected [\"a\", \"b\"] (two strings)"));
            s.expect(']');
            f.add_merge(a, b);
        } else {
            s.fail(cat("merge ", k, ": expected \"a b\" or [\"a\", \"b\"], found '", *s.p, "'"));
        }
    } while (s.accept(','));
    s.expect(']');
}

void read_model(Scanner& s, TokenizerFile& f) {
    s.field = "model";
    if (s.peek() != '{') s.fail("expected an object");
    s.expect('{');
    if (s.accept('}')) return;
    std::string key;
    do {
        s.field = "model";
        s.string(key);
        s.expect(':');
        if (key == "vocab" && s.peek() == '{')
            read_vocab(s, f);
        else if (key == "merges" && s.peek() == '[')
            read_merges(s, f);
        else
            f.model[key] = s.value("model." + key);
    } while (s.accept(','));
    s.field = "model";
    s.expect('}');
}

} // namespace

TokenizerFile parse_tokenizer_json(std::string_view text, const std::string& label) {
    TokenizerFile f;
    f.source = label;
    Scanner s{text.data(), text.data() + text.size(), text.data(), label};
    if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) s.p += 3; // a byte-order mark
    if (s.peek() != '{') s.fail(cat("expected a JSON object, found '", *s.p, "'"));
    s.expect('{');
    std::string key;
    bool has_model = false;
    if (!s.accept('}')) {
        do {
            s.field = "the top level";
            s.string(key);
            s.expect(':');
            if (key == "model") {
                read_model(s, f);
                has_model = true;
            } else {
                nlohmann::json v = s.value(key);
                if (key == "normalizer") f.normalizer = std::move(v);
                else if (key == "pre_tokenizer") f.pre_tokenizer = std::move(v);
                else if (key == "post_processor") f.post_processor = std::move(v);
                else if (key == "decoder") f.decoder = std::move(v);
                else if (key == "added_tokens") {
                    if (!v.is_null() && !v.is_array())
                        throw Error(cat(label, ": added_tokens should be an array, found ", v.type_name()));
                    if (v.is_array()) f.added_tokens = std::move(v);
                }
            }
        } while (s.accept(','));
        s.field = "the top level";
        s.expect('}');
    }
    s.ws();
    if (s.p != s.end) s.fail("text after the closing brace");
    if (!has_model) throw Error(cat(label, ": missing object 'model'"), "is this a Hugging Face tokenizer.json?");
    return f;
}

TokenizerFile read_tokenizer_json(const std::string& path) {
    MappedFile m(path);
    constexpr size_t kMax = size_t(256) << 20;
    if (m.size() > kMax)
        throw Error(cat(path, ": ", m.size(), " bytes; a tokenizer.json above ", kMax >> 20, " MB is refused"),
                    "is this the right file?");
    return parse_tokenizer_json({reinterpret_cast<const char*>(m.data()), m.size()}, path);
}

std::string tokenizer_json_text(const TokenizerFile& f) {
    nlohmann::ordered_json j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = f.added_tokens;
    j["normalizer"] = f.normalizer;
    j["pre_tokenizer"] = f.pre_tokenizer;
    j["post_processor"] = f.post_processor;
    j["decoder"] = f.decoder;
    nlohmann::ordered_json model = nlohmann::ordered_json::object();
    for (const auto& [k, v] : f.model.items())
        model[k] = v;
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (size_t i = 0; i < f.n_vocab(); ++i)
        vocab[std::string(f.vocab_tokens[i])] = f.vocab_ids[i];
    nlohmann::ordered_json merges = nlohmann::ordered_json::array();
    for (size_t k = 0; k < f.n_merges(); ++k)
        merges.push_back({f.merge_parts[2 * k], f.merge_parts[2 * k + 1]});
    model["vocab"] = std::move(vocab);
    model["merges"] = std::move(merges);
    j["model"] = std::move(model);
    return j.dump(1) + "\n";
}

void write_tokenizer_json(const TokenizerFile& f, const std::string& path) {
    write_file_atomic(path, tokenizer_json_text(f));
}

// ---- SentencePiece vocabularies ----

constexpr size_t kMaxMergedPieceBytes = 256;

TokenizerFile sentencepiece_tokenizer(const SentencePieceVocab& v, const std::string& source) {
    const size_t n = v.pieces.size();
    if (n == 0) throw Error(cat(source, ": the vocabulary is empty"));
    if (v.scores.size() != n || v.types.size() != n)
        throw Error(cat(source, ": ", n, " pieces but ", v.scores.size(), " scores and ", v.types.size(), " types"),
                    "the tokenizer's arrays must have one entry per token");
    auto check_id = [&](int32_t id, const char* what) {
        if (id >= int32_t(n)) throw Error(cat(source, ": ", what, " id ", id, " is outside the vocabulary of ", n));
    };
    check_id(v.bos_id, "BOS");
    check_id(v.eos_id, "EOS");
    check_id(v.unk_id, "unknown-token");
    TokenizerFile f;
    f.source = source;
    std::unordered_map<std::string, int64_t> ids;
    ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (!ids.emplace(v.pieces[i], int64_t(i)).second)
            throw Error(cat(source, ": token ", i, " ('", v.pieces[i], "') repeats token ", ids[v.pieces[i]]),
                        "a vocabulary names each piece once");
        f.add_vocab(v.pieces[i], int64_t(i));
    }
    // Merges as Hugging Face's converter derives them (convert_slow_tokenizer.generate_merges):
    // every split of a piece into two pieces of the vocabulary, ordered by the piece's score
    // (highest first), then by the longer left part, then the longer right part; a stable sort, so
    // ties keep the order of the pieces' ids and, within a piece, of its parts' ids.
    struct Cand {
        float score;
        uint32_t len_l, len_r; // in code points
        int64_t id_l, id_r;
    };
    std::vector<Cand> cands;
    for (size_t i = 0; i < n; ++i) {
        const std::string& piece = v.pieces[i];
        // SentencePiece's pieces are short (16 characters by default); a longer one in a hostile
        // file would cost its length squared here
        if (piece.size() > kMaxMergedPieceBytes) continue;
        std::vector<Cand> local;
        uint32_t chars_l = 0, total = 0;
        for (size_t k = 0; k < piece.size();) {
            const size_t len = std::max<size_t>(1, utf8_length(piece, k));
            k += len;
            ++total;
        }
        for (size_t k = 0; k < piece.size();) {
            const size_t len = std::max<size_t>(1, utf8_length(piece, k));
            k += len;
            ++chars_l;
            if (k >= piece.size()) break;
            auto l = ids.find(piece.substr(0, k)), r = ids.find(piece.substr(k));
            if (l != ids.end() && r != ids.end())
                local.push_back({v.scores[i], chars_l, total - chars_l, l->second, r->second});
        }
        std::sort(local.begin(), local.end(),
                  [](const Cand& a, const Cand& b) { return a.id_l != b.id_l ? a.id_l < b.id_l : a.id_r < b.id_r; });
        cands.insert(cands.end(), local.begin(), local.end());
    }
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) {
        if (a.score != b.score) return a.score > b.score;
        if (a.len_l != b.len_l) return a.len_l > b.len_l;
        return a.len_r > b.len_r;
    });
    for (const Cand& c : cands)
        f.add_merge(v.pieces[size_t(c.id_l)], v.pieces[size_t(c.id_r)]);

    const std::string unk = v.unk_id >= 0 ? v.pieces[size_t(v.unk_id)] : std::string();
    f.model = {{"type", "BPE"},
               {"dropout", nullptr},
               {"unk_token", v.unk_id >= 0 ? nlohmann::json(unk) : nlohmann::json(nullptr)},
               {"continuing_subword_prefix", nullptr},
               {"end_of_word_suffix", nullptr},
               {"fuse_unk", true},
               {"byte_fallback", true}};
    for (size_t i = 0; i < n; ++i) {
        const int t = v.types[i];
        if (t == 2 || t == 3 || t == 4)
            f.added_tokens.push_back({{"id", int64_t(i)},
                                      {"content", v.pieces[i]},
                                      {"single_word", false},
                                      {"lstrip", false},
                                      {"rstrip", false},
                                      {"normalized", false},
                                      {"special", t != 4}});
    }
    const std::string space = "\xE2\x96\x81"; // U+2581 '▁'
    f.normalizer = {{"type", "Sequence"},
                    {"normalizers",
                     {{{"type", "Prepend"}, {"prepend", space}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}};
    if (!v.add_dummy_prefix) f.normalizer = f.normalizer["normalizers"][1];
    f.pre_tokenizer = nullptr;
    f.decoder = {{"type", "Sequence"},
                 {"decoders",
                  {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                   {{"type", "ByteFallback"}},
                   {{"type", "Fuse"}},
                   {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    nlohmann::json single = nlohmann::json::array(), specials = nlohmann::json::object();
    auto special = [&](int32_t id) {
        const std::string& p = v.pieces[size_t(id)];
        single.push_back({{"SpecialToken", {{"id", p}, {"type_id", 0}}}});
        specials[p] = {{"id", p}, {"ids", {id}}, {"tokens", {p}}};
    };
    if (v.add_bos && v.bos_id >= 0) special(v.bos_id);
    single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
    if (v.add_eos && v.eos_id >= 0) special(v.eos_id);
    f.post_processor = {{"type", "TemplateProcessing"}, {"single", single}, {"special_tokens", specials}};
    return f;
}

SentencePieceVocab read_llama2c_tokenizer(const std::string& path) {
    MappedFile m(path);
    const uint8_t* p = m.data();
    const size_t size = m.size();
    size_t pos = 0;
    auto need = [&](size_t k, const char* what) {
        if (size - pos < k)
            throw Error(cat(path, ": truncated in ", what, " of token ", 0, " (", size - pos, " bytes left, ", k, " needed)"),
                        "is this a llama2.c tokenizer .bin?");
    };
    need(4, "the header");
    int32_t max_len;
    std::memcpy(&max_len, p, 4);
    pos = 4;
    if (max_len < 1 || max_len > 4096)
        throw Error(cat(path, ": maximum token length ", max_len, " is outside 1..4096"), "is this a llama2.c tokenizer .bin?");
    SentencePieceVocab v;
    while (pos < size) {
        const size_t i = v.pieces.size();
        if (size - pos < 8)
            throw Error(cat(path, ": token ", i, " is truncated (", size - pos, " bytes left)"), "is this a llama2.c tokenizer .bin?");
        float score;
        int32_t len;
        std::memcpy(&score, p + pos, 4);
        std::memcpy(&len, p + pos + 4, 4);
        pos += 8;
        if (len < 0 || len > max_len || size_t(len) > size - pos)
            throw Error(cat(path, ": token ", i, " has length ", len, " (maximum ", max_len, ", ", size - pos, " bytes left)"),
                        "is this a llama2.c tokenizer .bin?");
        std::string s(reinterpret_cast<const char*>(p + pos), size_t(len));
        pos += size_t(len);
        if (v.pieces.size() >= (size_t(1) << 22)) throw Error(cat(path, ": more than 4M tokens"));
        // llama2.c wrote "▁" as a space, and BOS / EOS with newlines around them
        int32_t type = 1;
        if (i == 0) s = "<unk>", type = 2;
        else if (i == 1) s = "<s>", type = 3;
        else if (i == 2) s = "</s>", type = 3;
        else {
            std::string t;
            for (char c : s)
                t += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
            s = std::move(t);
            if (s.size() == 6 && s.rfind("<0x", 0) == 0 && s[5] == '>') type = 6;
        }
        v.pieces.push_back(std::move(s));
        v.scores.push_back(score);
        v.types.push_back(type);
    }
    if (v.pieces.size() < 3) throw Error(cat(path, ": ", v.pieces.size(), " tokens; expected <unk>, <s>, </s> and more"));
    v.unk_id = 0, v.bos_id = 1, v.eos_id = 2;
    return v;
}

namespace {

// Protocol buffers, as much as SentencePiece's ModelProto needs: a message is a run of fields,
// each a varint tag (field number << 3 | wire type) and a value: 0 varint, 1 8 bytes,
// 2 length-delimited bytes, 5 4 bytes.
struct Protobuf {
    const uint8_t* p;
    const uint8_t* end;
    const std::string& label;
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(cat(label, ": ", what), "is this a SentencePiece tokenizer.model?");
    }
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p >= end) fail("truncated varint");
            const uint8_t b = *p++;
            v |= uint64_t(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("a varint longer than 10 bytes");
    }
    // Next field: its number and wire type; false at the end of the message.
    bool next(uint32_t& field, uint32_t& wire) {
        if (p >= end) return false;
        const uint64_t tag = varint();
        field = uint32_t(tag >> 3), wire = uint32_t(tag & 7);
        return true;
    }
    Protobuf sub() {
        const uint64_t n = varint();
        if (n > uint64_t(end - p)) fail(cat("a field of ", n, " bytes, only ", end - p, " remain"));
        Protobuf s{p, p + n, label};
        p += n;
        return s;
    }
    float f32() {
        if (end - p < 4) fail("truncated float");
        float v;
        std::memcpy(&v, p, 4);
        p += 4;
        return v;
    }
    void skip(uint32_t wire) {
        switch (wire) {
        case 0: varint(); break;
        case 1: if (end - p < 8) fail("truncated field"); p += 8; break;
        case 2: sub(); break;
        case 5: if (end - p < 4) fail("truncated field"); p += 4; break;
        default: fail(cat("wire type ", wire, " is not one protobuf uses"));
        }
    }
};

} // namespace

SentencePieceVocab read_sentencepiece_model(const std::string& path) {
    MappedFile m(path);
    Protobuf pb{m.data(), m.data() + m.size(), path};
    SentencePieceVocab v;
    v.unk_id = 0, v.bos_id = 1, v.eos_id = 2; // SentencePiece's defaults
    uint32_t field, wire;
    int64_t model_type = 1;
    while (pb.next(field, wire)) {
        if (field == 1 && wire == 2) { // SentencePiece {piece = 1, score = 2, type = 3}
            Protobuf sp = pb.sub();
            std::string piece;
            float score = 0;
            int32_t type = 1;
            while (sp.next(field, wire)) {
                if (field == 1 && wire == 2) {
                    Protobuf s = sp.sub();
                    piece.assign(reinterpret_cast<const char*>(s.p), size_t(s.end - s.p));
                } else if (field == 2 && wire == 5) {
                    score = sp.f32();
                } else if (field == 3 && wire == 0) {
                    type = int32_t(sp.varint());
                    if (type < 1 || type > 6) pb.fail(cat("piece ", v.pieces.size(), " has type ", type, " (1-6)"));
                } else {
                    sp.skip(wire);
                }
            }
            if (v.pieces.size() >= (size_t(1) << 22)) pb.fail("more than 4M pieces");
            v.pieces.push_back(std::move(piece));
            v.scores.push_back(score);
            v.types.push_back(type);
        } else if (field == 2 && wire == 2) { // TrainerSpec
            Protobuf t = pb.sub();
            while (t.next(field, wire)) {
                if (wire == 0 && (field == 3 || (field >= 40 && field <= 42))) {
                    const int64_t x = int64_t(int32_t(uint32_t(t.varint())));
                    if (field == 3) model_type = x;
                    else (field == 40 ? v.unk_id : field == 41 ? v.bos_id : v.eos_id) = int32_t(x);
                } else {
                    t.skip(wire);
                }
            }
        } else if (field == 3 && wire == 2) { // NormalizerSpec {add_dummy_prefix = 3}
            Protobuf ns = pb.sub();
            while (ns.next(field, wire)) {
                if (field == 3 && wire == 0) v.add_dummy_prefix = ns.varint() != 0;
                else ns.skip(wire);
            }
        } else {
            pb.skip(wire);
        }
    }
    if (model_type != 2)
        throw Error(cat(path, ": a SentencePiece ", model_type == 1 ? "Unigram" : cat("type ", model_type), " model"),
                    "attnscope reads SentencePiece BPE models (Llama 2, Mistral); give the model's tokenizer.json");
    if (v.pieces.empty()) pb.fail("no pieces");
    return v;
}

// ---- GGUF ----

namespace {

// Pre-tokenization patterns llama.cpp names in tokenizer.ggml.pre, as the models' tokenizer.json
// files write them.
const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

} // namespace

TokenizerFile tokenizer_file_from_gguf(const std::string& path) {
    const GgufMetadata g = read_gguf_metadata(path);
    const std::string model = g.string("tokenizer.ggml.model");
    if (model != "llama" && model != "gpt2")
        throw Error(cat(path, ": tokenizer.ggml.model '", model, "' is not supported"),
                    "attnscope reads 'llama' (SentencePiece BPE) and 'gpt2' (byte-level BPE) vocabularies");
    const std::vector<std::string>& tokens = g.strings("tokenizer.ggml.tokens");
    const size_t n = tokens.size();
    std::vector<int32_t> types(n, 1);
    if (g.find("tokenizer.ggml.token_type")) {
        const auto& t = g.integers("tokenizer.ggml.token_type");
        if (t.size() != n)
            throw Error(cat(path, ": tokenizer.ggml.token_type has ", t.size(), " entries for ", n, " tokens"));
        for (size_t i = 0; i < n; ++i) {
            if (t[i] < 0 || t[i] > 6) throw Error(cat(path, ": tokenizer.ggml.token_type[", i, "] = ", t[i], " is not 0-6"));
            types[i] = int32_t(t[i]);
        }
    }
    auto optional_id = [&](const char* key) -> int32_t {
        if (!g.find(key)) return -1;
        const int64_t id = g.integer(key);
        if (id < -1 || id >= int64_t(n)) throw Error(cat(path, ": ", key, " = ", id, " is outside the vocabulary of ", n));
        return int32_t(id);
    };
    auto optional_bool = [&](const char* key, bool fallback) { return g.find(key) ? g.integer(key) != 0 : fallback; };
    if (model == "llama") {
        SentencePieceVocab v;
        v.pieces = tokens;
        const auto& scores = g.numbers("tokenizer.ggml.scores");
        if (scores.size() != n)
            throw Error(cat(path, ": tokenizer.ggml.scores has ", scores.size(), " entries for ", n, " tokens"));
        v.scores.assign(scores.begin(), scores.end());
        v.types = types;
        v.bos_id = optional_id("tokenizer.ggml.bos_token_id");
        v.eos_id = optional_id("tokenizer.ggml.eos_token_id");
        v.unk_id = optional_id("tokenizer.ggml.unknown_token_id");
        v.add_bos = optional_bool("tokenizer.ggml.add_bos_token", true);
        v.add_eos = optional_bool("tokenizer.ggml.add_eos_token", false);
        v.add_dummy_prefix = optional_bool("tokenizer.ggml.add_space_prefix", true);
        return sentencepiece_tokenizer(v, path);
    }
    if (model == "gpt2") {
        TokenizerFile f;
        f.source = path;
        for (size_t i = 0; i < n; ++i)
            f.add_vocab(tokens[i], int64_t(i));
        for (const std::string& m : g.strings("tokenizer.ggml.merges")) {
            const size_t sp = m.find(' ');
            if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size() || m.find(' ', sp + 1) != std::string::npos)
                throw Error(cat(path, ": tokenizer.ggml.merges entry '", m, "' is not two tokens separated by one space"));
            f.add_merge(std::string_view(m).substr(0, sp), std::string_view(m).substr(sp + 1));
        }
        for (size_t i = 0; i < n; ++i)
            if (types[i] == 3 || types[i] == 4)
                f.added_tokens.push_back({{"id", int64_t(i)},
                                          {"content", tokens[i]},
                                          {"single_word", false},
                                          {"lstrip", false},
                                          {"rstrip", false},
                                          {"normalized", false},
                                          {"special", types[i] == 3}});
        const std::string pre = g.find("tokenizer.ggml.pre") ? g.string("tokenizer.ggml.pre") : "default";
        const nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                           {"use_regex", true}};
        if (pre == "gpt-2" || pre == "default") {
            f.pre_tokenizer = byte_level;
        } else if (pre == "llama-bpe" || pre == "llama3" || pre == "qwen2") {
            nlohmann::json bl = byte_level;
            bl["use_regex"] = false;
            f.pre_tokenizer = {{"type", "Sequence"},
                               {"pretokenizers",
                                {{{"type", "Split"},
                                  {"pattern", {{"Regex", pre == "qwen2" ? kQwen2Pattern : kLlama3Pattern}}},
                                  {"behavior", "Isolated"},
                                  {"invert", false}},
                                 bl}}};
        } else {
            throw Error(cat(path, ": tokenizer.ggml.pre '", pre, "' is a pre-tokenizer attnscope does not know"),
                        "known: default, gpt-2, llama-bpe, llama3, qwen2; or give the model's tokenizer.json");
        }
        f.model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"fuse_unk", false},
                   {"byte_fallback", false}, {"ignore_merges", pre == "llama-bpe" || pre == "llama3"}};
        f.decoder = byte_level;
        const int32_t bos = optional_id("tokenizer.ggml.bos_token_id");
        if (optional_bool("tokenizer.ggml.add_bos_token", false) && bos >= 0)
            f.post_processor = {{"type", "TemplateProcessing"},
                                {"single",
                                 {{{"SpecialToken", {{"id", tokens[size_t(bos)]}, {"type_id", 0}}}},
                                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                                {"special_tokens",
                                 {{tokens[size_t(bos)], {{"id", tokens[size_t(bos)]}, {"ids", {bos}}, {"tokens", {tokens[size_t(bos)]}}}}}}};
        return f;
    }
    throw Error(cat(path, ": tokenizer.ggml.model '", model, "' is not supported"),
                "attnscope reads 'llama' (SentencePiece BPE) and 'gpt2' (byte-level BPE) vocabularies");
}

} // namespace attnscope
