// A tokenizer's description as Hugging Face's tokenizer.json holds it, and the formats that are
// turned into one: GGUF vocabularies, llama2.c tokenizer.bin, SentencePiece pieces with scores.
//
//   TokenizerFile f = read_tokenizer_json("tokenizer.json");   // fast: vocab and merges directly
//   TokenizerFile g = tokenizer_file_from_gguf("ggml-vocab-llama-spm.gguf");
//   write_tokenizer_json(g, "out/tokenizer.json");               // what convert writes
//   Tokenizer tok = Tokenizer::from_file(std::move(f));
//
// The components (normalizer, pre_tokenizer, post_processor, decoder, added_tokens, the model's
// settings) stay JSON; Tokenizer::from_file interprets and validates them. The vocabulary and the
// merges, most of a file's bytes, are read by a purpose-built scanner, not a JSON DOM.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnscope {

// Strings kept end to end in one buffer (hundreds of thousands of short strings without an
// allocation each).
class StringTable {
  public:
    void add(std::string_view s) {
        pool_.append(s);
        ends_.push_back(pool_.size());
    }
    std::string_view operator[](size_t i) const {
        const size_t b = i ? ends_[i - 1] : 0;
        return {pool_.data() + b, ends_[i] - b};
    }
    // Entries i and i + 1 as one string (they are adjacent in the buffer).
    std::string_view joined(size_t i) const {
        const size_t b = i ? ends_[i - 1] : 0;
        return {pool_.data() + b, ends_[i + 1] - b};
    }
    size_t size() const { return ends_.size(); }
    void reserve(size_t n, size_t bytes) {
        ends_.reserve(n);
        pool_.reserve(bytes);
    }

  private:
    std::string pool_;
    std::vector<size_t> ends_;
};

struct TokenizerFile {
    std::string source;                      // the file(s) it was read from, for errors
    nlohmann::json normalizer, pre_tokenizer; // null when absent
    nlohmann::json post_processor, decoder;   // null when absent
    nlohmann::json added_tokens = nlohmann::json::array();
    nlohmann::json model = nlohmann::json::object(); // the model object without vocab and merges
    StringTable vocab_tokens;                        // model.vocab, in file order: token i
    std::vector<int64_t> vocab_ids;                  // ... and its id
    StringTable merge_parts;                         // model.merges: left of merge k at 2k, right at 2k + 1

    void add_vocab(std::string_view token, int64_t id) {
        vocab_tokens.add(token);
        vocab_ids.push_back(id);
    }
    void add_merge(std::string_view left, std::string_view right) {
        merge_parts.add(left);
        merge_parts.add(right);
    }
    size_t n_vocab() const { return vocab_ids.size(); }
    size_t n_merges() const { return merge_parts.size() / 2; }
};

// Parse a tokenizer.json (its text, `label` naming it in errors), or read one from a file.
TokenizerFile parse_tokenizer_json(std::string_view text, const std::string& label);
TokenizerFile read_tokenizer_json(const std::string& path);
// Serialise (merges as ["a", "b"] pairs); written under a temporary name, renamed when complete.
std::string tokenizer_json_text(const TokenizerFile& f);
void write_tokenizer_json(const TokenizerFile& f, const std::string& path);

// A SentencePiece BPE vocabulary: pieces ("▁the", "<0x0A>"), scores and types as SentencePiece
// numbers them (1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte).
struct SentencePieceVocab {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<int32_t> types;
    int32_t bos_id = -1, eos_id = -1, unk_id = -1;
    bool add_bos = true, add_eos = false;
    bool add_dummy_prefix = true; // "▁" before the text
};
// The tokenizer.json Hugging Face's Llama converter makes of it: BPE with byte fallback, merges
// derived from the scores (every split of a piece into two pieces of the vocabulary, ordered by the
// merged piece's score, highest first), "▁" prepended and spaces replaced by "▁", BOS added.
TokenizerFile sentencepiece_tokenizer(const SentencePieceVocab& v, const std::string& source);
// llama2.c's tokenizer.bin: int32 max token length, then per token float score, int32 length, bytes
// (spaces for "▁"; BOS and EOS written as "\n<s>\n", "\n</s>\n").
SentencePieceVocab read_llama2c_tokenizer(const std::string& path);
// SentencePiece's own tokenizer.model (a protobuf ModelProto): pieces, scores, types, the special
// ids and add_dummy_prefix. BPE models only (Llama 2, Mistral, llama2.c); Unigram ones are refused.
SentencePieceVocab read_sentencepiece_model(const std::string& path);
// A GGUF file's tokenizer (tokenizer.ggml.model "llama" or "gpt2").
TokenizerFile tokenizer_file_from_gguf(const std::string& path);

} // namespace attnscope
