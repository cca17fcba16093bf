// Pre-tokenizers cut normalized text into words, which BPE never merges across. A step maps
// pieces to pieces: Split (a pattern and one of Hugging Face's five behaviors for the matches:
// removed, isolated, merged with the previous or the next piece, contiguous), ByteLevel (GPT-2's
// pattern, and a space before each piece when add_prefix_space), Metaspace (spaces to "▁", a
// "▁" before the text as prepend_scheme says, cut before each "▁"), Digits (a Split on \p{N}).
#include "core/error.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/stages.h"

#include <algorithm>

namespace attnscope {

void PreTokenizer::read(const nlohmann::json& j, const std::string& where) {
    if (j.is_null()) return;
    const std::string t = component_type(j, where);
    if (t == "Sequence") {
        if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
            throw Error(cat(where, ": Sequence needs an array 'pretokenizers'"));
        for (size_t i = 0; i < j["pretokenizers"].size(); ++i)
            read(j["pretokenizers"][i], cat(where, ".pretokenizers[", i, "]"));
        return;
    }
    if (byte_level_)
        throw Error(cat(where, ": '", t, "' comes after ByteLevel"),
                    "attnscope expects ByteLevel to be the last pre-tokenizer; please report the model");
    Step s{};
    if (t == "Split") {
        s.kind = Step::split;
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
        s.kind = Step::split;
        const bool individual = json_bool_or(j, "individual_digits", where, false);
        s.pattern = Pattern::read({{"Regex", individual ? "\\p{N}" : "\\p{N}+"}}, where);
        s.has_pattern = true;
    } else if (t == "ByteLevel") {
        s.kind = Step::byte_level;
        s.add_prefix_space = json_bool_or(j, "add_prefix_space", where, true);
        if (json_bool_or(j, "use_regex", where, true)) {
            s.pattern = Pattern::read(
                {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}, where);
            s.has_pattern = true;
        }
        byte_level_ = true;
    } else if (t == "Metaspace") {
        s.kind = Step::metaspace;
        s.replacement = json_string_or(j, "replacement", where, "\xE2\x96\x81");
        if (s.replacement.empty() || utf8_length(s.replacement, 0) != s.replacement.size())
            throw Error(cat(where, ": Metaspace replacement '", s.replacement, "' should be one character"));
        std::string scheme = json_string_or(j, "prepend_scheme", where, "");
        if (scheme.empty()) scheme = json_bool_or(j, "add_prefix_space", where, true) ? "always" : "never";
        if (scheme == "always") s.prepend = Step::always;
        else if (scheme == "first") s.prepend = Step::first;
        else if (scheme == "never") s.prepend = Step::never;
        else throw Error(cat(where, ": Metaspace prepend_scheme '", scheme, "' is not always, first or never"));
        s.split_on_replacement = json_bool_or(j, "split", where, true);
    } else {
        throw Error(cat(where, ": pre-tokenizer '", t, "' is not supported"),
                    "supported: Sequence, Split, ByteLevel, Metaspace, Digits");
    }
    steps_.push_back(std::move(s));
}

// Split each piece by the step's pattern with its behavior (as Hugging Face's NormalizedString::split).
void PreTokenizer::split(const Step& st, std::vector<Piece>& pieces) {
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

void PreTokenizer::apply(std::vector<Piece>& pieces, std::forward_list<std::string>& arena) const {
    for (const Step& st : steps_) {
        if (st.kind == Step::byte_level) {
            if (st.add_prefix_space)
                for (Piece& p : pieces)
                    if (!p.text.empty() && p.text[0] != ' ') {
                        arena.push_front(cat(" ", p.text));
                        p.text = arena.front();
                    }
            if (st.has_pattern) split(st, pieces);
        } else if (st.kind == Step::metaspace) {
            for (Piece& p : pieces) {
                std::string s;
                s.reserve(p.text.size() + 3);
                for (char c : p.text)
                    if (c == ' ') s += st.replacement;
                    else s += c;
                const bool prepend = st.prepend == Step::always || (st.prepend == Step::first && p.first);
                if (prepend && !s.empty() && s.rfind(st.replacement, 0) != 0) s.insert(0, st.replacement);
                arena.push_front(std::move(s));
                p.text = arena.front();
            }
            if (st.split_on_replacement) {
                Step sp;
                sp.kind = Step::split;
                sp.pattern.literal = st.replacement;
                sp.behavior = Behavior::merged_with_next;
                split(sp, pieces);
            }
        } else {
            split(st, pieces);
        }
    }
}

} // namespace attnscope
