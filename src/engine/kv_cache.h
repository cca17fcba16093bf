// The key/value cache of incremental decoding: each layer's keys (after rotary) and values of
// the tokens seen so far, so a new token attends to them without recomputing the prefix. Owned
// by the caller (generate/), run state beside the activations (llama2.c's RunState).
//
//   KVCache cache(model.config(), /*n_ctx=*/256);
//   ForwardOptions o;  o.kv_cache = &cache;  o.logits = true;
//   forward(model, Batch::from_sequences({prompt}), hooks, state, o);   // prefill: n_past = |prompt|
//   forward(model, Batch::from_sequences({{next}}), hooks, state, o);   // one token: n_past + 1
//
// One sequence per batch; the attention of a cached forward runs on the fused path only (no
// scores or pattern hooks: their [H, T, T] shape does not hold when keys outnumber queries).
#pragma once

#include "core/tensor.h"
#include "model/config.h"

#include <vector>

namespace attnscope {

struct KVCache {
    KVCache(const ModelConfig& cfg, int64_t n_ctx)
        : n_ctx(n_ctx), width(int64_t(cfg.n_kv_head) * cfg.d_head), k(size_t(cfg.n_layer)), v(size_t(cfg.n_layer)) {
        for (auto& b : k)
            b.resize(size_t(n_ctx * width));
        for (auto& b : v)
            b.resize(size_t(n_ctx * width));
    }
    int64_t n_ctx = 0;             // capacity in tokens
    int64_t width = 0;             // H_kv d
    int64_t n_past = 0;            // tokens stored
    std::vector<Buffer> k, v;      // per layer F32 [n_ctx, H_kv d]
};

} // namespace attnscope
