// Shared transformer blocks over a packed batch: N rows = all tokens of all sequences, one
// sequence after another, no padding. Element-wise work runs on all N rows at once; matrix
// products run per sequence (see linear()) and attention per (sequence, head), so no token
// ever sees another sequence's tokens and a sequence's values never depend on its batch.
//
// Attention has two paths with bit-identical results (they share scores_row, softmax_row and
// weighted_sum_row): a fused row-by-row path with a T-float scratch per thread, used when no
// hook wants scores or patterns, and a materialised path that fills an [H, T, T] buffer per
// sequence so hooks can read (or patch) scores and patterns between the steps.
#include "engine/blocks.h"

#include "engine/kernels.h"

#include <cmath>
#include <limits>
#include <omp.h>

namespace attnscope {

void offer_rows(Hook h, int il, float* base, int64_t width, BlockContext& ctx) {
    if (!ctx.plan.wants(h, il)) return;
    for (int64_t s = 0; s < ctx.batch.n_seq(); ++s) {
        const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size());
        ctx.hooks.dispatch(h, il, int(s), TensorView::matrix(base + ctx.batch.offset(s) * width, T, width));
    }
}

void embed(const float* wte, const float* wpe, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, N = ctx.batch.n_tokens();
    RunState& st = ctx.state;
    st.x.resize(size_t(N * D));
    st.pos.resize(size_t(N * D));
    for (int64_t s = 0, row = 0; s < ctx.batch.n_seq(); ++s) {
        const auto& toks = ctx.batch.tokens[size_t(s)];
        for (size_t t = 0; t < toks.size(); ++t, ++row) {
            const float* e = wte + int64_t(toks[t]) * D;
            const float* p = wpe + int64_t(t) * D; // position from the sequence's own start
            std::copy(e, e + D, st.x.data() + row * D);
            std::copy(p, p + D, st.pos.data() + row * D);
        }
    }
    offer_rows(Hook::embed, -1, st.x.data(), D, ctx);
    offer_rows(Hook::pos_embed, -1, st.pos.data(), D, ctx);
    add_inplace(st.x.data(), st.pos.data(), N * D);
}

void norm(Hook h, int il, const float* in, const float* gamma, const float* beta, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, N = ctx.batch.n_tokens();
    ctx.state.ln.resize(size_t(N * D));
    layer_norm(in, gamma, beta, ctx.state.ln.data(), N, D, ctx.cfg.ln_eps);
    offer_rows(h, il, ctx.state.ln.data(), D, ctx);
}

namespace {

// out[N, M] = in[N, K] @ w[K, M] + b, one product per sequence. BLAS may choose a different
// kernel or blocking for a different number of rows, which changes the last bits; multiplying
// each sequence's rows on their own makes a sequence's result bit-identical alone or in any
// batch (and costs little: sequences are rows of hundreds of tokens).
void linear(const float* in, const float* w, const float* b, float* out, int64_t K, int64_t M, BlockContext& ctx) {
    for (int64_t s = 0; s < ctx.batch.n_seq(); ++s) {
        const int64_t off = ctx.batch.offset(s), T = int64_t(ctx.batch.tokens[size_t(s)].size());
        matmul(in + off * K, w, b, out + off * M, T, K, M);
    }
}

// Offer the per-head view [T, H, d] of a buffer whose rows are `row_stride` wide.
void offer_heads(Hook h, int il, float* base, int64_t row_stride, BlockContext& ctx) {
    if (!ctx.plan.wants(h, il)) return;
    const int64_t H = ctx.cfg.n_head, d = ctx.cfg.d_head;
    for (int64_t s = 0; s < ctx.batch.n_seq(); ++s) {
        const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size());
        ctx.hooks.dispatch(h, il, int(s),
                           TensorView::strided(base + ctx.batch.offset(s) * row_stride, {T, H, d}, {row_stride, d, 1}));
    }
}

float* thread_scratch(RunState& st, int64_t n) {
    Buffer& b = st.row_scratch[size_t(omp_get_thread_num())];
    if (b.size() < size_t(n)) b.resize(size_t(n));
    return b.data();
}

} // namespace

void self_attention(const LayerWeights& w, int il, BlockContext& ctx) {
    const ModelConfig& cfg = ctx.cfg;
    const int64_t D = cfg.n_embd, H = cfg.n_head, d = cfg.d_head, N = ctx.batch.n_tokens();
    const int64_t n_seq = ctx.batch.n_seq();
    RunState& st = ctx.state;

    // qkv[N, 3D] = ln @ W_qkv + b; row r holds q (heads side by side), then k, then v
    st.qkv.resize(size_t(N * 3 * D));
    linear(st.ln.data(), w.attn_qkv_w, w.attn_qkv_b, st.qkv.data(), D, 3 * D, ctx);
    float* q = st.qkv.data();
    float* k = q + D;
    float* v = q + 2 * D;
    offer_heads(Hook::q, il, q, 3 * D, ctx);
    offer_heads(Hook::k, il, k, 3 * D, ctx);
    offer_heads(Hook::v, il, v, 3 * D, ctx);

    // scores = q k^T / sqrt(d) (HF: scale_attn_weights), and / (il + 1) if the config says so
    float scale = cfg.scale_attn_weights ? 1.0f / std::sqrt(float(d)) : 1.0f;
    if (cfg.scale_attn_by_inverse_layer_idx) scale /= float(il + 1);
    const int64_t ld = 3 * D; // row stride of q, k, v
    st.z.resize(size_t(N * D));
    float* z = st.z.data();
    auto n_keys = [&](int64_t i, int64_t T) { return cfg.causal ? i + 1 : T; };

    if (!ctx.plan.any_attention_matrix(il)) {
        // Fused: one row at a time, nothing [T, T] ever exists.
        const int64_t n_pairs = n_seq * H;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t p = 0; p < n_pairs; ++p) {
            const int64_t s = p / H, h = p % H;
            const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size()), off = ctx.batch.offset(s);
            float* row = thread_scratch(st, T);
            for (int64_t i = 0; i < T; ++i) {
                const int64_t n = n_keys(i, T);
                const int64_t r = off + i;
                scores_row(q + r * ld + h * d, k + off * ld + h * d, ld, n, d, scale, row);
                softmax_row(row, n);
                if (ctx.options.attention_rows) ctx.options.attention_rows(il, int(s), int(h), i, row, n);
                weighted_sum_row(row, v + off * ld + h * d, ld, n, d, z + r * D + h * d);
            }
        }
    } else {
        // Materialised, one sequence at a time: att[H, T, T] = scores, then (in place) pattern.
        const float neg_inf = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < n_seq; ++s) {
            const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size()), off = ctx.batch.offset(s);
            st.att.resize(size_t(H * T * T));
            ctx.stats.attention_matrix_floats = std::max(ctx.stats.attention_matrix_floats, size_t(H * T * T));
            float* att = st.att.data();
#pragma omp parallel for collapse(2) schedule(static)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t i = 0; i < T; ++i) {
                    float* row = att + (h * T + i) * T;
                    const int64_t n = n_keys(i, T);
                    scores_row(q + (off + i) * ld + h * d, k + off * ld + h * d, ld, n, d, scale, row);
                    for (int64_t j = n; j < T; ++j)
                        row[j] = neg_inf; // the causal mask
                }
            const TensorView att_view = TensorView::contiguous(att, {H, T, T});
            if (ctx.plan.wants(Hook::attn_scores, il)) ctx.hooks.dispatch(Hook::attn_scores, il, int(s), att_view);
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < H * T; ++r)
                softmax_row(att + r * T, T); // exp(-inf) = 0 keeps the mask
            if (ctx.plan.wants(Hook::pattern, il)) ctx.hooks.dispatch(Hook::pattern, il, int(s), att_view);
            if (ctx.options.attention_rows)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t i = 0; i < T; ++i)
                        ctx.options.attention_rows(il, int(s), int(h), i, att + (h * T + i) * T, n_keys(i, T));
#pragma omp parallel for collapse(2) schedule(static)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t i = 0; i < T; ++i)
                    weighted_sum_row(att + (h * T + i) * T, v + off * ld + h * d, ld, n_keys(i, T), d,
                                     z + (off + i) * D + h * d);
        }
    }
    offer_heads(Hook::z, il, z, D, ctx);

    // attn_out[N, D] = z @ W_o + b_o
    st.attn_out.resize(size_t(N * D));
    linear(z, w.attn_out_w, w.attn_out_b, st.attn_out.data(), D, D, ctx);
    offer_rows(Hook::attn_out, il, st.attn_out.data(), D, ctx);
}

void mlp(const LayerWeights& w, int il, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, F = ctx.cfg.n_inner, N = ctx.batch.n_tokens();
    RunState& st = ctx.state;
    st.mlp_h.resize(size_t(N * F));
    linear(st.ln.data(), w.mlp_in_w, w.mlp_in_b, st.mlp_h.data(), D, F, ctx);
    offer_rows(Hook::mlp_pre, il, st.mlp_h.data(), F, ctx);
    switch (ctx.cfg.activation) {
    case Activation::gelu_tanh: gelu_tanh(st.mlp_h.data(), N * F); break;
    case Activation::gelu_erf: gelu_erf(st.mlp_h.data(), N * F); break;
    case Activation::relu: relu(st.mlp_h.data(), N * F); break;
    }
    offer_rows(Hook::mlp_post, il, st.mlp_h.data(), F, ctx);
    st.mlp_out.resize(size_t(N * D));
    linear(st.mlp_h.data(), w.mlp_out_w, w.mlp_out_b, st.mlp_out.data(), F, D, ctx);
    offer_rows(Hook::mlp_out, il, st.mlp_out.data(), D, ctx);
}

void residual_add(Hook h, int il, const float* delta, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, N = ctx.batch.n_tokens();
    add_inplace(ctx.state.x.data(), delta, N * D);
    offer_rows(h, il, ctx.state.x.data(), D, ctx);
}

void final_norm_and_logits(const float* gamma, const float* beta, const float* lm_head, bool want_logits,
                           BlockContext& ctx) {
    const bool want_norm = ctx.plan.wants(Hook::ln_final_normalized);
    want_logits = want_logits || ctx.plan.wants(Hook::logits);
    if (!want_norm && !want_logits) return;
    norm(Hook::ln_final_normalized, -1, ctx.state.x.data(), gamma, beta, ctx);
    if (!want_logits) return;
    const int64_t D = ctx.cfg.n_embd, V = ctx.cfg.vocab_size, N = ctx.batch.n_tokens();
    ctx.state.logits.resize(size_t(N * V));
    for (int64_t s = 0; s < ctx.batch.n_seq(); ++s) { // logits = ln_f(x) @ W_U^T, per sequence as in linear()
        const int64_t off = ctx.batch.offset(s), T = int64_t(ctx.batch.tokens[size_t(s)].size());
        matmul_nt(ctx.state.ln.data() + off * D, lm_head, ctx.state.logits.data() + off * V, T, D, V);
    }
    ctx.stats.computed_logits = true;
    offer_rows(Hook::logits, -1, ctx.state.logits.data(), V, ctx);
}

} // namespace attnscope
