// llama2.c checkpoints (Karpathy's run.c format, "legacy" version 0) into Hugging Face
// directories that load like any Llama checkpoint.
//
//   Llama2cInfo info = convert_llama2c("stories260K.bin", "tok512.model", "out/stories260K");
//   auto model = Model::load("out/stories260K");                // model_type llama
//
// The file: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative when
// the classifier is not the embedding — and seq_len), then float32 tensors: token embedding,
// attention norms, wq, wk, wv, wo, FFN norms, w1 (gate), w2 (down), w3 (up), final norm, the
// rotary tables (freq_cis real and imaginary, not needed), and the classifier when not shared.
// Every size is checked against the file's length before anything is read. llama2.c rotates
// interleaved pairs (2i, 2i+1) where Hugging Face rotates halves (i, i + d/2), so the rows of wq
// and wk are permuted within each head (the same permutation Hugging Face's own conversion
// applies); RMSNorm eps is llama2.c's 1e-5, rope theta 10000.
#pragma once

#include <cstdint>
#include <string>

namespace attnscope {

struct Llama2cInfo {
    int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
    bool shared_classifier = true;
    int64_t n_params = 0;
};

// Reads `bin`, writes out_dir/config.json and out_dir/model.safetensors (F32), and copies the
// tokenizer file when given (tokenizer.model for SentencePiece, tokenizer.bin for llama2.c's own
// format). out_dir must not hold a config.json already. Throws Error naming the file.
Llama2cInfo convert_llama2c(const std::string& bin, const std::string& tokenizer, const std::string& out_dir);

// The header alone, validated against a file of `size` bytes (for tests and fuzzers).
Llama2cInfo read_llama2c_header(const uint8_t* data, size_t size, const std::string& label);

} // namespace attnscope
