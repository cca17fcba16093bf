// GPT-NeoX (Hugging Face model_type "gpt_neox": GPTNeoXForCausalLM, the Pythia suite and
// GPT-NeoX-20B): config keys and weight names, mapped onto the shared description. Its blocks run
// attention and MLP in parallel from two LayerNorms of the same input (use_parallel_residual, the
// default; false makes them sequential), rotate only the first rotary_pct of each head's
// dimensions (rotate_half within them), and fuse q, k and v into one query_key_value projection
// whose output is laid out head by head ([q_h | k_h | v_h] for each head h). LayerNorms carry
// biases; so do every projection when attention_bias (the default) says so, and the MLP always.
// The LM head is embed_out, untied unless tie_word_embeddings. Buffers older checkpoints store
// (attention.bias, attention.masked_bias, rotary_emb.inv_freq) are not weights and are ignored.
#include "core/error.h"
#include "io/json.h"
#include "model/model.h"


namespace attnscope {

namespace {

ModelConfig parse_gpt_neox_config(const nlohmann::json& j, const std::string& path) {
    ModelConfig c;
    c.n_layer = int(json_int(j, "num_hidden_layers", path, 1, kMaxLayers));
    c.n_head = int(json_int(j, "num_attention_heads", path, 1, kMaxHeads));
    c.n_kv_head = c.n_head;
    c.n_embd = int(json_int(j, "hidden_size", path, 1, kMaxEmbd));
    c.n_inner = int(json_int_or(j, "intermediate_size", path, 1, int64_t(kMaxEmbd) * 16, 4 * int64_t(c.n_embd)));
    c.vocab_size = int(json_int(j, "vocab_size", path, 1, kMaxVocab));
    c.n_positions = int(json_int(j, "max_position_embeddings", path, 1, kMaxPositions));
    if (c.n_embd % c.n_head != 0)
        throw Error(cat(path, ": hidden_size = ", c.n_embd, " is not divisible by num_attention_heads = ", c.n_head),
                    "each head gets hidden_size / num_attention_heads dimensions; the config is inconsistent");
    c.d_head = c.n_embd / c.n_head;
    c.ln_eps = float(json_number_or(j, "layer_norm_eps", path, 1e-5));
    if (!(c.ln_eps > 0 && c.ln_eps < 1)) throw Error(cat(path, ": layer_norm_eps = ", c.ln_eps, " must be in (0, 1)"));
    c.norm = NormKind::layer_norm;
    c.positions = PositionKind::rotary;
    c.tie_word_embeddings = json_bool_or(j, "tie_word_embeddings", path, false);
    const bool bias = json_bool_or(j, "attention_bias", path, true);
    c.qkv_bias = c.out_bias = bias;

    LayerSpec l;
    l.activation = parse_activation(json_string_or(j, "hidden_act", path, "gelu"), path, "hidden_act");
    l.parallel = json_bool_or(j, "use_parallel_residual", path, true);
    // The rotating share of each head: rotary_pct (Pythia's configs), partial_rotary_factor in
    // newer ones; the base: rotary_emb_base, or rope_theta.
    const char* pct_key = j.contains("partial_rotary_factor") ? "partial_rotary_factor" : "rotary_pct";
    const double pct = json_number_or(j, pct_key, path, 0.25);
    if (!(pct > 0 && pct <= 1))
        throw Error(cat(path, ": ", pct_key, " = ", pct, " must be in (0, 1]"),
                    "the share of each head's dimensions that rotary positions turn (Pythia: 0.25)");
    l.rotary_dim = int(double(c.d_head) * pct); // HF: int(head_size * rotary_pct)
    if (l.rotary_dim < 2 || l.rotary_dim % 2 != 0)
        throw Error(cat(path, ": ", pct_key, " = ", pct, " of a head of ", c.d_head, " dimensions rotates ",
                        l.rotary_dim, ", which must be even and at least 2"),
                    "rotary positions turn pairs of dimensions");
    l.rope = parse_rope(j, path, j.contains("rope_theta") ? "rope_theta" : "rotary_emb_base");
    c.layers.assign(size_t(c.n_layer), l);
    return c;
}

void bind_gpt_neox_weights(Model& m, WeightLoader& w) {
    const ModelConfig& c = m.config_;
    if (!w.has("gpt_neox.embed_in.weight"))
        throw Error(cat(m.dir(), ": tensor 'gpt_neox.embed_in.weight' is missing from the checkpoint"),
                    "is this a GPT-NeoX checkpoint (GPTNeoXForCausalLM layout)?");
    const int64_t D = c.n_embd, F = c.n_inner, V = c.vocab_size;
    m.tok_embd_ = w.matrix_out_in("gpt_neox.embed_in.weight", D, V); // [V, D]
    m.layers_.resize(size_t(c.n_layer));
    for (int il = 0; il < c.n_layer; ++il) {
        const std::string p = "gpt_neox.layers." + std::to_string(il) + ".";
        LayerWeights& l = m.layers_[size_t(il)];
        l.ln1_w = w.get(p + "input_layernorm.weight", {D});
        l.ln1_b = w.get(p + "input_layernorm.bias", {D});
        // nn.Linear [3D, D]; rows (output features) head by head: q_h, k_h, v_h
        l.attn_qkv = w.matrix_out_in(p + "attention.query_key_value.weight", D, 3 * D);
        l.qkv_per_head = true;
        l.attn_out = w.matrix_out_in(p + "attention.dense.weight", D, D);
        if (c.qkv_bias) {
            l.attn_qkv_b = w.get(p + "attention.query_key_value.bias", {3 * D});
            l.attn_out_b = w.get(p + "attention.dense.bias", {D});
        }
        l.ln2_w = w.get(p + "post_attention_layernorm.weight", {D});
        l.ln2_b = w.get(p + "post_attention_layernorm.bias", {D});
        l.mlp_in = w.matrix_out_in(p + "mlp.dense_h_to_4h.weight", D, F);
        l.mlp_in_b = w.get(p + "mlp.dense_h_to_4h.bias", {F});
        l.mlp_out = w.matrix_out_in(p + "mlp.dense_4h_to_h.weight", F, D);
        l.mlp_out_b = w.get(p + "mlp.dense_4h_to_h.bias", {D});
    }
    m.ln_f_w_ = w.get("gpt_neox.final_layer_norm.weight", {D});
    m.ln_f_b_ = w.get("gpt_neox.final_layer_norm.bias", {D});
    m.lm_head_ =
        w.lm_head("embed_out.weight", "save the model with its LM head (GPTNeoXForCausalLM, not GPTNeoXModel)");
}

} // namespace

const Architecture& gpt_neox_architecture() {
    static const Architecture a{"gpt_neox", parse_gpt_neox_config, bind_gpt_neox_weights};
    return a;
}

} // namespace attnscope
