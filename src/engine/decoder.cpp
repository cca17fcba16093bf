// The one decoder forward, for every supported architecture, composed from the shared blocks and
// driven by each layer's description (LayerSpec) — the families differ only in data, never in
// this code:
//
//   x = embed[ids] (+ position table[pos] when positions are learned)
//   for each layer, as its spec says:
//     sequential, pre-norm:   x = x + attn(norm_1(x));   x = x + mlp(norm_2(x))      (GPT-2, Llama)
//     sequential, post-norm:  x = x + norm_1'(attn(x));  x = x + norm_2'(mlp(x))     (OLMo 2)
//     both:                   x = x + norm_1'(attn(norm_1(x))); ...                 (Gemma 2)
//     parallel:               x = x + (mlp(norm_2(x)) + attn(norm_1(x)))            (GPT-NeoX)
//   logits = norm_f(x) @ W_U^T        (only when wanted)
#include "engine/blocks.h"
#include "engine/kernels.h"

#include <algorithm>

namespace attnscope {

void forward_decoder(const Model& model, const Batch& batch, const HookSet& hooks, RunState& state,
                     const ForwardOptions& options, ForwardStats& stats) {
    const ModelConfig& cfg = model.config();
    const HookSet::Plan plan = hooks.plan(cfg.n_layer);
    BlockContext ctx{cfg, batch, hooks, plan, state, stats, options};
    ctx.pos0 = options.kv_cache ? options.kv_cache->n_past : 0;
    // cos and sin of every position the batch uses, for the rotary settings of the layer about to
    // run: computed again only where a layer's settings differ from the last one's
    const LayerSpec* tables_of = nullptr;
    auto rope_tables_for = [&](const LayerSpec& l) {
        if (cfg.positions != PositionKind::rotary) return;
        if (tables_of && tables_of->rope == l.rope && tables_of->rotary_dim == l.rotary_dim) return;
        const int64_t T = ctx.pos0 + batch.max_length(), half = l.rotary_dim / 2;
        state.rope_cos.resize(size_t(T * half));
        state.rope_sin.resize(size_t(T * half));
        rope_tables(l.rope, l.rotary_dim, T, state.rope_cos.data(), state.rope_sin.data());
        tables_of = &l;
    };

    if (options.start_layer > 0) { // prefix reuse: x is the residual stream entering start_layer
        const int64_t n = batch.n_tokens() * cfg.n_embd;
        state.x.resize(size_t(n));
        std::copy(options.resid_pre, options.resid_pre + n, state.x.data());
    } else {
        embed(model.tok_embd(), model.pos_embd(), ctx);
    }
    for (int il = options.start_layer; il < cfg.n_layer; ++il) {
        const LayerWeights& w = model.layer(il);
        const LayerSpec& l = cfg.layer(il);
        const bool pre = l.norm_placement != NormPlacement::post;
        rope_tables_for(l);
        float* x = state.x.data();
        offer_rows(Hook::resid_pre, il, x, cfg.n_embd, ctx);
        if (pre) norm(Hook::ln1_normalized, il, x, w.ln1_w, w.ln1_b, ctx);
        self_attention(w, il, pre ? state.ln.data() : x, ctx);
        if (l.parallel) { // both sublayers read the block's input; one sum joins the residual
            norm(Hook::ln2_normalized, il, x, w.ln2_w, w.ln2_b, ctx);
            mlp(w, il, state.ln.data(), ctx);
            add_inplace(state.mlp_out.data(), state.attn_out.data(), batch.n_tokens() * cfg.n_embd);
            residual_add(Hook::resid_post, il, state.mlp_out.data(), ctx);
            continue;
        }
        residual_add(Hook::resid_mid, il, state.attn_out.data(), ctx);
        if (pre) norm(Hook::ln2_normalized, il, x, w.ln2_w, w.ln2_b, ctx);
        mlp(w, il, pre ? state.ln.data() : x, ctx);
        residual_add(Hook::resid_post, il, state.mlp_out.data(), ctx);
    }
    final_norm_and_logits(model.ln_f_w(), model.ln_f_b(), model.lm_head(), options.logits, ctx);
    if (options.kv_cache) options.kv_cache->n_past += batch.max_length();
}

} // namespace attnscope
