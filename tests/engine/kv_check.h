// The KV cache's promise, measured: decode text[prefill..] one token at a time against the cache
// and compare each step's logits with a full forward over the same tokens (the last row).
// Returns the worst difference relative to the step's largest logit.
#pragma once

#include "engine/forward.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace attnscope::test {

inline double kv_cache_vs_full(const Model& model, const std::vector<int32_t>& text, size_t prefill,
                               KVCache& cache) {
    const int64_t V = model.config().vocab_size;
    RunState cached, full;
    HookSet none;
    ForwardOptions fo;
    fo.logits = true;
    fo.kv_cache = &cache;
    forward(model, Batch::from_sequences({{text.begin(), text.begin() + int64_t(prefill)}}), none, cached, fo);
    double worst = 0;
    for (size_t n = prefill; n <= text.size(); ++n) {
        if (n > prefill) forward(model, Batch::from_sequences({{text[n - 1]}}), none, cached, fo);
        ForwardOptions plain;
        plain.logits = true;
        forward(model, Batch::from_sequences({{text.begin(), text.begin() + int64_t(n)}}), none, full, plain);
        const float* a = cached.logits.data() + (n == prefill ? int64_t(prefill - 1) * V : 0);
        const float* b = full.logits.data() + int64_t(n - 1) * V;
        double scale = 0, diff = 0;
        for (int64_t k = 0; k < V; ++k)
            scale = std::max(scale, std::fabs(double(b[k]))), diff = std::max(diff, std::fabs(double(a[k]) - b[k]));
        worst = std::max(worst, diff / scale);
    }
    return worst;
}

} // namespace attnscope::test
