// Byte-level BPE tokenizer (GPT-2 style), read from a Hugging Face tokenizer.json or from
// vocab.json + merges.txt, giving exactly the ids of OpenAI's GPT-2 encoder and Hugging Face.
//
//   Tokenizer tok = Tokenizer::load("path/to/gpt2");       // tokenizer.json wins over vocab+merges
//   std::vector<int32_t> ids = tok.encode("Hello world");  // {15496, 995}
//   std::string text = tok.decode(ids);                    // "Hello world" (bytes, as encoded)
//   std::string label = tok.display(ids[1]);               // " world": readable, for plot labels
//   tok.encode("a<|endoftext|>", {.allow_special = true}); // special tokens only when asked
//
// Any byte sequence is accepted: text is pre-tokenized with GPT-2's pattern (PCRE2, full Unicode
// classes), invalid UTF-8 bytes become words of their own, and every byte has a token.
// Thread-safe: encode() may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

struct EncodeOptions {
    bool allow_special = false; // recognise special tokens (<|endoftext|>) in the text
};

class Tokenizer {
  public:
    // A directory with tokenizer.json, or vocab.json + merges.txt.
    static Tokenizer load(const std::string& dir);
    static Tokenizer from_tokenizer_json(const std::string& path);
    static Tokenizer from_vocab_merges(const std::string& vocab_path, const std::string& merges_path);

    std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
    // The bytes the ids stand for (special tokens as their text).
    std::string decode(const std::vector<int32_t>& ids) const;
    // A token as readable text for labels: its bytes as UTF-8, with control characters and
    // bytes that are not valid UTF-8 escaped (\n, \t, \xNN).
    std::string display(int32_t id) const;
    std::vector<std::string> display(const std::vector<int32_t>& ids) const;

    int32_t vocab_size() const;                                      // largest id + 1
    std::optional<int32_t> token_id(const std::string& token) const; // by vocabulary string ("Ġthe")
    const std::string& source() const;                               // the file(s) it was read from

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

  private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// GPT-2's byte <-> printable-character map: byte b is written as the code point byte_to_unicode(b)
// in the vocabulary (printable Latin-1 maps to itself; space is U+0120 'Ġ', newline U+010A 'Ċ').
uint32_t byte_to_unicode(uint8_t b);

} // namespace attnscope
