// Normalizers: each rewrites the text before it is cut into words, in the order the file lists
// them. Unicode normalization (NFC, NFKC, NFD, NFKD) and lowercasing are GLib's; text that is not
// valid UTF-8 is normalized run by run, its invalid bytes kept as they are.
#include "core/error.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/stages.h"
#include "tokenizer/unicode_compat.h"

#include <glib.h>

namespace attnscope {

namespace {

// GLib's normalizer and case mapper read at most the given length but also stop at the first NUL
// byte, and return a NUL-terminated string: a NUL inside a text would silently cut it short there
// (issue #31). NUL (U+0000) is a starter that every normalization form and case mapping leaves
// unchanged, so the text is processed run by run between NUL bytes, each kept as it is. For
// normalization (`unicode` true) runs also end at bytes that are not valid UTF-8, which GLib
// refuses, and at code points the reference's normalizer does not know (assigned after Unicode
// 9.0: to it they are starters without decomposition, so nothing composes or reorders across
// them — exactly what passing them through between runs does).
template <class Convert>
std::string by_runs(const std::string& s, bool unicode, Convert convert) {
    std::string out;
    out.reserve(s.size());
    size_t run = 0, i = 0;
    auto flush = [&](size_t end) {
        if (end > run) {
            gchar* n = convert(s.data() + run, gssize(end - run));
            // GLib refuses only invalid UTF-8, which never reaches it here, and no normalization
            // or case mapping makes a non-empty run empty: either would be a silently changed text
            if (!n || !*n) {
                g_free(n);
                throw Error(cat("tokenizer normalizer: GLib dropped the text at byte offset ", run, " (", end - run,
                                " bytes)"),
                            "please report the text; attnscope never tokenizes a text other than the one given");
            }
            out += n;
            g_free(n);
        }
    };
    while (i < s.size()) {
        size_t n = s[i] == '\0' ? 0 : unicode ? utf8_length(s, i) : 1;
        if (n > 1 && unicode && normalizer_unassigned(decode_utf8(s, i, n))) { // kept as it is
            flush(i);
            out.append(s, i, n);
            run = i += n;
            continue;
        }
        if (n) {
            i += n;
            continue;
        }
        flush(i);
        out += s[i];
        run = ++i;
    }
    flush(s.size());
    return out;
}

void unicode_normalize(std::string& s, GNormalizeMode mode) {
    bool ascii = true;
    for (char c : s)
        if (uint8_t(c) >= 0x80) {
            ascii = false;
            break;
        }
    if (ascii) return; // every form leaves ASCII (NUL included) as it is
    s = by_runs(s, true, [mode](const gchar* p, gssize n) { return g_utf8_normalize(p, n, mode); });
}

} // namespace

void Normalizer::read(const nlohmann::json& j, const std::string& where) {
    if (j.is_null()) return;
    const std::string t = component_type(j, where);
    Step s{};
    if (t == "Sequence") {
        if (!j.contains("normalizers") || !j["normalizers"].is_array())
            throw Error(cat(where, ": Sequence needs an array 'normalizers'"));
        for (size_t i = 0; i < j["normalizers"].size(); ++i)
            read(j["normalizers"][i], cat(where, ".normalizers[", i, "]"));
        return;
    }
    if (t == "NFC") s.kind = Step::nfc;
    else if (t == "NFKC") s.kind = Step::nfkc;
    else if (t == "NFD") s.kind = Step::nfd;
    else if (t == "NFKD") s.kind = Step::nfkd;
    else if (t == "Lowercase") s.kind = Step::lowercase;
    else if (t == "Replace") {
        s.kind = Step::replace;
        if (!j.contains("pattern")) throw Error(cat(where, ": Replace needs a 'pattern'"));
        s.pattern = Pattern::read(j["pattern"], where + ".pattern");
        if (!j.contains("content") || !j["content"].is_string()) throw Error(cat(where, ": Replace needs a string 'content'"));
        s.text = j["content"].get<std::string>();
    } else if (t == "Prepend") {
        s.kind = Step::prepend;
        if (!j.contains("prepend") || !j["prepend"].is_string()) throw Error(cat(where, ": Prepend needs a string 'prepend'"));
        s.text = j["prepend"].get<std::string>();
    } else if (t == "Strip") {
        s.kind = Step::strip;
        s.left = json_bool_or(j, "strip_left", where, false);
        s.right = json_bool_or(j, "strip_right", where, false);
    } else {
        throw Error(cat(where, ": normalizer '", t, "' is not supported"),
                    "supported: Sequence, NFC, NFKC, NFD, NFKD, Lowercase, Replace, Prepend, Strip");
    }
    steps_.push_back(std::move(s));
}

std::string Normalizer::apply(std::string_view text) const {
    std::string s(text);
    std::vector<std::pair<size_t, size_t>> m;
    for (const Step& n : steps_) {
        switch (n.kind) {
        case Step::nfc: unicode_normalize(s, G_NORMALIZE_NFC); break;
        case Step::nfkc: unicode_normalize(s, G_NORMALIZE_NFKC); break;
        case Step::nfd: unicode_normalize(s, G_NORMALIZE_NFD); break;
        case Step::nfkd: unicode_normalize(s, G_NORMALIZE_NFKD); break;
        case Step::prepend:
            if (!s.empty()) s.insert(0, n.text);
            break;
        case Step::replace: {
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
        case Step::lowercase: {
            if (find_invalid_utf8(s) == std::string::npos) {
                s = by_runs(s, false, [](const gchar* p, gssize len) { return g_utf8_strdown(p, len); });
            } else {
                for (char& c : s)
                    c = char(g_ascii_tolower(c));
            }
            break;
        }
        case Step::strip: {
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

} // namespace attnscope
