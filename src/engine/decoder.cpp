// The one decoder forward (pre-norm blocks), for every supported architecture, composed from the
// shared blocks and driven by the config's description — GPT-2 and the Llama family differ only
// in data (norm kind, positions, MLP kind, heads, windows), never in this order:
//
//   x = embed[ids] (+ position table[pos] when positions are learned)
//   for each layer:  x = x + attn(norm_1(x));  x = x + mlp(norm_2(x))
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
    if (cfg.positions == PositionKind::rotary) { // cos and sin of every position the batch uses
        const int64_t T = ctx.pos0 + batch.max_length(), half = cfg.d_head / 2;
        state.rope_cos.resize(size_t(T * half));
        state.rope_sin.resize(size_t(T * half));
        rope_tables(cfg.rope, cfg.d_head, T, state.rope_cos.data(), state.rope_sin.data());
    }

    if (options.start_layer > 0) { // prefix reuse: x is the residual stream entering start_layer
        const int64_t n = batch.n_tokens() * cfg.n_embd;
        state.x.resize(size_t(n));
        std::copy(options.resid_pre, options.resid_pre + n, state.x.data());
    } else {
        embed(model.tok_embd(), model.pos_embd(), ctx);
    }
    for (int il = options.start_layer; il < cfg.n_layer; ++il) {
        const LayerWeights& w = model.layer(il);
        offer_rows(Hook::resid_pre, il, state.x.data(), cfg.n_embd, ctx);
        norm(Hook::ln1_normalized, il, state.x.data(), w.ln1_w, w.ln1_b, ctx);
        self_attention(w, il, ctx);
        residual_add(Hook::resid_mid, il, state.attn_out.data(), ctx);
        norm(Hook::ln2_normalized, il, state.x.data(), w.ln2_w, w.ln2_b, ctx);
        mlp(w, il, ctx);
        residual_add(Hook::resid_post, il, state.mlp_out.data(), ctx);
    }
    final_norm_and_logits(model.ln_f_w(), model.ln_f_b(), model.lm_head(), options.logits, ctx);
    if (options.kv_cache) options.kv_cache->n_past += batch.max_length();
}

} // namespace attnscope
