// Hook points: every value of a forward pass, named as TransformerLens names it, offered to
// whoever asked for it — and not computed or copied when nobody did.
//
//   HookSet hooks;
//   hooks.add(HookFilter::parse("blocks.*.attn.hook_pattern", /*layers*/ "0-3,11", /*heads*/ ""),
//             [&](const HookContext& ctx, TensorView v) {   // v: F32 [H, T, T] for this sequence
//                 save(ctx.name, ctx.seq, v.to_vector());    // the view is valid during the call only
//             });
//   forward(model, batch, hooks);
//
// A callback may also write into the view: the forward pass then continues from the changed
// value (ablation, patching). Hooks always see one sequence at its true length, never padding.
#pragma once

#include "core/tensor.h"
#include "model/config.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

// The hook points of a decoder-only transformer (docs/design.md §3). Per-layer hooks are named
// "blocks.{il}.<suffix>", model-level hooks by their suffix alone.
enum class Hook {
    embed,               // hook_embed                    [T, D]
    pos_embed,           // hook_pos_embed                [T, D]
    resid_pre,           // blocks.L.hook_resid_pre       [T, D]
    ln1_normalized,      // blocks.L.ln1.hook_normalized  [T, D]  the attention block's input
    q,                   // blocks.L.attn.hook_q          [T, H, d]
    k,                   // blocks.L.attn.hook_k          [T, H_kv, d]
    v,                   // blocks.L.attn.hook_v          [T, H_kv, d]
    q_normalized,        // blocks.L.attn.q_norm.hook_normalized [T, H, d]  after the q norm (Qwen3, OLMo 2)
    k_normalized,        // blocks.L.attn.k_norm.hook_normalized [T, H_kv, d]
    rot_q,               // blocks.L.attn.hook_rot_q      [T, H, d]     after rotary (rotary models)
    rot_k,               // blocks.L.attn.hook_rot_k      [T, H_kv, d]
    attn_scores,         // blocks.L.attn.hook_attn_scores [H, T, T] scaled, masked (-inf), pre-softmax
    pattern,             // blocks.L.attn.hook_pattern    [H, T, T] post-softmax
    z,                   // blocks.L.attn.hook_z          [T, H, d] pattern @ V
    ln1_post_normalized, // blocks.L.ln1_post.hook_normalized [T, D] the norm of attention's output (OLMo 2)
    attn_out,            // blocks.L.hook_attn_out        [T, D]  after the output projection (and its norm)
    resid_mid,           // blocks.L.hook_resid_mid       [T, D]  sequential blocks only
    ln2_normalized,      // blocks.L.ln2.hook_normalized  [T, D]
    mlp_pre,             // blocks.L.mlp.hook_pre         [T, F]  before the activation (gated: the gate)
    mlp_pre_linear,      // blocks.L.mlp.hook_pre_linear  [T, F]  gated MLP: the up projection
    mlp_post,            // blocks.L.mlp.hook_post        [T, F]  after the activation
    ln2_post_normalized, // blocks.L.ln2_post.hook_normalized [T, D] the norm of the MLP's output (OLMo 2)
    mlp_out,             // blocks.L.hook_mlp_out         [T, D]  (after its norm)
    resid_post,          // blocks.L.hook_resid_post      [T, D]
    ln_final_normalized, // ln_final.hook_normalized   [T, D]
    logits,              // logits                        [T, V]
    count
};
constexpr int kHookCount = int(Hook::count);

bool hook_is_per_layer(Hook h);
// Whether layer il of a model of this config has the hook (no hook_pos_embed with rotary
// positions, no hook_rot_q / hook_rot_k without them, hook_pre_linear only in a gated MLP, no
// hook_resid_mid in a parallel block, ln1 only before a sublayer, ln1_post only after one, the
// q/k norms' hooks only under a q/k norm); il is
// ignored for model-level hooks. Without il: whether any layer has it.
bool hook_exists(Hook h, const ModelConfig& cfg, int il);
bool hook_exists(Hook h, const ModelConfig& cfg);
// "blocks.3.attn.hook_pattern" for (pattern, 3); "logits" for (logits, -1).
std::string hook_name(Hook h, int il);
// Suffix after "blocks.{il}." ("attn.hook_pattern"), or the whole name for model-level hooks.
const char* hook_suffix(Hook h);
// Every hook name of a model, in forward order.
std::vector<std::string> all_hook_names(const ModelConfig& cfg);

// Glob match: '*' any run of characters (dots included), '?' one character.
bool glob_match(std::string_view pattern, std::string_view text);

// Which hooks, layers and heads a caller wants.
struct HookFilter {
    std::vector<std::string> patterns; // exact names or globs; empty = every hook
    std::vector<int> layers;           // empty = every layer (model-level hooks ignore it)
    std::vector<int> heads;            // empty = every head; passed on to callbacks

    bool matches(Hook h, int il) const;
    // Parse "name,glob,..." patterns and "0-3,11" ranges (heads alike). Throws Error on bad syntax.
    static HookFilter parse(const std::string& patterns, const std::string& layers, const std::string& heads);
};

// Split "a, b,,c" at commas into trimmed, non-empty items {"a", "b", "c"}.
std::vector<std::string> split_list(const std::string& list);
// Parse "0-3,11" into {0,1,2,3,11}; `what` names the argument in errors ("--layers").
std::vector<int> parse_index_list(const std::string& spec, const std::string& what);

struct HookContext {
    Hook hook;
    int layer;                     // -1 for model-level hooks
    int seq;                       // index of the sequence in the batch
    const std::string& name;       // full hook name
    const std::vector<int>& heads; // the filter's head subset (empty = all)
};

using HookFn = std::function<void(const HookContext&, TensorView)>;

// Whether a callback may write into the view it is given. Read-only callbacks (captures,
// statistics) let the forward skip keeping a value around for a patch: attention patterns are
// then computed block by block while in cache, with the same results.
enum class HookAccess { read_write, read_only };

class HookSet {
  public:
    void add(HookFilter filter, HookFn fn, HookAccess access = HookAccess::read_write);
    bool empty() const { return entries_.empty(); }

    // The ask step, resolved once per forward: which (hook, layer) pairs anybody wants.
    class Plan {
      public:
        bool wants(Hook h, int il = -1) const {
            return want_[size_t(hook_is_per_layer(h) ? (il + 1) * kHookCount + int(h) : int(h))];
        }
        bool any_attention_matrix(int il) const { return wants(Hook::attn_scores, il) || wants(Hook::pattern, il); }
        // Does a callback that may write into the value want (h, il)?
        bool may_patch(Hook h, int il = -1) const {
            return patch_[size_t(hook_is_per_layer(h) ? (il + 1) * kHookCount + int(h) : int(h))];
        }

      private:
        friend class HookSet;
        std::vector<bool> want_;  // [(n_layer + 1) * kHookCount]: row 0 model-level, row il+1 layer il
        std::vector<bool> patch_; // the same, for read-write callbacks only
    };
    Plan plan(int n_layer) const;

    // Call every callback whose filter matches (h, il) with the value of sequence `seq`.
    void dispatch(Hook h, int il, int seq, TensorView value) const;

  private:
    struct Entry {
        HookFilter filter;
        HookFn fn;
        HookAccess access;
    };
    std::vector<Entry> entries_;
};

} // namespace attnscope
