// The Llama family (Hugging Face model_type "llama", "mistral", "qwen2", "qwen3", "olmo",
// "olmo2"): config keys and weight names, mapped onto the shared description — RMSNorm, rotary
// positions, a gated MLP, grouped-query attention — that the one decoder forward reads. The
// members differ only in data: Qwen2 has q/k/v biases, Qwen3 a per-head RMSNorm of q and k and a
// head width of its own, Mistral a sliding attention window; OLMo a LayerNorm without weight or
// bias (eps 1e-5, whatever the config says) and q, k, v clipped at clip_qkv; OLMo 2 RMSNorms after
// each sublayer instead of before and an RMSNorm over the whole q and k projections.
// Projections are nn.Linear, stored [out, in].
#include "core/error.h"
#include "io/json.h"
#include "model/model.h"

#include <cmath>

namespace attnscope {

namespace {

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
        throw Error(cat(path, ": num_attention_heads = ", c.n_head,
                        " is not a multiple of num_key_value_heads = ", c.n_kv_head),
                    "each key/value head serves the same number of query heads; the config is inconsistent");
    if (c.n_embd % c.n_head != 0 && !j.contains("head_dim"))
        throw Error(cat(path, ": hidden_size = ", c.n_embd, " is not divisible by num_attention_heads = ", c.n_head),
                    "give head_dim, or fix the sizes");
    c.d_head = int(json_int_or(j, "head_dim", path, 2, kMaxEmbd, c.n_embd / c.n_head));
    if (c.d_head % 2 != 0) throw Error(cat(path, ": head_dim = ", c.d_head, " must be even for rotary positions"));
    c.ln_eps = float(json_number_or(j, "rms_norm_eps", path, type == "olmo2" ? 1e-5 : 1e-6));
    if (!(c.ln_eps > 0 && c.ln_eps < 1)) throw Error(cat(path, ": rms_norm_eps = ", c.ln_eps, " must be in (0, 1)"));
    LayerSpec l;
    l.activation = parse_activation(json_string_or(j, "hidden_act", path, "silu"), path, "hidden_act");
    c.norm = NormKind::rms_norm;
    if (type == "olmo") { // OlmoLayerNorm: F.layer_norm(x, no weight, no bias, eps=1e-5)
        c.norm = NormKind::layer_norm;
        c.ln_eps = 1e-5f;
    }
    if (type == "olmo" || type == "olmo2") {
        auto clip = j.find("clip_qkv");
        if (clip != j.end() && !clip->is_null()) {
            if (type == "olmo2")
                throw Error(cat(path, ": clip_qkv is set, but OLMo 2 does not clip q, k, v"),
                            "remove the key, or use model_type \"olmo\"");
            l.clip_qkv = float(json_number_or(j, "clip_qkv", path, 0.0));
            if (!(l.clip_qkv > 0)) throw Error(cat(path, ": clip_qkv = ", l.clip_qkv, " must be above 0 (or null)"));
        }
    }
    if (type == "olmo2") {
        l.norm_placement = NormPlacement::post;
        l.qk_norm = QkNorm::whole;
    }
    c.positions = PositionKind::rotary;
    l.rope = parse_rope(j, path);
    l.rotary_dim = c.d_head;
    l.mlp = MlpKind::gated;
    if (type == "qwen3") l.qk_norm = QkNorm::per_head;
    // HF's default is untied for every member; small models set it true in their config
    c.tie_word_embeddings = json_bool_or(j, "tie_word_embeddings", path, false);
    // biases: Qwen2 always has q/k/v biases; Llama and Qwen3 when attention_bias says so
    const bool attention_bias = json_bool_or(j, "attention_bias", path, false);
    c.qkv_bias = type == "qwen2" || attention_bias;
    c.out_bias = type != "qwen2" && attention_bias;
    if (json_bool_or(j, "mlp_bias", path, false)) // refused rather than approximated
        throw Error(cat(path, ": mlp_bias = true is not supported"), "no released Llama-family model uses it");
    if (type == "mistral") {
        l.sliding_window = int(json_int_or(j, "sliding_window", path, 1, kMaxPositions, 0));
    } else if (json_bool_or(j, "use_sliding_window", path, false)) {
        throw Error(cat(path, ": use_sliding_window = true is not supported for ", type),
                    "Qwen's per-layer windows (max_window_layers) are not implemented; Mistral's window is");
    }
    c.layers.assign(size_t(c.n_layer), l);
    return c;
}

void bind_llama_weights(Model& m, WeightLoader& w) {
    const ModelConfig& c = m.config_;
    if (!w.has("model.embed_tokens.weight"))
        throw Error(cat(m.dir(), ": tensor 'model.embed_tokens.weight' is missing from the checkpoint"),
                    cat("is this a ", c.model_type, " checkpoint (LlamaForCausalLM layout)?"));
    const int64_t D = c.n_embd, F = c.n_inner, V = c.vocab_size, Q = c.q_width(), KV = c.kv_width(), d = c.d_head;
    const bool olmo = c.model_type == "olmo";                         // norms without parameters
    m.tok_embd_ = w.matrix_out_in("model.embed_tokens.weight", D, V); // [V, D]
    m.layers_.resize(size_t(c.n_layer));
    for (int il = 0; il < c.n_layer; ++il) {
        const std::string p = "model.layers." + std::to_string(il) + ".";
        LayerWeights& l = m.layers_[size_t(il)];
        const LayerSpec& spec = c.layer(il);
        const bool post = spec.norm_placement == NormPlacement::post; // OLMo 2
        if (!olmo && !post) l.ln1_w = w.get(p + "input_layernorm.weight", {D});
        l.attn_q = w.matrix_out_in(p + "self_attn.q_proj.weight", D, Q);
        l.attn_k = w.matrix_out_in(p + "self_attn.k_proj.weight", D, KV);
        l.attn_v = w.matrix_out_in(p + "self_attn.v_proj.weight", D, KV);
        if (c.qkv_bias) {
            l.attn_q_b = w.get(p + "self_attn.q_proj.bias", {Q});
            l.attn_k_b = w.get(p + "self_attn.k_proj.bias", {KV});
            l.attn_v_b = w.get(p + "self_attn.v_proj.bias", {KV});
        }
        if (spec.qk_norm != QkNorm::none) { // [d] per head (Qwen3), or the whole [H d] (OLMo 2)
            const bool per_head = spec.qk_norm == QkNorm::per_head;
            l.q_norm_w = w.get(p + "self_attn.q_norm.weight", {per_head ? d : Q});
            l.k_norm_w = w.get(p + "self_attn.k_norm.weight", {per_head ? d : KV});
        }
        l.attn_out = w.matrix_out_in(p + "self_attn.o_proj.weight", Q, D);
        if (c.out_bias) l.attn_out_b = w.get(p + "self_attn.o_proj.bias", {D});
        if (post) { // OLMo 2 names its norms after attention and after the MLP
            l.ln1_post_w = w.get(p + "post_attention_layernorm.weight", {D});
            l.ln2_post_w = w.get(p + "post_feedforward_layernorm.weight", {D});
        } else if (!olmo) {
            l.ln2_w = w.get(p + "post_attention_layernorm.weight", {D});
        }
        l.mlp_gate = w.matrix_out_in(p + "mlp.gate_proj.weight", D, F);
        l.mlp_in = w.matrix_out_in(p + "mlp.up_proj.weight", D, F);
        l.mlp_out = w.matrix_out_in(p + "mlp.down_proj.weight", F, D);
    }
    if (!olmo) m.ln_f_w_ = w.get("model.norm.weight", {D});
    m.lm_head_ =
        w.lm_head("lm_head.weight",
                  "save the model with its LM head, or set tie_word_embeddings to true if the head is the embedding");
}

} // namespace

// llama, mistral, qwen2, qwen3, olmo, olmo2: one parser and one binder, the differences read
// from the config
const std::vector<Architecture>& llama_family_architectures() {
    static const std::vector<Architecture> a = {
        {"llama", parse_llama_config, bind_llama_weights}, {"mistral", parse_llama_config, bind_llama_weights},
        {"qwen2", parse_llama_config, bind_llama_weights}, {"qwen3", parse_llama_config, bind_llama_weights},
        {"olmo", parse_llama_config, bind_llama_weights},  {"olmo2", parse_llama_config, bind_llama_weights}};
    return a;
}

} // namespace attnscope
