// Normalizers: each rewrites the text before it is cut into words, in the order the file lists
// them. Unicode normalization (NFC, NFKC, NFD, NFKD) and lowercasing are GLib's; text that is not
// valid UTF-8 is normalized run by run, its invalid bytes kept as they are.
#include "core/error.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/stages.h"

#include <glib.h>

namespace attnscope {

namespace {

void unicode_normalize(std::string& s, GNormalizeMode mode) {
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
                gchar* l = g_utf8_strdown(s.data(), gssize(s.size()));
                s = l;
                g_free(l);
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
