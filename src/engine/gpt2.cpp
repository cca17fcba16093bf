// GPT-2's forward pass (Hugging Face GPT2LMHeadModel, eager, fp32), built from the shared blocks:
//
//   x = wte[ids] + wpe[pos]
//   for each layer:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
//   logits = ln_f(x) @ wte^T        (only when wanted)
#include "engine/blocks.h"

namespace attnscope {

void forward_gpt2(const Model& model, const Batch& batch, const HookSet& hooks, RunState& state,
                  const ForwardOptions& options, ForwardStats& stats) {
    const ModelConfig& cfg = model.config();
    const HookSet::Plan plan = hooks.plan(cfg.n_layer);
    BlockContext ctx{cfg, batch, hooks, plan, state, stats, options};

    embed(model.tok_embd(), model.pos_embd(), ctx);
    for (int il = 0; il < cfg.n_layer; ++il) {
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
}

} // namespace attnscope
