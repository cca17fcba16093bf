// ModelConfig: the hyper-parameters the engine needs, read from a Hugging Face config.json.
//
//   ModelConfig cfg = read_model_config(dir + "/config.json");   // dispatches on model_type
//   printf("%d layers x %d heads, width %d\n", cfg.n_layer, cfg.n_head, cfg.n_embd);
//
// Field names follow GPT-2's config (and llama.cpp's naming); other architectures map theirs
// onto these in their own file. Besides sizes, the config holds the description the one decoder
// forward reads (docs/design.md §1, §3): model-wide (norm kind, positions, heads, LM head) and per
// layer (LayerSpec: window, rotary settings, norm placement, block order, q/k norm, MLP).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

enum class Activation { gelu_tanh, gelu_erf, relu, silu };
const char* activation_name(Activation a);

enum class NormKind { layer_norm, rms_norm };    // LayerNorm (weight, bias) or RMSNorm (weight)
enum class PositionKind { learned, rotary };     // a position table added to x, or RoPE on q, k
enum class MlpKind { plain, gated };             // act(x W_in) W_out, or (act(x W_gate) * x W_up) W_down
enum class RopeScaling { none, linear, llama3 }; // Hugging Face rope_scaling rope_type
// Which of a head's rotary dimensions form the rotated pairs: (i, i + r/2) as rotate_half
// (Llama, GPT-NeoX), or (2i, 2i + 1) (GPT-J).
enum class RotaryPairs { half_split, interleaved };
// Where a sublayer's norm stands: before it (x + f(norm(x))), after it (x + norm(f(x)): OLMo 2),
// or both (x + norm_post(f(norm(x))): Gemma 2).
enum class NormPlacement { pre, post, pre_and_post };
// The q/k norm (RMSNorm): none, over each head's d values (Qwen3), or over the whole projection's
// H d values (OLMo 2).
enum class QkNorm { none, per_head, whole };

struct RopeConfig {
    float theta = 10000.0f; // rope_theta: inv_freq_i = theta^(-2i/r), r the rotary width
    RopeScaling scaling = RopeScaling::none;
    float factor = 1.0f;                                   // linear and llama3
    float low_freq_factor = 1.0f, high_freq_factor = 4.0f; // llama3
    int original_max_position_embeddings = 8192;           // llama3
    bool operator==(const RopeConfig&) const = default;
};

// One block as the forward runs it: everything that may differ from layer to layer (Gemma 2/3
// alternate windowed and global layers with different rotary bases). A family's file fills one per
// layer from config.json; the forward reads nothing else about a block.
struct LayerSpec {
    int sliding_window = 0; // > 0: query i sees keys i - window < j <= i (Mistral); 0: all j <= i
    RopeConfig rope;        // when the model's positions are rotary
    int rotary_dim = 0;     // the leading dimensions of each head that rotate (even, <= d_head)
    RotaryPairs rotary_pairs = RotaryPairs::half_split;
    NormPlacement norm_placement = NormPlacement::pre;
    // Attention and MLP both read the block's input and add to it together (GPT-NeoX:
    // x + attn(ln1(x)) + mlp(ln2(x))); false: the MLP reads x + attn(...) (sequential).
    bool parallel = false;
    QkNorm qk_norm = QkNorm::none; // before rotary
    float clip_qkv = 0.0f;         // > 0: q, k, v clamped to [-clip_qkv, clip_qkv] (OLMo)
    MlpKind mlp = MlpKind::plain;
    Activation activation = Activation::gelu_tanh;
    bool operator==(const LayerSpec&) const = default;
};

struct ModelConfig {
    std::string model_type;   // HF model_type, e.g. "gpt2"
    std::string architecture; // HF architectures[0] if present, e.g. "GPT2LMHeadModel"
    int n_layer = 0;
    int n_head = 0;                       // query heads H
    int n_kv_head = 0;                    // key/value heads (grouped-query attention; = n_head without it)
    int n_embd = 0;                       // D, the residual width
    int d_head = 0;                       // d (n_embd / n_head unless the config says otherwise, as Qwen3's)
    int n_inner = 0;                      // MLP hidden width F (4 * n_embd unless set)
    int vocab_size = 0;                   // V
    int n_positions = 0;                  // longest sequence the model takes (position table, max_position_embeddings)
    float ln_eps = 1e-5f;                 // layer_norm_epsilon / rms_norm_eps
    NormKind norm = NormKind::layer_norm; // every norm of the model (a LayerNorm may lack weight and bias: OLMo)
    PositionKind positions = PositionKind::learned;
    std::vector<LayerSpec> layers;                // [n_layer]: each block's description
    bool qkv_bias = false;                        // separate q/k/v projections carry biases (Qwen2; attention_bias)
    bool out_bias = false;                        // the output projection carries one (attention_bias, not Qwen2)
    bool scale_attn_weights = true;               // divide scores by sqrt(d_head)
    bool scale_attn_by_inverse_layer_idx = false; // and by (il + 1)
    bool causal = true;
    bool tie_word_embeddings = true;    // the LM head is wte; false: the checkpoint's lm_head.weight
    int bos_token_id = -1;              // config.json's, -1 when it names none
    std::vector<int32_t> eos_token_ids; // config.json's eos_token_id (one id or a list)

    const LayerSpec& layer(int il) const { return layers[size_t(il)]; }
    int q_width() const { return n_head * d_head; }     // H d
    int kv_width() const { return n_kv_head * d_head; } // H_kv d
};

// Limits: configs beyond these are refused before anything is allocated.
constexpr int64_t kMaxLayers = 1024, kMaxHeads = 1024, kMaxEmbd = 1 << 16, kMaxVocab = 1 << 22, kMaxPositions = 1 << 20;

// Read config.json and dispatch on model_type to the architecture's parser.
ModelConfig read_model_config(const std::string& path);

// The parsers' shared readers: rope_theta (under `theta_key`) and rope_scaling (none, linear,
// llama3; anything else refused naming the file), and an activation name as Hugging Face's ACT2FN
// spells it (refused with the supported list, naming `key`).
RopeConfig parse_rope(const nlohmann::json& j, const std::string& path, const char* theta_key = "rope_theta",
                      double theta_default = 10000.0);
Activation parse_activation(const std::string& name, const std::string& path, const char* key);

} // namespace attnscope
