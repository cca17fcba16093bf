// ModelConfig: the hyper-parameters the engine needs, read from a Hugging Face config.json.
//
//   ModelConfig cfg = read_model_config(dir + "/config.json");   // dispatches on model_type
//   printf("%d layers x %d heads, width %d\n", cfg.n_layer, cfg.n_head, cfg.n_embd);
//
// Field names follow GPT-2's config (and llama.cpp's naming); other architectures map theirs
// onto these in their own file.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace attnscope {

enum class Activation { gelu_tanh, gelu_erf, relu };
const char* activation_name(Activation a);

struct ModelConfig {
    std::string model_type;   // HF model_type, e.g. "gpt2"
    std::string architecture; // HF architectures[0] if present, e.g. "GPT2LMHeadModel"
    int n_layer = 0;
    int n_head = 0;
    int n_embd = 0;       // D, the residual width
    int d_head = 0;       // n_embd / n_head
    int n_inner = 0;      // MLP hidden width (4 * n_embd unless set)
    int vocab_size = 0;   // V
    int n_positions = 0;  // longest sequence the position table covers
    float ln_eps = 1e-5f; // layer_norm_epsilon
    Activation activation = Activation::gelu_tanh;
    bool scale_attn_weights = true;               // divide scores by sqrt(d_head)
    bool scale_attn_by_inverse_layer_idx = false; // and by (il + 1)
    bool causal = true;
    bool tie_word_embeddings = true; // the LM head is wte; false: the checkpoint's lm_head.weight

    // Parameter count of the weights the engine uses (lm_head counted once when tied).
    int64_t n_params() const;
};

// Limits: configs beyond these are refused before anything is allocated.
constexpr int64_t kMaxLayers = 1024, kMaxHeads = 1024, kMaxEmbd = 1 << 16, kMaxVocab = 1 << 22, kMaxPositions = 1 << 20;

// Read config.json and dispatch on model_type to the architecture's parser.
ModelConfig read_model_config(const std::string& path);

} // namespace attnscope
