// The Llama family (Hugging Face model_type "llama", "mistral", "qwen2", "qwen3"): config keys
// and weight names, mapped onto the shared description — RMSNorm, rotary positions, a gated
// SiLU MLP, grouped-query attention — that the one decoder forward reads. The members differ
// only in data: Qwen2 has q/k/v biases, Qwen3 a per-head RMSNorm of q and k and a head width of
// its own, Mistral a sliding attention window. Projections are nn.Linear, stored [out, in].
#include "core/error.h"
#include "io/json.h"
#include "model/model.h"

#include <cmath>

namespace attnscope {

namespace {

RopeConfig parse_rope(const nlohmann::json& j, const std::string& path) {
    RopeConfig r;
    r.theta = float(json_number_or(j, "rope_theta", path, 10000.0));
    if (!(r.theta > 1)) throw Error(cat(path, ": rope_theta = ", r.theta, " must be above 1"));
    auto it = j.find("rope_scaling");
    if (it == j.end() || it->is_null()) return r;
    if (!it->is_object()) throw Error(cat(path, ": rope_scaling must be an object or null"));
    const nlohmann::json& s = *it;
    // HF names the kind rope_type (older configs: type)
    std::string type = json_string_or(s, "rope_type", path, "");
    if (type.empty()) type = json_string_or(s, "type", path, "default");
    if (type == "default") return r;
    r.factor = float(json_number_or(s, "factor", path, 1.0));
    if (!(r.factor >= 1)) throw Error(cat(path, ": rope_scaling.factor = ", r.factor, " must be at least 1"));
    if (type == "linear") {
        r.scaling = RopeScaling::linear;
    } else if (type == "llama3") {
        r.scaling = RopeScaling::llama3;
        r.low_freq_factor = float(json_number_or(s, "low_freq_factor", path, 1.0));
        r.high_freq_factor = float(json_number_or(s, "high_freq_factor", path, 4.0));
        r.original_max_position_embeddings =
            int(json_int_or(s, "original_max_position_embeddings", path, 1, kMaxPositions, 8192));
        if (!(r.low_freq_factor > 0 && r.high_freq_factor > r.low_freq_factor))
            throw Error(cat(path, ": rope_scaling needs 0 < low_freq_factor < high_freq_factor"));
    } else {
        throw Error(cat(path, ": rope_scaling type '", type, "' is not supported"),
                    "supported: null (none), linear, llama3");
    }
    return r;
}

ModelConfig parse_llama_config(const nlohmann::json& j, const std::string& path) {
    ModelConfig c;
    const std::string type = json_string_or(j, "model_type", path, "llama");
    c.n_layer = int(json_int(j, "num_hidden_layers", path, 1, kMaxLayers));
    c.n_head = int(json_int(j, "num_attention_heads", path, 1, kMaxHeads));
    c.n_kv_head = int(json_int_or(j, "num_key_value_heads", path, 1, kMaxHeads, c.n_head));
    c.n_embd = int(json_int(j, "hidden_size", path, 1, kMaxEmbd));
    c.n_inner = int(json_int(j, "intermediate_size", path, 1, int64_t(kMaxEmbd) * 16));
    c.vocab_size = int(json_int(j, "vocab_size", path, 1, kMaxVocab));
    c.n_positions = int(json_int(j, "max_position_embeddings", path, 1, kMaxPositions));
    if (c.n_head % c.n_kv_head != 0)
        throw Error(cat(path, ": num_attention_heads = ", c.n_head, " is not a multiple of num_key_value_heads = ",
                        c.n_kv_head),
                    "each key/value head serves the same number of query heads; the config is inconsistent");
    if (c.n_embd % c.n_head != 0 && !j.contains("head_dim"))
        throw Error(cat(path, ": hidden_size = ", c.n_embd, " is not divisible by num_attention_heads = ", c.n_head),
                    "give head_dim, or fix the sizes");
    c.d_head = int(json_int_or(j, "head_dim", path, 2, kMaxEmbd, c.n_embd / c.n_head));
    if (c.d_head % 2 != 0) throw Error(cat(path, ": head_dim = ", c.d_head, " must be even for rotary positions"));
    c.ln_eps = float(json_number_or(j, "rms_norm_eps", path, 1e-6));
    if (!(c.ln_eps > 0 && c.ln_eps < 1)) throw Error(cat(path, ": rms_norm_eps = ", c.ln_eps, " must be in (0, 1)"));
    const std::string act = json_string_or(j, "hidden_act", path, "silu");
    if (act != "silu") throw Error(cat(path, ": hidden_act '", act, "' is not supported"), "supported: silu");
    c.activation = Activation::silu;
    c.norm = NormKind::rms_norm;
    c.positions = PositionKind::rotary;
    c.rope = parse_rope(j, path);
    c.mlp = MlpKind::gated;
    c.qk_norm = type == "qwen3";
    // HF's default is untied for every member; small models set it true in their config
    c.tie_word_embeddings = json_bool_or(j, "tie_word_embeddings", path, false);
    // biases: Qwen2 always has q/k/v biases; Llama and Qwen3 when attention_bias says so
    const bool attention_bias = json_bool_or(j, "attention_bias", path, false);
    c.qkv_bias = type == "qwen2" || attention_bias;
    c.out_bias = type != "qwen2" && attention_bias;
    if (json_bool_or(j, "mlp_bias", path, false)) // refused rather than approximated
        throw Error(cat(path, ": mlp_bias = true is not supported"), "no released Llama-family model uses it");
    if (type == "mistral") {
        c.sliding_window = int(json_int_or(j, "sliding_window", path, 1, kMaxPositions, 0));
    } else if (json_bool_or(j, "use_sliding_window", path, false)) {
        throw Error(cat(path, ": use_sliding_window = true is not supported for ", type),
                    "Qwen's per-layer windows (max_window_layers) are not implemented; Mistral's window is");
    }
    return c;
}

void bind_llama_weights(Model& m, WeightLoader& w) {
    const ModelConfig& c = m.config_;
    if (!w.has("model.embed_tokens.weight"))
        throw Error(cat(m.dir(), ": tensor 'model.embed_tokens.weight' is missing from the checkpoint"),
                    cat("is this a ", c.model_type, " checkpoint (LlamaForCausalLM layout)?"));
    const int64_t D = c.n_embd, F = c.n_inner, V = c.vocab_size, Q = c.q_width(), KV = c.kv_width(), d = c.d_head;
    m.tok_embd_ = w.matrix_out_in("model.embed_tokens.weight", D, V); // [V, D]
    m.layers_.resize(size_t(c.n_layer));
    for (int il = 0; il < c.n_layer; ++il) {
        const std::string p = "model.layers." + std::to_string(il) + ".";
        LayerWeights& l = m.layers_[size_t(il)];
        l.ln1_w = w.get(p + "input_layernorm.weight", {D});
        l.attn_q = w.matrix_out_in(p + "self_attn.q_proj.weight", D, Q);
        l.attn_k = w.matrix_out_in(p + "self_attn.k_proj.weight", D, KV);
        l.attn_v = w.matrix_out_in(p + "self_attn.v_proj.weight", D, KV);
        if (c.qkv_bias) {
            l.attn_q_b = w.get(p + "self_attn.q_proj.bias", {Q});
            l.attn_k_b = w.get(p + "self_attn.k_proj.bias", {KV});
            l.attn_v_b = w.get(p + "self_attn.v_proj.bias", {KV});
        }
        if (c.qk_norm) {
            l.q_norm_w = w.get(p + "self_attn.q_norm.weight", {d});
            l.k_norm_w = w.get(p + "self_attn.k_norm.weight", {d});
        }
        l.attn_out = w.matrix_out_in(p + "self_attn.o_proj.weight", Q, D);
        if (c.out_bias) l.attn_out_b = w.get(p + "self_attn.o_proj.bias", {D});
        l.ln2_w = w.get(p + "post_attention_layernorm.weight", {D});
        l.mlp_gate = w.matrix_out_in(p + "mlp.gate_proj.weight", D, F);
        l.mlp_in = w.matrix_out_in(p + "mlp.up_proj.weight", D, F);
        l.mlp_out = w.matrix_out_in(p + "mlp.down_proj.weight", F, D);
    }
    m.ln_f_w_ = w.get("model.norm.weight", {D});
    if (c.tie_word_embeddings) {
        m.lm_head_ = m.tok_embd_;
    } else {
        if (!w.has("lm_head.weight"))
            throw Error(cat(m.dir(), ": config.json leaves tie_word_embeddings false but the checkpoint has no "
                                     "'lm_head.weight'"),
                        "save the model with its LM head, or set tie_word_embeddings to true if the head is the "
                        "embedding");
        m.lm_head_ = w.matrix_out_in("lm_head.weight", D, V);
    }
}

} // namespace

// llama, mistral, qwen2, qwen3: one parser and one binder, the differences read from the config
const std::vector<Architecture>& llama_family_architectures() {
    static const std::vector<Architecture> a = {{"llama", parse_llama_config, bind_llama_weights},
                                                {"mistral", parse_llama_config, bind_llama_weights},
                                                {"qwen2", parse_llama_config, bind_llama_weights},
                                                {"qwen3", parse_llama_config, bind_llama_weights}};
    return a;
}

} // namespace attnscope
