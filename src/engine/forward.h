// The forward pass: a batch of token sequences through a model, hooks offered every value.
//
//   auto model = Model::load("tests/fixtures/gpt2-tiny");
//   Batch batch = Batch::from_sequences({{464, 3290, 318}, {40, 1101}});   // ragged, no padding
//   HookSet hooks;                                  // empty: nothing captured, LM head skipped
//   RunState state;                                 // buffers, reused by later calls
//   ForwardStats st = forward(*model, batch, hooks, state, {.logits = true});
//   TensorView lg = state.logits_of(batch, 1);      // F32 [2, V] for the second sequence
//
// Sequences are packed one after another (no padding), each with positions from its own start,
// so a sequence gives the same result alone or in any batch. The model is never modified; all
// activations live in the RunState.
#pragma once

#include "core/tensor.h"
#include "engine/hooks.h"
#include "engine/kv_cache.h"
#include "model/model.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace attnscope {

struct Batch {
    std::vector<std::vector<int32_t>> tokens; // one entry per sequence, at its true length

    static Batch from_sequences(std::vector<std::vector<int32_t>> seqs) { return Batch{std::move(seqs)}; }
    // From a padded [n_seq, T] id matrix and its 0/1 attention mask (left or right padding):
    // each sequence keeps the ids whose mask is 1, which must form one contiguous run.
    static Batch from_padded(const int32_t* ids, const int32_t* mask, int64_t n_seq, int64_t T);

    int64_t n_seq() const { return int64_t(tokens.size()); }
    int64_t n_tokens() const;
    int64_t max_length() const;
    // Row of the first token of sequence s in the packed layout.
    int64_t offset(int64_t s) const;
};

// Receives every attention probability row as it is computed: layer, sequence, head, query
// position i, the row (n = keys it sees). Called concurrently for different (sequence, head)
// pairs of a layer, in row order within a pair; the row is valid only during the call. With it,
// statistics need no [H, T, T] buffer (attnscope run --stats-only).
using AttentionRowFn = std::function<void(int il, int seq, int head, int64_t i, const float* row, int64_t n)>;

// Receives each attention head's whole pattern: layer, sequence, head, and the pattern F32
// [T, T] row-major (row i: the probabilities of the n_i keys it sees, then exact zeros), exactly
// the slice a hook_pattern callback would see. Called once per (sequence, head) of each layer it
// is asked for, concurrently for different pairs, from the thread that computed the head while
// the head is still in its cache; valid only during the call. With it, a capture writes patterns
// without an [H, T, T] buffer (attnscope run).
using AttentionHeadFn = std::function<void(int il, int seq, int head, const float* pattern, int64_t T)>;

struct ForwardOptions {
    bool logits = false;                        // compute logits into RunState::logits even if no hook asks for them
    bool logits_last_only = false;              // then only each sequence's last row: RunState::logits is [n_seq, V]
    KVCache* kv_cache = nullptr;                // incremental decoding: one sequence, continuing the cache's tokens
    int64_t weight_tile = 1024;                 // 16-bit weights: output rows widened to f32 per product (x16)
    AttentionRowFn attention_rows = nullptr;    // optional, see above
    AttentionHeadFn attention_heads = nullptr;  // optional, see above
    std::vector<uint8_t> attention_head_layers = {}; // layers that call attention_heads (empty: every layer)
    // Prefix reuse: start at layer start_layer from resid_pre, F32 [N, D], the residual stream
    // entering that layer in an earlier run of the same batch (blocks.{start_layer}.hook_resid_pre).
    // Layers before it are neither computed nor offered to hooks; the result is the same as a
    // full forward whose earlier layers gave those values (ablation of a later head, Runner::ablate).
    int start_layer = 0;
    const float* resid_pre = nullptr;
    bool wants_heads(int il) const {
        return attention_heads && (attention_head_layers.empty() || attention_head_layers[size_t(il)]);
    }
};

// What a forward did, for callers and for tests of the "nobody asked, nothing done" rule.
struct ForwardStats {
    int64_t n_tokens = 0;
    bool computed_logits = false;
    size_t attention_matrix_floats = 0; // size of the largest [H, T, T] buffer used (0 if none)
};

// Activations of one run. Buffers grow to the largest batch seen and are then reused.
struct RunState {
    Buffer x;                        // F32 [N, D] residual stream (N = tokens in the batch)
    Buffer pos;                      // F32 [N, D] position embeddings
    Buffer ln;                       // F32 [N, D] layer-norm output
    Buffer qkv;                      // F32 [N, H d + 2 H_kv d]  q | k | v of each token (3D for GPT-2)
    Buffer rope_cos, rope_sin;       // F32 [T_max, r / 2] the current layer's rotary tables (rotary models)
    Buffer z;                        // F32 [N, H d]  per-head attention outputs, heads side by side
    Buffer attn_out;                 // F32 [N, D]
    Buffer mlp_h;                    // F32 [N, F]  (gated: the gate, then act(gate) * up)
    Buffer mlp_up;                   // F32 [N, F]  gated MLP's up projection
    Buffer weight_tile;              // F32 [weight_tile, in]: a 16-bit matrix's rows widened for one product
    Buffer mlp_out;                  // F32 [N, D]
    Buffer att;                      // F32 [H, T, T] scores/pattern of one sequence, only when a hook wants them
    Buffer logits;                   // F32 [N, V]  only when asked for
    std::vector<Buffer> row_scratch; // per thread, F32 [64, T]: one block of attention rows, or
                                     // F32 [T, T]: one head for ForwardOptions::attention_heads

    // Logits of sequence s after a forward with logits computed: F32 [T_s, V].
    TensorView logits_of(const Batch& batch, int64_t s, int64_t vocab);
};

// Validate the batch against the model (non-empty sequences, ids < vocab_size, length <=
// n_positions), then run it. Throws Error naming the sequence and position at fault.
ForwardStats forward(const Model& model, const Batch& batch, const HookSet& hooks, RunState& state,
                     const ForwardOptions& options = {});

} // namespace attnscope
