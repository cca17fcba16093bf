// The decoding loop: prefill the prompt into a KV cache, then one token per forward, each
// picked from the last row of logits. Sampling uses splitmix64 (portable, seeded) and a
// float64 softmax over the kept logits, so a seed gives the same ids on every machine.
#include "generate/generate.h"

#include "core/error.h"
#include "engine/forward.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace attnscope {

namespace {

uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

} // namespace

int32_t pick_token(const float* logits, int64_t V, const GenerateOptions& o, uint64_t& state) {
    if (o.temperature <= 0) return int32_t(std::max_element(logits, logits + V) - logits); // first maximum
    std::vector<int32_t> ids(static_cast<size_t>(V));
    std::iota(ids.begin(), ids.end(), 0);
    int64_t keep = V;
    if (o.top_k > 0 && o.top_k < V) {
        keep = o.top_k;
        std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(), [&](int32_t a, int32_t b) {
            return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
        });
    }
    double mx = -INFINITY;
    for (int64_t k = 0; k < keep; ++k)
        mx = std::max(mx, double(logits[ids[size_t(k)]]));
    std::vector<double> p(static_cast<size_t>(keep));
    double sum = 0;
    for (int64_t k = 0; k < keep; ++k)
        sum += p[size_t(k)] = std::exp((double(logits[ids[size_t(k)]]) - mx) / o.temperature);
    const double u = double(splitmix(state) >> 11) * 0x1.0p-53 * sum; // uniform in [0, sum)
    double acc = 0;
    for (int64_t k = 0; k < keep; ++k)
        if ((acc += p[size_t(k)]) > u) return ids[size_t(k)];
    return ids[size_t(keep - 1)];
}

GenerateResult generate(const Model& model, const std::vector<int32_t>& prompt, const GenerateOptions& o,
                        const std::function<void(int32_t)>& on_token) {
    const ModelConfig& cfg = model.config();
    if (prompt.empty()) throw Error("generate: the prompt is empty", "give at least one token (e.g. the BOS id)");
    if (o.max_new_tokens < 0) throw Error(cat("generate: max_new_tokens = ", o.max_new_tokens, " is negative"));
    if (!(o.temperature >= 0)) throw Error(cat("generate: temperature = ", o.temperature, " must be >= 0"));
    if (int64_t(prompt.size()) > cfg.n_positions)
        throw Error(cat("generate: the prompt has ", prompt.size(), " tokens, more than the model's context of ",
                        cfg.n_positions));
    const int64_t n_ctx = std::min<int64_t>(cfg.n_positions, int64_t(prompt.size()) + o.max_new_tokens);
    KVCache cache(cfg, n_ctx);
    RunState state;
    HookSet none;
    ForwardOptions fo;
    fo.kv_cache = &cache;
    fo.logits = true;
    fo.logits_last_only = true; // the prompt's other rows predict nothing we need
    GenerateResult r;
    uint64_t rng = o.seed;
    const int64_t V = cfg.vocab_size;
    auto t0 = std::chrono::steady_clock::now();
    forward(model, Batch::from_sequences({prompt}), none, state, fo);
    int32_t next = pick_token(state.logits.data(), V, o, rng);
    auto t1 = std::chrono::steady_clock::now();
    r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
    for (int n = 0; n < o.max_new_tokens; ++n) {
        r.ids.push_back(next);
        if (on_token) on_token(next);
        if (std::find(o.stop_ids.begin(), o.stop_ids.end(), next) != o.stop_ids.end()) {
            r.stopped = true;
            break;
        }
        if (n + 1 == o.max_new_tokens || cache.n_past >= cache.n_ctx) break;
        forward(model, Batch::from_sequences({{next}}), none, state, fo);
        next = pick_token(state.logits.data(), V, o, rng);
    }
    r.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    return r;
}

} // namespace attnscope
