// Batch handling, input validation and the call of the decoder forward.
#include "engine/forward.h"

#include "core/error.h"
#include "core/threads.h"

#include <algorithm>

namespace attnscope {

void forward_decoder(const Model& model, const Batch& batch, const HookSet& hooks, RunState& state,
                     const ForwardOptions& options, ForwardStats& stats); // decoder.cpp

int64_t Batch::n_tokens() const {
    int64_t n = 0;
    for (const auto& t : tokens)
        n += int64_t(t.size());
    return n;
}

int64_t Batch::max_length() const {
    int64_t n = 0;
    for (const auto& t : tokens)
        n = std::max(n, int64_t(t.size()));
    return n;
}

int64_t Batch::offset(int64_t s) const {
    int64_t off = 0;
    for (int64_t i = 0; i < s; ++i)
        off += int64_t(tokens[size_t(i)].size());
    return off;
}

Batch Batch::from_padded(const int32_t* ids, const int32_t* mask, int64_t n_seq, int64_t T) {
    Batch b;
    for (int64_t s = 0; s < n_seq; ++s) {
        const int32_t* m = mask + s * T;
        int64_t first = T, last = -1;
        for (int64_t t = 0; t < T; ++t) {
            if (m[t] != 0 && m[t] != 1)
                throw Error(cat("attention_mask[", s, "][", t, "] = ", m[t], ": expected 0 or 1"));
            if (m[t]) {
                first = std::min(first, t);
                last = t;
            }
        }
        if (last < 0) throw Error(cat("attention_mask row ", s, " is all zeros: the sequence has no tokens"));
        for (int64_t t = first; t <= last; ++t)
            if (!m[t])
                throw Error(cat("attention_mask row ", s, " has a gap at position ", t),
                            "padding must be on the left or the right of each sequence");
        b.tokens.emplace_back(ids + s * T + first, ids + s * T + last + 1);
    }
    return b;
}

TensorView RunState::logits_of(const Batch& batch, int64_t s, int64_t vocab) {
    return TensorView::matrix(logits.data() + batch.offset(s) * vocab, int64_t(batch.tokens[size_t(s)].size()), vocab);
}

ForwardStats forward(const Model& model, const Batch& batch, const HookSet& hooks, RunState& state,
                     const ForwardOptions& options) {
    const ModelConfig& cfg = model.config();
    if (batch.tokens.empty()) throw Error("forward: the batch holds no sequences");
    for (size_t s = 0; s < batch.tokens.size(); ++s) {
        const auto& t = batch.tokens[s];
        if (t.empty()) throw Error(cat("sequence ", s, " is empty"), "every text must give at least one token");
        if (int64_t(t.size()) > cfg.n_positions)
            throw Error(cat("sequence ", s, " has ", t.size(),
                            " tokens, more than the model's n_positions = ", cfg.n_positions),
                        "truncate it (--max-length) or split the text");
        for (size_t i = 0; i < t.size(); ++i)
            if (t[i] < 0 || t[i] >= cfg.vocab_size)
                throw Error(cat("sequence ", s, ", position ", i, ": token id ", t[i],
                                " is outside the vocabulary [0, ", cfg.vocab_size, ")"),
                            "were the ids made by this model's tokenizer?");
    }
    if (KVCache* c = options.kv_cache) {
        const int64_t T = int64_t(batch.tokens[0].size());
        if (batch.n_seq() != 1) throw Error(cat("forward: a KV cache takes one sequence per batch, not ", batch.n_seq()));
        if (c->n_past + T > std::min<int64_t>(c->n_ctx, cfg.n_positions))
            throw Error(cat("forward: ", c->n_past, " cached + ", T, " new tokens exceed the cache's ", c->n_ctx,
                            " (model context ", cfg.n_positions, ")"),
                        "make a larger cache, or stop earlier");
        if (c->k.size() != size_t(cfg.n_layer) || c->width != int64_t(cfg.n_kv_head) * cfg.d_head)
            throw Error("forward: the KV cache was made for another model");
        const HookSet::Plan plan = hooks.plan(cfg.n_layer);
        for (int il = 0; il < cfg.n_layer; ++il)
            if (plan.any_attention_matrix(il) || options.attention_rows || options.attention_heads)
                throw Error("forward: attention scores and patterns cannot be observed during cached decoding",
                            "capture them with a full forward over the final text (they are the same values)");
    }
    if (options.start_layer != 0) {
        if (options.start_layer < 0 || options.start_layer >= cfg.n_layer)
            throw Error(cat("forward: start_layer ", options.start_layer, " is outside the model's layers [0, ",
                            cfg.n_layer, ")"));
        if (!options.resid_pre)
            throw Error("forward: start_layer needs resid_pre, the residual stream entering that layer");
        if (options.kv_cache) throw Error("forward: start_layer cannot be combined with a KV cache");
    }
    ForwardStats stats;
    stats.n_tokens = batch.n_tokens();
    state.row_scratch.resize(size_t(std::max(num_threads(), 1)));
    // every architecture the model registry loads is a pre-norm decoder (decoder.cpp); a new
    // block order would be a new file chosen here by an enum of the config, never by model_type
    forward_decoder(model, batch, hooks, state, options, stats);
    return stats;
}

} // namespace attnscope
