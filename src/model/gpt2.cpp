// GPT-2 (Hugging Face model_type "gpt2"): config fields and weight names.
//
// Checkpoints come as GPT2LMHeadModel ("transformer.h.0.attn.c_attn.weight", maybe "lm_head.weight")
// or GPT2Model ("h.0.attn.c_attn.weight"); both are accepted. Conv1D weights are [in, out];
// c_attn is the fused Q|K|V projection [D, 3D]. The LM head follows config.json's
// tie_word_embeddings as Hugging Face does: true (the default) means wte is the head, and a stored
// lm_head.weight is ignored; false means lm_head.weight must be in the checkpoint. Buffers some
// checkpoints store (attn.bias: the causal mask, attn.masked_bias) are not weights and are ignored.
#include "core/error.h"
#include "io/json.h"
#include "model/model.h"

namespace attnscope {

namespace {

ModelConfig parse_gpt2_config(const nlohmann::json& j, const std::string& path) {
    ModelConfig c;
    c.n_layer = int(json_int(j, "n_layer", path, 1, kMaxLayers));
    c.n_head = int(json_int(j, "n_head", path, 1, kMaxHeads));
    c.n_embd = int(json_int(j, "n_embd", path, 1, kMaxEmbd));
    c.vocab_size = int(json_int(j, "vocab_size", path, 1, kMaxVocab));
    c.n_positions = int(json_int(j, "n_positions", path, 1, kMaxPositions));
    if (c.n_embd % c.n_head != 0)
        throw Error(cat(path, ": n_embd = ", c.n_embd, " is not divisible by n_head = ", c.n_head),
                    "each head gets n_embd / n_head dimensions; the config is inconsistent");
    c.d_head = c.n_embd / c.n_head;
    c.n_kv_head = c.n_head;
    c.n_inner = int(json_int_or(j, "n_inner", path, 1, int64_t(kMaxEmbd) * 16, 4 * int64_t(c.n_embd)));
    c.ln_eps = float(json_number_or(j, "layer_norm_epsilon", path, 1e-5));
    if (!(c.ln_eps > 0 && c.ln_eps < 1))
        throw Error(cat(path, ": layer_norm_epsilon = ", c.ln_eps, " must be in (0, 1)"));
    LayerSpec l; // pre-norm, sequential, global attention, plain MLP
    l.activation =
        parse_activation(json_string_or(j, "activation_function", path, "gelu_new"), path, "activation_function");
    c.layers.assign(size_t(c.n_layer), l);
    c.tie_word_embeddings = json_bool_or(j, "tie_word_embeddings", path, true);
    c.scale_attn_weights = json_bool_or(j, "scale_attn_weights", path, true);
    c.scale_attn_by_inverse_layer_idx = json_bool_or(j, "scale_attn_by_inverse_layer_idx", path, false);
    // reorder_and_upcast_attn only changes fp16 numerics in HF; in fp32 it is the same maths.
    json_bool_or(j, "reorder_and_upcast_attn", path, false); // still type-checked
    if (json_bool_or(j, "add_cross_attention", path, false))
        throw Error(cat(path, ": add_cross_attention = true is not supported (encoder-decoder GPT-2)"));
    return c;
}

void bind_gpt2_weights(Model& m, WeightLoader& w) {
    const ModelConfig& c = m.config_;
    // GPT2LMHeadModel prefixes the body with "transformer."; GPT2Model does not.
    const std::string p = w.has("transformer.wte.weight") ? "transformer." : "";
    if (!w.has(p + "wte.weight"))
        throw Error(cat(m.dir(), ": tensor 'wte.weight' (or 'transformer.wte.weight') is missing from the checkpoint"),
                    "is this a GPT-2 checkpoint?");
    const int64_t D = c.n_embd, F = c.n_inner, V = c.vocab_size, P = c.n_positions;
    m.tok_embd_ = w.matrix_out_in(p + "wte.weight", D, V); // [V, D]
    m.pos_embd_ = w.get(p + "wpe.weight", {P, D});
    m.layers_.resize(size_t(c.n_layer));
    for (int il = 0; il < c.n_layer; ++il) {
        const std::string h = p + "h." + std::to_string(il) + ".";
        LayerWeights& l = m.layers_[size_t(il)];
        l.ln1_w = w.get(h + "ln_1.weight", {D});
        l.ln1_b = w.get(h + "ln_1.bias", {D});
        // Conv1D: [in, out]
        l.attn_qkv = w.matrix_in_out(h + "attn.c_attn.weight", D, 3 * D);
        l.attn_qkv_b = w.get(h + "attn.c_attn.bias", {3 * D});
        l.attn_out = w.matrix_in_out(h + "attn.c_proj.weight", D, D);
        l.attn_out_b = w.get(h + "attn.c_proj.bias", {D});
        l.ln2_w = w.get(h + "ln_2.weight", {D});
        l.ln2_b = w.get(h + "ln_2.bias", {D});
        l.mlp_in = w.matrix_in_out(h + "mlp.c_fc.weight", D, F);
        l.mlp_in_b = w.get(h + "mlp.c_fc.bias", {F});
        l.mlp_out = w.matrix_in_out(h + "mlp.c_proj.weight", F, D);
        l.mlp_out_b = w.get(h + "mlp.c_proj.bias", {D});
    }
    m.ln_f_w_ = w.get(p + "ln_f.weight", {D});
    m.ln_f_b_ = w.get(p + "ln_f.bias", {D});
    m.lm_head_ = w.lm_head("lm_head.weight",
                           "save the model with its LM head, or set tie_word_embeddings to true if the head is wte");
}

} // namespace

const Architecture& gpt2_architecture() {
    static const Architecture a{"gpt2", parse_gpt2_config, bind_gpt2_weights};
    return a;
}

} // namespace attnscope
