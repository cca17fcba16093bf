// The stages of the tokenizer pipeline, one file each, as a tokenizer.json describes them (an
// internal header: tokenizer.h is the interface). Tokenizer::Impl (tokenizer.cpp) reads a
// TokenizerFile into them, then runs them in Hugging Face's order:
//
//   AddedTokens::split (raw text)  ->  Normalizer::apply  ->  AddedTokens::split (normalized ones)
//   ->  PreTokenizer::apply (words)  ->  BpeModel::encode_word (ids)  ->  post-processor template
//
//   Normalizer n;  n.read(j["normalizer"], "tokenizer.json: normalizer");
//   std::string s = n.apply("Hello world");            // e.g. "▁Hello▁world"
//   PreTokenizer p;  p.read(j["pre_tokenizer"], ...);
//   std::vector<Piece> words{{s, true}};  std::forward_list<std::string> arena;
//   p.apply(words, arena);                             // words now views of s or of arena
#pragma once

#include "tokenizer/flat_map.h"
#include "tokenizer/tokenizer_file.h"

#include <cstdint>
#include <forward_list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

typedef struct pcre2_real_code_8 pcre2_code_8;

namespace attnscope {

// ---- shared (byte_level.cpp) ----

// GPT-2's byte symbols: byte b is written as byte_to_unicode(b) (tokenizer.h). A vocabulary string
// ("Ġthe") back to its bytes (" the"); false if a character is not a byte symbol.
bool vocab_string_to_bytes(std::string_view s, std::string* out);
// A byte's symbol, appended as UTF-8.
void append_byte_symbol(std::string& out, uint8_t b);
// Unicode's White_Space property: what Rust's char::is_whitespace and Hugging Face's regex engine
// (Oniguruma) call whitespace. U+0085 is; U+180E, U+200B and U+FEFF are not.
bool is_white_space(uint32_t c);
// A component's "type" field; throws naming `where` when absent.
std::string component_type(const nlohmann::json& j, const std::string& where);

// ---- patterns (pattern.cpp) ----

// A regular expression as Hugging Face's engine reads it, compiled with PCRE2 (UTF, Unicode
// properties, JIT; \s and \S rewritten to White_Space).
class Regex {
  public:
    Regex(const std::string& pattern, const std::string& where);
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;
    ~Regex();
    // Every non-empty match in s, as (begin, end) byte offsets, left to right.
    void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

  private:
    pcre2_code_8* code_ = nullptr;
};

// A Split / Replace pattern: {"String": "x"} (literal) or {"Regex": "..."}.
struct Pattern {
    std::string literal;
    std::unique_ptr<Regex> regex;
    static Pattern read(const nlohmann::json& j, const std::string& where);
    void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;
};

// ---- normalizer.cpp ----

class Normalizer {
  public:
    void read(const nlohmann::json& j, const std::string& where); // null: none
    bool empty() const { return steps_.empty(); }
    std::string apply(std::string_view text) const;

  private:
    struct Step {
        enum Kind { nfc, nfkc, nfd, nfkd, replace, prepend, lowercase, strip } kind;
        Pattern pattern;                  // replace
        std::string text;                 // replace: content; prepend: what is prepended
        bool left = false, right = false; // strip
    };
    std::vector<Step> steps_;
};

// ---- pre_tokenizer.cpp ----

// A piece of text during pre-tokenization; `first` when it starts at the start of the input.
struct Piece {
    std::string_view text;
    bool first;
};

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

class PreTokenizer {
  public:
    void read(const nlohmann::json& j, const std::string& where); // null: none
    // True when a ByteLevel step maps text to byte symbols (it must be the last step).
    bool byte_level() const { return byte_level_; }
    // Cut every piece into words; rewritten pieces live in `arena`.
    void apply(std::vector<Piece>& pieces, std::forward_list<std::string>& arena) const;

  private:
    struct Step {
        enum Kind { split, byte_level, metaspace } kind;
        Pattern pattern; // split (ByteLevel's regex, Digits as a regex)
        bool has_pattern = false;
        Behavior behavior = Behavior::isolated;
        bool invert = false;
        bool add_prefix_space = false; // byte_level
        std::string replacement;       // metaspace
        enum Prepend { always, first, never } prepend = always;
        bool split_on_replacement = true; // metaspace
    };
    static void split(const Step& st, std::vector<Piece>& pieces);
    std::vector<Step> steps_;
    bool byte_level_ = false;
};

// ---- added_tokens.cpp ----

class AddedTokens {
  public:
    struct Token {
        std::string content;
        int32_t id;
        bool special, lstrip, rstrip, single_word, normalized;
    };
    // Reads the file's added_tokens (validated; ids checked by the caller).
    void read(const nlohmann::json& added, const std::string& where);
    // After read: index by first byte; with a normalizer, tokens marked normalized are matched
    // apart, in the normalized text (split_after_normalizing).
    void finish(bool has_normalizer);
    const std::vector<Token>& tokens() const { return tokens_; }
    // True when some tokens are matched in normalized text (a normalizer and normalized tokens).
    bool split_after_normalizing() const { return any_normalized_; }
    // Split `text` by the tokens of one group (normalized == `normalized_group`, or all when no
    // normalizer makes a difference), leftmost and longest first, with lstrip/rstrip/single_word;
    // calls out(piece, -1, offset) for the text between them and out({}, id, offset) for tokens.
    template <class Out>
    void split(std::string_view text, bool normalized_group, bool parse_special, Out&& out) const {
        if (tokens_.empty()) {
            out(text, -1, size_t(0));
            return;
        }
        size_t start = 0, i = 0; // the pending text starts at `start`
        while (i < text.size()) {
            if (single_first_byte_ >= 0) { // most vocabularies: every added token starts with '<'
                i = next_byte(text, i);
                if (i >= text.size()) break;
            }
            size_t b = 0, e = 0;
            const Token* hit = match_at(text, i, start, normalized_group, parse_special, &b, &e);
            if (!hit) {
                ++i;
                continue;
            }
            if (b > start) out(text.substr(start, b - start), -1, start);
            out(std::string_view(), hit->id, b);
            start = i = e;
        }
        if (start < text.size() || start == 0) out(text.substr(start), -1, start);
    }

  private:
    size_t next_byte(std::string_view text, size_t i) const;
    // The token matched at text[i] and the span it takes (with stripped whitespace), or null.
    const Token* match_at(std::string_view text, size_t i, size_t start, bool normalized_group, bool parse_special,
                          size_t* b, size_t* e) const;
    std::vector<Token> tokens_;
    std::vector<uint32_t> by_byte_[256]; // first byte -> indices into tokens_, longest first
    bool any_normalized_ = false;
    int single_first_byte_ = -1; // the first byte of every token, when they share one
};

// ---- bpe.cpp ----

class BpeModel {
  public:
    // model.vocab, model.merges and the model's settings; `byte_level` from the pre-tokenizer.
    void read(const TokenizerFile& f, bool byte_level);
    // After added tokens joined the vocabulary: byte tokens, byte fallback tokens, word cutting.
    void finish(const std::string& where);
    // BPE over one word, appending its ids.
    void encode_word(std::string_view word, std::vector<int32_t>& out) const;

    TokenMap vocab; // vocabulary string -> id, as the file writes it (added tokens too)
    int32_t max_id = -1;
    bool byte_level = false;

  private:
    void bpe(std::string_view word, std::vector<int32_t>& out) const;
    bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
    int32_t unk_id_ = -1;
    int32_t byte_token_[256];     // byte-level: byte -> id
    int32_t fallback_token_[256]; // "<0xNN>" -> id, or -1
    PairMap merges_;              // (left id, right id) -> (rank, merged id)
    // SentencePiece vocabularies without a pre-tokenizer see a whole paragraph as one word. When
    // no token holds "▁" after another character, no token can span a "▁" that follows another
    // character: the word is then cut there, exactly, and the pieces are cached as words.
    bool cut_before_space_symbol_ = false;
    mutable std::mutex cache_mutex_;
    mutable WordCache cache_;
};

} // namespace attnscope
