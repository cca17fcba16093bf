// Hook names, filters and dispatch. The engine asks a Plan (built once per forward) whether a
// value is wanted before computing or copying it; dispatch then hands a view of it to each
// matching callback. Nothing here knows what the callbacks do with the data (capture/ does).
#include "engine/hooks.h"

#include "core/error.h"

#include <algorithm>
#include <cctype>

namespace attnscope {

namespace {
struct HookInfo {
    Hook hook;
    const char* suffix;
    bool per_layer;
};
constexpr HookInfo kHooks[] = {
    {Hook::embed, "hook_embed", false},
    {Hook::pos_embed, "hook_pos_embed", false},
    {Hook::resid_pre, "hook_resid_pre", true},
    {Hook::ln1_normalized, "ln1.hook_normalized", true},
    {Hook::q, "attn.hook_q", true},
    {Hook::k, "attn.hook_k", true},
    {Hook::v, "attn.hook_v", true},
    {Hook::q_normalized, "attn.q_norm.hook_normalized", true},
    {Hook::k_normalized, "attn.k_norm.hook_normalized", true},
    {Hook::rot_q, "attn.hook_rot_q", true},
    {Hook::rot_k, "attn.hook_rot_k", true},
    {Hook::attn_scores, "attn.hook_attn_scores", true},
    {Hook::pattern, "attn.hook_pattern", true},
    {Hook::z, "attn.hook_z", true},
    {Hook::ln1_post_normalized, "ln1_post.hook_normalized", true},
    {Hook::attn_out, "hook_attn_out", true},
    {Hook::resid_mid, "hook_resid_mid", true},
    {Hook::ln2_normalized, "ln2.hook_normalized", true},
    {Hook::mlp_pre, "mlp.hook_pre", true},
    {Hook::mlp_pre_linear, "mlp.hook_pre_linear", true},
    {Hook::mlp_post, "mlp.hook_post", true},
    {Hook::ln2_post_normalized, "ln2_post.hook_normalized", true},
    {Hook::mlp_out, "hook_mlp_out", true},
    {Hook::resid_post, "hook_resid_post", true},
    {Hook::ln_final_normalized, "ln_final.hook_normalized", false},
    {Hook::logits, "logits", false},
};
static_assert(sizeof(kHooks) / sizeof(kHooks[0]) == size_t(kHookCount));
} // namespace

bool hook_is_per_layer(Hook h) {
    return kHooks[int(h)].per_layer;
}
bool hook_exists(Hook h, const ModelConfig& cfg, int il) {
    switch (h) {
    case Hook::pos_embed: return cfg.positions == PositionKind::learned;
    case Hook::rot_q:
    case Hook::rot_k: return cfg.positions == PositionKind::rotary;
    default: break;
    }
    if (!hook_is_per_layer(h)) return true;
    const LayerSpec& l = cfg.layer(il);
    switch (h) {
    case Hook::mlp_pre_linear: return l.mlp == MlpKind::gated;
    case Hook::resid_mid: return !l.parallel;
    case Hook::ln1_normalized:
    case Hook::ln2_normalized: return l.norm_placement != NormPlacement::post;
    case Hook::ln1_post_normalized:
    case Hook::ln2_post_normalized: return l.norm_placement != NormPlacement::pre;
    case Hook::q_normalized:
    case Hook::k_normalized: return l.qk_norm != QkNorm::none;
    default: return true;
    }
}

bool hook_exists(Hook h, const ModelConfig& cfg) {
    if (!hook_is_per_layer(h)) return hook_exists(h, cfg, -1);
    for (int il = 0; il < cfg.n_layer; ++il)
        if (hook_exists(h, cfg, il)) return true;
    return false;
}

const char* hook_suffix(Hook h) {
    return kHooks[int(h)].suffix;
}

std::string hook_name(Hook h, int il) {
    if (!hook_is_per_layer(h)) return hook_suffix(h);
    return "blocks." + std::to_string(il) + "." + hook_suffix(h);
}

std::vector<std::string> all_hook_names(const ModelConfig& cfg) {
    std::vector<std::string> out = {hook_name(Hook::embed, -1)};
    if (hook_exists(Hook::pos_embed, cfg)) out.push_back(hook_name(Hook::pos_embed, -1));
    for (int il = 0; il < cfg.n_layer; ++il)
        for (const auto& h : kHooks)
            if (h.per_layer && hook_exists(h.hook, cfg, il)) out.push_back(hook_name(h.hook, il));
    out.push_back(hook_name(Hook::ln_final_normalized, -1));
    out.push_back(hook_name(Hook::logits, -1));
    return out;
}

bool glob_match(std::string_view p, std::string_view t) {
    // iterative matcher with one backtrack point for the last '*': O(|p| * |t|) worst case
    size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
    while (ti < t.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
            ++pi;
            ++ti;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = ti;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*')
        ++pi;
    return pi == p.size();
}

bool HookFilter::matches(Hook h, int il) const {
    if (hook_is_per_layer(h) && !layers.empty() && std::find(layers.begin(), layers.end(), il) == layers.end())
        return false;
    if (patterns.empty()) return true;
    const std::string name = hook_name(h, il);
    for (const auto& p : patterns)
        if (glob_match(p, name)) return true;
    return false;
}

std::vector<int> parse_index_list(const std::string& spec, const std::string& what) {
    std::vector<int> out;
    size_t pos = 0;
    auto bad = [&](const std::string& part) {
        return Error(cat(what, ": cannot read '", part, "' in '", spec, "'"),
                     "expected numbers and ranges like 0-3,11");
    };
    auto number = [&](const std::string& s, const std::string& part) {
        if (s.empty() || s.size() > 7 ||
            !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit((unsigned char)c); }))
            throw bad(part);
        return std::stoi(s);
    };
    while (pos <= spec.size() && !spec.empty()) {
        size_t comma = spec.find(',', pos);
        if (comma == std::string::npos) comma = spec.size();
        const std::string part = spec.substr(pos, comma - pos);
        const size_t dash = part.find('-');
        if (dash == std::string::npos) {
            out.push_back(number(part, part));
        } else {
            const int a = number(part.substr(0, dash), part), b = number(part.substr(dash + 1), part);
            if (b < a) throw bad(part);
            if (b - a > 100000) throw bad(part);
            for (int i = a; i <= b; ++i)
                out.push_back(i);
        }
        pos = comma + 1;
        if (comma == spec.size()) break;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        std::string item = list.substr(pos, comma - pos);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) out.push_back(item);
        pos = comma + 1;
    }
    return out;
}

HookFilter HookFilter::parse(const std::string& patterns, const std::string& layers, const std::string& heads) {
    HookFilter f;
    f.patterns = split_list(patterns);
    f.layers = parse_index_list(layers, "--layers");
    f.heads = parse_index_list(heads, "--heads");
    return f;
}

void HookSet::add(HookFilter filter, HookFn fn, HookAccess access) {
    entries_.push_back({std::move(filter), std::move(fn), access});
}

HookSet::Plan HookSet::plan(int n_layer) const {
    Plan p;
    p.want_.assign(size_t(n_layer + 1) * kHookCount, false);
    p.patch_.assign(size_t(n_layer + 1) * kHookCount, false);
    for (const auto& e : entries_)
        for (int ih = 0; ih < kHookCount; ++ih) {
            const Hook h = Hook(ih);
            for (int il = hook_is_per_layer(h) ? 0 : -1; il < (hook_is_per_layer(h) ? n_layer : 0); ++il) {
                if (!e.filter.matches(h, il)) continue;
                const size_t at = size_t(il < 0 ? ih : (il + 1) * kHookCount + ih);
                p.want_[at] = true;
                if (e.access == HookAccess::read_write) p.patch_[at] = true;
            }
        }
    return p;
}

void HookSet::dispatch(Hook h, int il, int seq, TensorView value) const {
    std::string name;
    for (const auto& e : entries_) {
        if (!e.filter.matches(h, il)) continue;
        if (name.empty()) name = hook_name(h, il);
        e.fn(HookContext{h, il, seq, name, e.filter.heads}, value);
    }
}

} // namespace attnscope
