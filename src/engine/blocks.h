// Shared blocks of decoder-only transformers, from which each architecture's forward is built
// (decoder.cpp). Each block reads and writes RunState buffers over the packed batch and offers
// its values to the hooks by name.
//
//   embed(model.tok_embd(), model.pos_embd(), ctx);                     // -> x
//   norm(Hook::ln1_normalized, il, x, w.ln1_w, w.ln1_b, ctx);           // x -> ln (LayerNorm or RMSNorm)
//   self_attention(w, il, state.ln.data(), ctx);                         // ln -> attn_out
#pragma once

#include "engine/forward.h"

namespace attnscope {

// Everything a block needs about the current forward.
struct BlockContext {
    const ModelConfig& cfg;
    const Batch& batch;
    const HookSet& hooks;
    const HookSet::Plan& plan;
    RunState& state;
    ForwardStats& stats;
    const ForwardOptions& options;
    int64_t pos0 = 0; // position of the batch's first token: the KV cache's n_past, else 0
};

// Offer rows [offset_s, offset_s + T_s) of a [N, width] buffer to the hooks, one sequence at a time.
void offer_rows(Hook h, int il, float* base, int64_t width, BlockContext& ctx);

// x = wte[token] (+ wpe[position] when wpe is not null), positions counted from each sequence's start;
// a 16-bit wte's rows are widened as they are looked up.
void embed(const MatrixView& wte, const float* wpe, BlockContext& ctx);
// out = LayerNorm(in) with (gamma, beta) (either may be null: none), or RMSNorm(in) with gamma;
// offered as hook h. out defaults to state.ln; it may be in.
void norm(Hook h, int il, const float* in, const float* gamma, const float* beta, BlockContext& ctx,
          float* out = nullptr);
// Multi-head causal self-attention of in [N, D] into attn_out, as layer il's LayerSpec says
// (projections, clipping, GQA, q/k norms, rotary, window, the norm after it).
void self_attention(const LayerWeights& w, int il, const float* in, BlockContext& ctx);
// Feed-forward block of in [N, D] into mlp_out: act(in @ W_in + b_in) @ W_out + b_out, or gated:
// (act(in @ W_gate) * (in @ W_up)) @ W_down; then its norm when the block has one after the MLP.
void mlp(const LayerWeights& w, int il, const float* in, BlockContext& ctx);
// x += delta, then offer x as hook h.
void residual_add(Hook h, int il, const float* delta, BlockContext& ctx);
// ln_f and the (tied or separate) LM head; logits only when wanted (with
// ForwardOptions::logits_last_only and no logits hook, only each sequence's last row).
void final_norm_and_logits(const float* gamma, const float* beta, const MatrixView& lm_head, bool want_logits,
                           BlockContext& ctx);

} // namespace attnscope
