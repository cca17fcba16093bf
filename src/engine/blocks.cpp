// Shared transformer blocks over a packed batch: N rows = all tokens of all sequences, one
// sequence after another, no padding. Element-wise work and matrix products run on all N rows
// at once (see linear()), attention per (sequence, head), so no token ever sees another
// sequence's tokens, and every product rounds each value the same way for any number of rows
// (engine/gemm.h): a sequence's values are the same bits alone or in any batch.
//
// Attention runs per (sequence, head) in blocks of query rows: S = Q K^T and Z = P V are products
// over the keys the block can see (so a causal model does about half the work of the
// full square), the softmax a vectorised row kernel. Three paths give bit-identical results
// (they run the same three steps on the same blocks): a fused path with a [block, T] scratch
// per thread, used when no hook wants scores or patterns; a streamed path that writes each
// block's pattern rows into an [H, T, T] buffer while they are in cache, for hooks that only
// read patterns; and a materialised path that runs each step over the whole [H, T, T] buffer
// so hooks can read (or patch) scores and patterns between the steps. The fused path has a
// variant for ForwardOptions::attention_heads (a capture writing patterns to disk): the streamed
// path's steps, one head at a time in a per-thread [T, T] buffer.
#include "engine/blocks.h"

#include "engine/kernels.h"

#include <algorithm>
#include <cmath>
#include <exception>
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

void embed(const MatrixView& wte, const float* wpe, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, N = ctx.batch.n_tokens();
    RunState& st = ctx.state;
    st.x.resize(size_t(N * D));
    if (wpe) st.pos.resize(size_t(N * D));
    for (int64_t s = 0, row = 0; s < ctx.batch.n_seq(); ++s) {
        const auto& toks = ctx.batch.tokens[size_t(s)];
        for (size_t t = 0; t < toks.size(); ++t, ++row) {
            if (const float* w32 = wte.f32())
                std::copy(w32 + int64_t(toks[t]) * D, w32 + int64_t(toks[t]) * D + D, st.x.data() + row * D);
            else
                widen_16bit(static_cast<const uint16_t*>(wte.data) + int64_t(toks[t]) * D, wte.dtype, D, 1, D,
                            st.x.data() + row * D);
            if (!wpe) continue;
            const float* p = wpe + (ctx.pos0 + int64_t(t)) * D; // position from the sequence's own start
            std::copy(p, p + D, st.pos.data() + row * D);
        }
    }
    offer_rows(Hook::embed, -1, st.x.data(), D, ctx);
    if (!wpe) return; // rotary models add positions inside attention
    offer_rows(Hook::pos_embed, -1, st.pos.data(), D, ctx);
    add_inplace(st.x.data(), st.pos.data(), N * D);
}

void norm(Hook h, int il, const float* in, const float* gamma, const float* beta, BlockContext& ctx, float* out) {
    const int64_t D = ctx.cfg.n_embd, N = ctx.batch.n_tokens();
    if (!out) {
        ctx.state.ln.resize(size_t(N * D));
        out = ctx.state.ln.data();
    }
    if (ctx.cfg.norm == NormKind::rms_norm)
        rms_norm(in, gamma, out, N, D, ctx.cfg.ln_eps);
    else
        layer_norm(in, gamma, beta, out, N, D, ctx.cfg.ln_eps);
    offer_rows(h, il, out, D, ctx);
}

namespace {

// out[N, M] = in[N, K] @ w[K, M] + b: one product over every token of the batch, so each
// weight matrix is packed once per call rather than once per sequence (with OpenBLAS, 1.2x
// faster at 8 x 128 tokens on a quiet machine, 2.4x under load: bench_kernels
// BM_MatmulPerSequence). The product's rounding does not depend on the number of rows
// (engine/gemm.h), so a sequence's values alone and in a batch are the same bits
// (Forward.BatchInvariance).
// The weight may be stored [in, out] or [out, in] (MatrixView); rows of out are ldy apart.
// A 16-bit weight is widened weight_tile (1,024) output rows at a time into one f32 tile, and each tile's
// product fills its columns of out: the weight never exists whole in f32. Widening is exact,
// and each output column is the same dot product over `in` as with an f32 copy of the weight.
void linear(const float* in, const MatrixView& w, const float* b, float* out, BlockContext& ctx, int64_t ldy = -1,
            int64_t rows = -1) {
    const int64_t N = rows < 0 ? ctx.batch.n_tokens() : rows;
    if (const float* w32 = w.f32()) {
        if (w.out_major)
            matmul_nt(in, w32, b, out, N, w.in, w.out, ldy);
        else
            matmul(in, w32, b, out, N, w.in, w.out, ldy);
        return;
    }
    if (ldy < 0) ldy = w.out;
    // whole multiples of 16 columns; each output element's sum is the same whichever columns
    // share its product, so the tiles give the bits of one product over the f32 matrix (tested
    // on the 16-bit fixtures)
    const int64_t tile = std::max<int64_t>(16, ctx.options.weight_tile / 16 * 16);
    Buffer& t = ctx.state.weight_tile;
    t.resize(size_t(std::min(tile, w.out) * w.in));
    const uint16_t* src = static_cast<const uint16_t*>(w.data);
    for (int64_t o0 = 0; o0 < w.out; o0 += tile) {
        const int64_t n = std::min(tile, w.out - o0);
        if (w.out_major) { // rows o0..o0+n of [out, in]: [n, in]
            widen_16bit(src + o0 * w.in, w.dtype, w.in, n, w.in, t.data());
            matmul_nt(in, t.data(), b ? b + o0 : nullptr, out + o0, N, w.in, n, ldy);
        } else { // columns o0..o0+n of [in, out]: [in, n]
            widen_16bit(src + o0, w.dtype, w.out, w.in, n, t.data());
            matmul(in, t.data(), b ? b + o0 : nullptr, out + o0, N, w.in, n, ldy);
        }
    }
}

// Offer the per-head view [T, H, d] (H heads) of a buffer whose rows are `row_stride` wide.
void offer_heads(Hook h, int il, float* base, int64_t row_stride, int64_t H, BlockContext& ctx) {
    if (!ctx.plan.wants(h, il)) return;
    const int64_t d = ctx.cfg.d_head;
    for (int64_t s = 0; s < ctx.batch.n_seq(); ++s) {
        const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size());
        ctx.hooks.dispatch(h, il, int(s),
                           TensorView::strided(base + ctx.batch.offset(s) * row_stride, {T, H, d}, {row_stride, d, 1}));
    }
}

// Query rows per attention block: large enough for the product to run near its peak, small enough that
// a causal block wastes little on masked cells (on average half a block per row) and that a
// [block, T] scratch stays in cache.
constexpr int64_t kQueryBlock = 64;

float* thread_scratch(RunState& st, int64_t n) {
    Buffer& b = st.row_scratch[size_t(omp_get_thread_num())];
    if (b.size() < size_t(n)) b.resize(size_t(n));
    return b.data();
}

} // namespace

void self_attention(const LayerWeights& w, int il, const float* in, BlockContext& ctx) {
    const ModelConfig& cfg = ctx.cfg;
    const LayerSpec& spec = cfg.layer(il);
    // H query heads and H_kv key/value heads of width d: query head h reads key/value head
    // h / (H / H_kv), as HF's repeat_kv (grouped-query attention; H_kv = H without it)
    const int64_t H = cfg.n_head, Hkv = cfg.n_kv_head, d = cfg.d_head, N = ctx.batch.n_tokens();
    const int64_t Q = H * d, KV = Hkv * d, group = H / Hkv;
    const int64_t n_seq = ctx.batch.n_seq();
    RunState& st = ctx.state;

    // qkv[N, Q + 2 KV]: row r holds q (heads side by side), then k, then v — one product with a
    // fused weight (GPT-2), or three into their columns (Llama)
    const int64_t ld = Q + 2 * KV; // row stride of q, k, v
    st.qkv.resize(size_t(N * ld));
    float* q = st.qkv.data();
    float* k = q + Q;
    float* v = q + Q + KV;
    if (w.attn_qkv) {
        linear(in, w.attn_qkv, w.attn_qkv_b, q, ctx);
        if (w.qkv_per_head) { // GPT-NeoX: columns [q_h | k_h | v_h] per head -> q | k | v (H = H_kv)
#pragma omp parallel for schedule(static)
            for (int64_t t = 0; t < N; ++t) {
                float* row = q + t * ld;
                float* tmp = thread_scratch(st, ld);
                std::copy(row, row + ld, tmp);
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t part = 0; part < 3; ++part)
                        std::copy(tmp + (3 * h + part) * d, tmp + (3 * h + part + 1) * d, row + part * Q + h * d);
            }
        }
    } else {
        linear(in, w.attn_q, w.attn_q_b, q, ctx, ld);
        linear(in, w.attn_k, w.attn_k_b, k, ctx, ld);
        linear(in, w.attn_v, w.attn_v_b, v, ctx, ld);
    }
    if (spec.clip_qkv > 0) { // OLMo: q, k, v clamped, before anything reads them
        const float c = spec.clip_qkv;
        float* p = st.qkv.data();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < N * ld; ++i)
            p[i] = std::clamp(p[i], -c, c);
    }
    offer_heads(Hook::q, il, q, ld, H, ctx);
    offer_heads(Hook::k, il, k, ld, Hkv, ctx);
    offer_heads(Hook::v, il, v, ld, Hkv, ctx);
    // RMSNorm of q and k before rotary: over each head's d values (Qwen3), or over the whole
    // projection's H d and H_kv d values (OLMo 2)
    if (spec.qk_norm != QkNorm::none) {
        const bool per_head = spec.qk_norm == QkNorm::per_head;
        // tokens in parallel (the kernel's own loop over a token's few rows then runs serially);
        // each row's value does not depend on which thread computes it
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < N; ++t) {
            rms_norm(q + t * ld, w.q_norm_w, q + t * ld, per_head ? H : 1, per_head ? d : Q, cfg.ln_eps);
            rms_norm(k + t * ld, w.k_norm_w, k + t * ld, per_head ? Hkv : 1, per_head ? d : KV, cfg.ln_eps);
        }
        offer_heads(Hook::q_normalized, il, q, ld, H, ctx);
        offer_heads(Hook::k_normalized, il, k, ld, Hkv, ctx);
    }
    if (cfg.positions == PositionKind::rotary) {
        // positions count from each sequence's start, as in its own forward; the tables are this
        // layer's (decoder.cpp), spec.rotary_dim / 2 angles per position
        const int64_t half = spec.rotary_dim / 2;
        const float* cos_t = st.rope_cos.data() + ctx.pos0 * half;
        const float* sin_t = st.rope_sin.data() + ctx.pos0 * half;
        for (int64_t s = 0; s < n_seq; ++s) {
            const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size()), off = ctx.batch.offset(s);
            rope_apply(q + off * ld, ld, T, H, d, spec.rotary_dim, spec.rotary_pairs, cos_t, sin_t);
            rope_apply(k + off * ld, ld, T, Hkv, d, spec.rotary_dim, spec.rotary_pairs, cos_t, sin_t);
        }
        offer_heads(Hook::rot_q, il, q, ld, H, ctx);
        offer_heads(Hook::rot_k, il, k, ld, Hkv, ctx);
    }

    // With a KV cache (decoding), this batch's keys and values join the cached ones and queries
    // attend to all of them: query row i stands at position past + i. Keys then come from the
    // cache (rows KV apart) instead of the qkv buffer.
    KVCache* cache = ctx.options.kv_cache;
    const int64_t past = cache ? cache->n_past : 0;
    const float* keys = k;
    const float* values = v;
    int64_t ldkv = ld;
    if (cache) {
        float* ck = cache->k[size_t(il)].data();
        float* cv = cache->v[size_t(il)].data();
        for (int64_t t = 0; t < N; ++t) {
            std::copy(k + t * ld, k + t * ld + KV, ck + (past + t) * KV);
            std::copy(v + t * ld, v + t * ld + KV, cv + (past + t) * KV);
        }
        keys = ck, values = cv, ldkv = KV;
    }

    // scores = q k^T / sqrt(d) (HF: scale_attn_weights), and / (il + 1) if the config says so
    float scale = cfg.scale_attn_weights ? 1.0f / std::sqrt(float(d)) : 1.0f;
    if (cfg.scale_attn_by_inverse_layer_idx) scale /= float(il + 1);
    st.z.resize(size_t(N * Q));
    float* z = st.z.data();
    auto n_keys = [&](int64_t i, int64_t T) { return cfg.causal ? past + i + 1 : past + T; };
    // the first key a query sees: with a sliding window (Mistral) keys j > i - window
    auto first_key = [&](int64_t i) {
        return spec.sliding_window > 0 ? std::max<int64_t>(0, past + i - spec.sliding_window + 1) : 0;
    };
    // Query rows go in blocks of kQueryBlock; a block sees the keys its last row sees. Within a
    // block, the softmax of row i reads its keys [first_key(i), n_keys(i)) and sets the rest to
    // exactly 0.
    auto block_keys = [&](int64_t i0, int64_t T) { return n_keys(std::min(T, i0 + kQueryBlock) - 1, T); };
    const float neg_inf = -std::numeric_limits<float>::infinity();
    // The three steps of one block, on rows of a buffer `ls` floats apart; every path calls
    // exactly these, so they give the same bits.
    auto block_scores = [&](int64_t off, int64_t h, int64_t i0, int64_t rows, int64_t T, float* s, int64_t ls) {
        attention_scores_block(q + (off + i0) * ld + h * d, ld, keys + off * ldkv + (h / group) * d, ldkv, rows,
                               block_keys(i0, T), d, scale, s, ls);
    };
    auto row_softmax = [&](int64_t i, int64_t T, float* row, int64_t width) {
        const int64_t n = n_keys(i, T), lo = first_key(i);
        softmax_row(row + lo, n - lo);
        std::fill(row, row + lo, 0.0f);
        std::fill(row + n, row + width, 0.0f);
    };
    auto block_values = [&](int64_t off, int64_t h, int64_t i0, int64_t rows, int64_t T, const float* p, int64_t ls) {
        attention_values_block(p, ls, values + off * ldkv + (h / group) * d, ldkv, rows, block_keys(i0, T), d,
                               z + (off + i0) * Q + h * d, Q);
    };

    if (!ctx.plan.any_attention_matrix(il)) {
        // Fused: one block of rows at a time per (sequence, head); nothing [T, T] ever exists.
        // Unless attention_heads wants whole heads: then each thread builds one head at a time in
        // its own [T, T] buffer, block by block with the streamed path's steps and strides (so the
        // same bits), and hands it over while it is in cache; still no [H, T, T] buffer.
        const bool whole_heads = ctx.options.wants_heads(il);
        std::exception_ptr head_error; // an exception must not leave the parallel loop: kept, rethrown after
        const int64_t n_pairs = n_seq * H;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t p = 0; p < n_pairs; ++p) {
            const int64_t s = p / H, h = p % H;
            const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size()), off = ctx.batch.offset(s);
            // Rows go to a [block, nb] scratch reused per block, or with whole heads to their
            // place in a [T, T] head (row stride T, as in the streamed path).
            float* const base = thread_scratch(st, whole_heads ? T * T : kQueryBlock * (past + T));
            for (int64_t i0 = 0; i0 < T; i0 += kQueryBlock) {
                const int64_t rows = std::min(kQueryBlock, T - i0), nb = block_keys(i0, T);
                const int64_t ls = whole_heads ? T : nb;
                float* const buf = whole_heads ? base + i0 * T : base;
                block_scores(off, h, i0, rows, T, buf, ls);
                for (int64_t r = 0; r < rows; ++r) {
                    row_softmax(i0 + r, T, buf + r * ls, ls);
                    if (ctx.options.attention_rows)
                        ctx.options.attention_rows(il, int(s), int(h), i0 + r, buf + r * ls, n_keys(i0 + r, T));
                }
                block_values(off, h, i0, rows, T, buf, ls);
            }
            if (whole_heads) {
                try {
                    ctx.options.attention_heads(il, int(s), int(h), base, T);
                } catch (...) {
#pragma omp critical(attnscope_head_error)
                    if (!head_error) head_error = std::current_exception();
                }
            }
        }
        if (head_error) std::rethrow_exception(head_error);
    } else {
        // One sequence at a time into att[H, T, T]. Streamed, when read-only hooks want the
        // patterns (a capture): each block runs all three steps while it is in cache and leaves
        // its pattern rows in att, which the hooks then read. Materialised, when a hook wants
        // the scores or may patch the pattern: each step runs over the whole buffer, offered to
        // the hooks between the steps. Same steps on the same blocks as above: the same bits.
        const bool streamed = !ctx.plan.wants(Hook::attn_scores, il) && !ctx.plan.may_patch(Hook::pattern, il);
        for (int64_t s = 0; s < n_seq; ++s) {
            const int64_t T = int64_t(ctx.batch.tokens[size_t(s)].size()), off = ctx.batch.offset(s);
            const int64_t n_blocks = (T + kQueryBlock - 1) / kQueryBlock;
            st.att.resize(size_t(H * T * T));
            ctx.stats.attention_matrix_floats = std::max(ctx.stats.attention_matrix_floats, size_t(H * T * T));
            float* att = st.att.data();
            const TensorView att_view = TensorView::contiguous(att, {H, T, T});
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t b = 0; b < n_blocks; ++b) {
                    const int64_t i0 = b * kQueryBlock, rows = std::min(kQueryBlock, T - i0);
                    float* s0 = att + (h * T + i0) * T;
                    block_scores(off, h, i0, rows, T, s0, T);
                    if (streamed) {
                        for (int64_t r = 0; r < rows; ++r)
                            row_softmax(i0 + r, T, s0 + r * T, T);
                        block_values(off, h, i0, rows, T, s0, T);
                    } else {
                        for (int64_t r = 0; r < rows; ++r) { // the mask, as the scores hook sees it
                            std::fill(s0 + r * T, s0 + r * T + first_key(i0 + r), neg_inf);
                            std::fill(s0 + r * T + n_keys(i0 + r, T), s0 + (r + 1) * T, neg_inf);
                        }
                    }
                }
            if (!streamed) {
                if (ctx.plan.wants(Hook::attn_scores, il)) ctx.hooks.dispatch(Hook::attn_scores, il, int(s), att_view);
#pragma omp parallel for schedule(static)
                for (int64_t r = 0; r < H * T; ++r)
                    row_softmax(r % T, T, att + r * T, T);
            }
            if (ctx.plan.wants(Hook::pattern, il)) ctx.hooks.dispatch(Hook::pattern, il, int(s), att_view);
            if (ctx.options.wants_heads(il))
                for (int64_t h = 0; h < H; ++h)
                    ctx.options.attention_heads(il, int(s), int(h), att + h * T * T, T);
            if (ctx.options.attention_rows)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t i = 0; i < T; ++i)
                        ctx.options.attention_rows(il, int(s), int(h), i, att + (h * T + i) * T, n_keys(i, T));
            if (streamed) continue;
                // Z = P V over each block's keys (cells above the diagonal are 0 unless a hook
                // patched them; a patch there is used as given).
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t b = 0; b < n_blocks; ++b) {
                    const int64_t i0 = b * kQueryBlock, rows = std::min(kQueryBlock, T - i0);
                    block_values(off, h, i0, rows, T, att + (h * T + i0) * T, T);
                }
        }
    }
    offer_heads(Hook::z, il, z, Q, H, ctx);

    // attn_out[N, D] = z @ W_o + b_o, then its norm when the block has one after attention
    st.attn_out.resize(size_t(N * cfg.n_embd));
    linear(z, w.attn_out, w.attn_out_b, st.attn_out.data(), ctx);
    if (spec.norm_placement != NormPlacement::pre)
        norm(Hook::ln1_post_normalized, il, st.attn_out.data(), w.ln1_post_w, w.ln1_post_b, ctx, st.attn_out.data());
    offer_rows(Hook::attn_out, il, st.attn_out.data(), cfg.n_embd, ctx);
}

void mlp(const LayerWeights& w, int il, const float* in, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, F = ctx.cfg.n_inner, N = ctx.batch.n_tokens();
    const LayerSpec& spec = ctx.cfg.layer(il);
    RunState& st = ctx.state;
    st.mlp_h.resize(size_t(N * F));
    const bool gated = spec.mlp == MlpKind::gated;
    // plain: act(in W_in + b); gated (Llama): act(in W_gate) * (in W_up), hook_pre is the gate
    linear(in, gated ? w.mlp_gate : w.mlp_in, gated ? nullptr : w.mlp_in_b, st.mlp_h.data(), ctx);
    offer_rows(Hook::mlp_pre, il, st.mlp_h.data(), F, ctx);
    if (gated) {
        st.mlp_up.resize(size_t(N * F));
        linear(in, w.mlp_in, w.mlp_in_b, st.mlp_up.data(), ctx);
        offer_rows(Hook::mlp_pre_linear, il, st.mlp_up.data(), F, ctx);
    }
    switch (spec.activation) {
    case Activation::gelu_tanh: gelu_tanh(st.mlp_h.data(), N * F); break;
    case Activation::gelu_erf: gelu_erf(st.mlp_h.data(), N * F); break;
    case Activation::relu: relu(st.mlp_h.data(), N * F); break;
    case Activation::silu: silu(st.mlp_h.data(), N * F); break;
    }
    if (gated) mul_inplace(st.mlp_h.data(), st.mlp_up.data(), N * F);
    offer_rows(Hook::mlp_post, il, st.mlp_h.data(), F, ctx);
    st.mlp_out.resize(size_t(N * D));
    linear(st.mlp_h.data(), w.mlp_out, w.mlp_out_b, st.mlp_out.data(), ctx);
    if (spec.norm_placement != NormPlacement::pre)
        norm(Hook::ln2_post_normalized, il, st.mlp_out.data(), w.ln2_post_w, w.ln2_post_b, ctx, st.mlp_out.data());
    offer_rows(Hook::mlp_out, il, st.mlp_out.data(), D, ctx);
}

void residual_add(Hook h, int il, const float* delta, BlockContext& ctx) {
    const int64_t D = ctx.cfg.n_embd, N = ctx.batch.n_tokens();
    add_inplace(ctx.state.x.data(), delta, N * D);
    offer_rows(h, il, ctx.state.x.data(), D, ctx);
}

void final_norm_and_logits(const float* gamma, const float* beta, const MatrixView& lm_head, bool want_logits,
                           BlockContext& ctx) {
    const bool want_norm = ctx.plan.wants(Hook::ln_final_normalized);
    want_logits = want_logits || ctx.plan.wants(Hook::logits);
    if (!want_norm && !want_logits) return;
    norm(Hook::ln_final_normalized, -1, ctx.state.x.data(), gamma, beta, ctx);
    if (!want_logits) return;
    const int64_t D = ctx.cfg.n_embd, V = ctx.cfg.vocab_size, N = ctx.batch.n_tokens();
    // logits = ln_f(x) @ W_U^T, one product over the batch (or the sequences' last rows)
    if (ctx.options.logits_last_only && !ctx.plan.wants(Hook::logits)) {
        const int64_t n_seq = ctx.batch.n_seq();
        std::vector<float> last(size_t(n_seq * D));
        for (int64_t s = 0; s < n_seq; ++s) {
            const float* row =
                ctx.state.ln.data() + (ctx.batch.offset(s) + int64_t(ctx.batch.tokens[size_t(s)].size()) - 1) * D;
            std::copy(row, row + D, last.data() + s * D);
        }
        ctx.state.logits.resize(size_t(n_seq * V));
        linear(last.data(), lm_head, nullptr, ctx.state.logits.data(), ctx, -1, n_seq);
        ctx.stats.computed_logits = true;
        return;
    }
    ctx.state.logits.resize(size_t(N * V));
    linear(ctx.state.ln.data(), lm_head, nullptr, ctx.state.logits.data(), ctx);
    ctx.stats.computed_logits = true;
    offer_rows(Hook::logits, -1, ctx.state.logits.data(), V, ctx);
}

} // namespace attnscope
