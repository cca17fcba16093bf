// Decoding with a KV cache: the prompt is run once, then each new token is one forward of one
// row against the cached keys and values — no recomputation of the prefix.
//
//   auto model = Model::load("out/stories260K");
//   GenerateOptions o;  o.max_new_tokens = 64;
//   GenerateResult r = generate(*model, {1}, o);                          // greedy from BOS
//   for (int32_t id : r.ids) ...                                          // the new tokens
//
// Greedy by default (argmax; the lowest id wins a tie, as torch.argmax); with temperature > 0,
// sampling from softmax(logits / temperature), restricted to the top_k most likely when top_k
// > 0, from a portable generator seeded by `seed` (the same ids everywhere). Stops after
// max_new_tokens, at the model's context, or after a stop id (included in ids).
#pragma once

#include "model/model.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace attnscope {

struct GenerateOptions {
    int max_new_tokens = 64;
    float temperature = 0.0f; // 0: greedy
    int top_k = 0;            // 0: the whole vocabulary
    uint64_t seed = 0;
    std::vector<int32_t> stop_ids; // e.g. the model's eos_token_id
};

struct GenerateResult {
    std::vector<int32_t> ids; // the generated tokens, in order
    bool stopped = false;     // ended at a stop id
    double prefill_seconds = 0, decode_seconds = 0;
};

// on_token(id) after each new token (for printing as it goes).
GenerateResult generate(const Model& model, const std::vector<int32_t>& prompt, const GenerateOptions& options = {},
                        const std::function<void(int32_t)>& on_token = {});

// The next token from one row of logits (F32 [V]) under `options`; `state` is the generator.
int32_t pick_token(const float* logits, int64_t V, const GenerateOptions& options, uint64_t& state);

} // namespace attnscope
