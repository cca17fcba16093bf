// Patterns of Split pre-tokenizers and Replace normalizers. Regexes run through PCRE2 with UTF,
// Unicode properties and JIT; Hugging Face's engine (Oniguruma) reads \s as Unicode's White_Space,
// PCRE2 would not (it takes U+180E), so \s and \S are rewritten to that class first. Bytes that
// are not valid UTF-8 never match (PCRE2_MATCH_INVALID_UTF), so any input is accepted.
#include "core/error.h"
#include "core/utf8.h"
#include "tokenizer/stages.h"
#include "tokenizer/unicode_compat.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace attnscope {

namespace {

constexpr const char* kWhiteSpaceClass = R"(\t-\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000})";

// A pattern as Hugging Face's regex engine reads it, for PCRE2: \s and \S become White_Space;
// \p{X} and \pX of a general category get the code points Oniguruma classifies and PCRE2 10.42
// does not know (Unicode 14.0 to 16.0, unicode_compat.h), \P{X} their complement.
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
            } else if ((n == 'p' || n == 'P') && i + 1 < re.size()) {
                // the property's name: \p{Name} or one letter \pL
                size_t end = i + 1;
                std::string name;
                if (re[i + 1] == '{') {
                    end = re.find('}', i + 2);
                    if (end == std::string::npos) end = re.size() - 1;
                    name = re.substr(i + 2, end - i - 2);
                } else {
                    name = re.substr(i + 1, 1);
                }
                const std::string extra = name.rfind('^', 0) == 0 ? "" : category_additions(name);
                const std::string prop = re.substr(i - 1, end - i + 2);
                i = end;
                if (extra.empty()) {
                    out += prop;
                } else if (n == 'p') {
                    out += in_class ? prop + extra : cat("[", prop, extra, "]");
                } else {
                    if (in_class)
                        throw Error(cat(where, ": the pattern '", re, "' uses ", prop, " inside a character class"),
                                    "attnscope does not translate that form; please report the model");
                    out += cat("[^\\p", prop.substr(2), extra, "]");
                }
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

} // namespace

Regex::Regex(const std::string& pattern, const std::string& where) {
    const std::string p = translate_regex(pattern, where);
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                         PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
    if (!code_) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw Error(cat(where, ": the regular expression '", pattern, "' does not compile: ",
                        reinterpret_cast<char*>(msg), " (at offset ", off, ")"),
                    "attnscope reads patterns with PCRE2; please report the model");
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE); // falls back to the interpreter without JIT
}

Regex::~Regex() {
    if (code_) pcre2_code_free(code_);
}

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
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
        const int rc = pcre2_match(code_, subject, s.size(), pos, 0, md, nullptr);
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

Pattern Pattern::read(const nlohmann::json& j, const std::string& where) {
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

void Pattern::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
    if (regex) return regex->find_all(s, out);
    out.clear();
    for (size_t at = s.find(literal); at != std::string_view::npos; at = s.find(literal, at + literal.size()))
        out.emplace_back(at, at + literal.size());
}

} // namespace attnscope
