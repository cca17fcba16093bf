// Added tokens (special ones such as "<|endoftext|>" or "<s>", and others a model added to its
// vocabulary) are found in the text before anything else, as Hugging Face's AddedVocabulary does:
// at each position the longest token that starts there, scanning left to right; lstrip and rstrip
// take the whitespace beside a token into it, single_word wants no word character on either side.
// Tokens marked `normalized` are looked for again after the normalizer, in the text between the
// others. Most vocabularies start every added token with one byte ('<'): memchr jumps to it.
#include "core/error.h"
#include "core/utf8.h"
#include "io/json.h"
#include "tokenizer/stages.h"

#include <glib.h>

#include <algorithm>
#include <cstring>

namespace attnscope {

void AddedTokens::read(const nlohmann::json& added, const std::string& where) {
    for (const auto& t : added) {
        if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id") ||
            !t["id"].is_number_integer())
            throw Error(cat(where, ": entries need a string 'content' and an integer 'id', found ", t.dump()));
        Token a;
        a.content = t["content"].get<std::string>();
        if (a.content.empty()) throw Error(cat(where, ": an added token with empty content (id ", t["id"].dump(), ")"));
        const int64_t id = t["id"].get<int64_t>();
        if (id < 0 || id >= (int64_t(1) << 24))
            throw Error(cat(where, ": token '", a.content, "' has id ", id, ", expected 0 <= id < 16777216"));
        a.id = int32_t(id);
        a.special = json_bool_or(t, "special", where, false);
        a.lstrip = json_bool_or(t, "lstrip", where, false);
        a.rstrip = json_bool_or(t, "rstrip", where, false);
        a.single_word = json_bool_or(t, "single_word", where, false);
        a.normalized = json_bool_or(t, "normalized", where, !a.special);
        tokens_.push_back(std::move(a));
    }
}

void AddedTokens::finish(bool has_normalizer) {
    for (size_t i = 0; i < tokens_.size(); ++i)
        by_byte_[uint8_t(tokens_[i].content[0])].push_back(uint32_t(i));
    for (int c = 0; c < 256; ++c)
        if (!by_byte_[c].empty()) single_first_byte_ = single_first_byte_ == -1 ? c : -2;
    if (single_first_byte_ < 0) single_first_byte_ = -1;
    for (auto& v : by_byte_)
        std::stable_sort(v.begin(), v.end(),
                         [&](uint32_t x, uint32_t y) { return tokens_[x].content.size() > tokens_[y].content.size(); });
    any_normalized_ = has_normalizer && std::any_of(tokens_.begin(), tokens_.end(), [](const Token& a) { return a.normalized; });
}

size_t AddedTokens::next_byte(std::string_view text, size_t i) const {
    const void* at = std::memchr(text.data() + i, single_first_byte_, text.size() - i);
    return at ? size_t(static_cast<const char*>(at) - text.data()) : text.size();
}

const AddedTokens::Token* AddedTokens::match_at(std::string_view text, size_t i, size_t start, bool normalized_group,
                                                bool parse_special, size_t* b_out, size_t* e_out) const {
    auto word_char = [&](size_t at) {
        const size_t n = utf8_length(text, at);
        if (!n) return false;
        const gunichar c = decode_utf8(text, at, n);
        return g_unichar_isalnum(c) || c == '_';
    };
    const Token* hit = nullptr;
    for (uint32_t k : by_byte_[uint8_t(text[i])]) {
        const Token& a = tokens_[k];
        if (any_normalized_ && a.normalized != normalized_group) continue;
        if (!parse_special && a.special) continue;
        if (text.compare(i, a.content.size(), a.content) != 0) continue;
        if (a.single_word) {
            if (i > 0) {
                size_t b = i - 1;
                while (b > 0 && (uint8_t(text[b]) & 0xC0) == 0x80) --b;
                if (word_char(b)) continue;
            }
            const size_t after = i + a.content.size();
            if (after < text.size() && word_char(after)) continue;
        }
        hit = &a;
        break;
    }
    if (!hit) return nullptr;
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
    *b_out = b, *e_out = e;
    return hit;
}

} // namespace attnscope
