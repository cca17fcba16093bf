// ModelConfig: the hyper-parameters the engine needs, read from a Hugging Face config.json.
//
//   ModelConfig cfg = read_model_config(dir + "/config.json");   // dispatches on model_type
//   printf("%d layers x %d heads, width %d\n", cfg.n_layer, cfg.n_head, cfg.n_embd);
//
// Field names follow GPT-2's config (and llama.cpp's naming); other architectures map theirs
// onto these in their own file. Besides sizes, the config holds the small description of the
// block that the one decoder forward reads (docs/design.md §1, §3): norm kind, positions and rotary
// settings, MLP kind and activation, query and key/value heads, q/k norms, attention window.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

enum class Activation { gelu_tanh, gelu_erf, relu, silu };
const char* activation_name(Activation a);

enum class NormKind { layer_norm, rms_norm };         // LayerNorm (weight, bias) or RMSNorm (weight)
enum class PositionKind { learned, rotary };          // a position table added to x, or RoPE on q, k
enum class MlpKind { plain, gated };                  // act(x W_in) W_out, or (act(x W_gate) * x W_up) W_down
enum class RopeScaling { none, linear, llama3 };       // Hugging Face rope_scaling rope_type

struct RopeConfig {
    float theta = 10000.0f; // rope_theta: inv_freq_i = theta^(-2i/d)
    RopeScaling scaling = RopeScaling::none;
    float factor = 1.0f;                                    // linear and llama3
    float low_freq_factor = 1.0f, high_freq_factor = 4.0f;  // llama3
    int original_max_position_embeddings = 8192;            // llama3
};

struct ModelConfig {
    std::string model_type;   // HF model_type, e.g. "gpt2"
    std::string architecture; // HF architectures[0] if present, e.g. "GPT2LMHeadModel"
    int n_layer = 0;
    int n_head = 0;       // query heads H
    int n_kv_head = 0;    // key/value heads (grouped-query attention; = n_head without it)
    int n_embd = 0;       // D, the residual width
    int d_head = 0;       // d (n_embd / n_head unless the config says otherwise, as Qwen3's)
    int n_inner = 0;      // MLP hidden width F (4 * n_embd unless set)
    int vocab_size = 0;   // V
    int n_positions = 0;  // longest sequence the model takes (position table, max_position_embeddings)
    float ln_eps = 1e-5f; // layer_norm_epsilon / rms_norm_eps
    Activation activation = Activation::gelu_tanh;
    NormKind norm = NormKind::layer_norm;
    PositionKind positions = PositionKind::learned;
    RopeConfig rope;     // when positions == rotary
    MlpKind mlp = MlpKind::plain;
    bool qk_norm = false;   // RMSNorm of each head's q and k (Qwen3) before rotary
    bool qkv_bias = false;  // separate q/k/v projections carry biases (Qwen2; attention_bias)
    bool out_bias = false;  // the output projection carries one (attention_bias, not Qwen2)
    int sliding_window = 0; // > 0: query i sees keys i - window < j <= i (Mistral); 0: all j <= i
    bool scale_attn_weights = true;               // divide scores by sqrt(d_head)
    bool scale_attn_by_inverse_layer_idx = false; // and by (il + 1)
    bool causal = true;
    bool tie_word_embeddings = true; // the LM head is wte; false: the checkpoint's lm_head.weight
    int bos_token_id = -1;                  // config.json's, -1 when it names none
    std::vector<int32_t> eos_token_ids;     // config.json's eos_token_id (one id or a list)

    // Parameter count of the weights the engine uses (lm_head counted once when tied).
    int64_t n_params() const;
    int q_width() const { return n_head * d_head; }    // H d
    int kv_width() const { return n_kv_head * d_head; } // H_kv d
};

// Limits: configs beyond these are refused before anything is allocated.
constexpr int64_t kMaxLayers = 1024, kMaxHeads = 1024, kMaxEmbd = 1 << 16, kMaxVocab = 1 << 22, kMaxPositions = 1 << 20;

// Read config.json and dispatch on model_type to the architecture's parser.
ModelConfig read_model_config(const std::string& path);

} // namespace attnscope
