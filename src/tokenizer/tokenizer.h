// Tokenizers of Hugging Face models, read from what the model ships: a tokenizer.json (Hugging
// Face's fast tokenizers: normalizer, pre-tokenizer, BPE model, added tokens, post-processor,
// decoder), GPT-2's vocab.json + merges.txt, a GGUF file's vocabulary (llama.cpp), or a llama2.c
// tokenizer.bin. The ids are those of Hugging Face's `tokenizer(text)["input_ids"]`.
//
//   Tokenizer tok = Tokenizer::load("path/to/model");       // folder, tokenizer.json or .gguf
//   std::vector<int32_t> ids = tok.encode("Hello world");  // Llama: {1, 15043, 3186} (BOS added)
//   tok.encode("Hello", {.add_special_tokens = false});    // without what the post-processor adds
//   std::string text = tok.decode(ids);                    // "Hello world" (bytes, as encoded)
//   std::string label = tok.display(ids[2]);               // " world": readable, for plot labels
//
// Any byte sequence is accepted: bytes that are not valid UTF-8 are their own pieces (byte-level
// vocabularies have a token for every byte; SentencePiece ones fall back to <0xNN> tokens or unk).
// Components a file names that attnscope does not implement are refused by name, never guessed.
// Thread-safe: encode() may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

struct TokenizerFile;

struct EncodeOptions {
    // Add what the post-processor adds (Llama's BOS), as Hugging Face does by default.
    bool add_special_tokens = true;
    // Recognise special added tokens written in the text ("<|endoftext|>", "<s>"), as Hugging Face
    // does by default; false reads them as plain text (transformers' split_special_tokens=True).
    // Added tokens that are not special are always recognised.
    bool parse_special = true;
};

class Tokenizer {
  public:
    // A directory (tokenizer.json; else vocab.json + merges.txt; else SentencePiece's tokenizer.model;
    // else llama2.c's tokenizer.bin), or one such file, or a GGUF file.
    static Tokenizer load(const std::string& path);
    static Tokenizer from_tokenizer_json(const std::string& path);
    static Tokenizer from_vocab_merges(const std::string& vocab_path, const std::string& merges_path);
    static Tokenizer from_gguf(const std::string& path);
    static Tokenizer from_file(TokenizerFile file); // a description built in memory

    std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
    // The bytes the ids stand for (added tokens as their text), as the decoder writes them.
    std::string decode(const std::vector<int32_t>& ids) const;
    // A token as readable text for labels: its bytes as UTF-8, with control characters and
    // bytes that are not valid UTF-8 escaped (\n, \t, \xNN).
    std::string display(int32_t id) const;
    std::vector<std::string> display(const std::vector<int32_t>& ids) const;

    int32_t vocab_size() const;                                      // largest id + 1
    std::optional<int32_t> token_id(const std::string& token) const; // by vocabulary string ("Ġthe")
    bool is_special(int32_t id) const;                               // a special added token
    // The tokens the post-processor adds around one text (e.g. {"<s>"}), in order.
    std::vector<std::string> added_special_tokens() const;
    const std::string& source() const; // the file(s) it was read from

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
