// Activation patching by hooks that replace values: one clean run keeps the chosen hook's value
// at every layer (read-only hooks, copied out in the hook's logical order); one corrupted run
// gives m_corrupt; then each (layer, head) or (layer, position) runs the corrupted input again
// with a read-write hook on that layer that writes the clean slice in, and the last position's
// logit difference is normalised against the two runs.
#include "intervene/patch.h"

#include "core/error.h"
#include "engine/kernels.h"

#include <cmath>

namespace attnscope {

const char* patch_what_name(PatchWhat w) {
    switch (w) {
    case PatchWhat::z: return "z";
    case PatchWhat::attn_out: return "attn_out";
    case PatchWhat::resid_pre: return "resid_pre";
    case PatchWhat::pattern: return "pattern";
    }
    return "?";
}

PatchWhat parse_patch_what(const std::string& s) {
    if (s.empty() || s == "z") return PatchWhat::z;
    if (s == "attn_out") return PatchWhat::attn_out;
    if (s == "resid_pre") return PatchWhat::resid_pre;
    if (s == "pattern") return PatchWhat::pattern;
    throw Error(cat("--what: '", s, "' is not a patchable activation"), "use z, attn_out, resid_pre or pattern");
}

namespace {

const char* hook_glob(PatchWhat w) {
    switch (w) {
    case PatchWhat::z: return "blocks.*.attn.hook_z";
    case PatchWhat::attn_out: return "blocks.*.hook_attn_out";
    case PatchWhat::resid_pre: return "blocks.*.hook_resid_pre";
    case PatchWhat::pattern: return "blocks.*.attn.hook_pattern";
    }
    return "";
}

// The metric m of a run of the batch's only sequence: logit(answer) - logit(wrong) at the last
// position, or minus the mean cross-entropy of the clean text's next tokens (`targets`).
double metric(RunState& st, const Batch& b, int64_t V, const PatchOptions& o, const std::vector<int32_t>& targets) {
    const TensorView lg = st.logits_of(b, 0, V);
    if (o.metric == PatchMetric::logit_diff) {
        const float* last = lg.data + (lg.ne[0] - 1) * V;
        return double(last[o.answer]) - double(last[o.wrong]);
    }
    double sum = 0;
    for (int64_t t = 0; t + 1 < lg.ne[0]; ++t)
        sum += log_sum_exp(lg.data + t * V, V) - double(lg.data[t * V + targets[size_t(t) + 1]]);
    return -sum / double(lg.ne[0] - 1);
}

} // namespace

PatchResult patch_activations(const Model& model, const std::vector<int32_t>& clean,
                              const std::vector<int32_t>& corrupt, const PatchOptions& o) {
    const ModelConfig& cfg = model.config();
    const int64_t V = cfg.vocab_size, T = int64_t(clean.size()), H = cfg.n_head;
    if (clean.empty() || corrupt.empty()) throw Error("patch: an empty input", "give a clean and a corrupted text");
    if (clean.size() != corrupt.size())
        throw Error(cat("patch: the clean input has ", clean.size(), " tokens, the corrupted one ", corrupt.size()),
                    "patching needs inputs of the same length in tokens");
    if (o.metric == PatchMetric::logit_diff) {
        for (const auto& [what, id] : {std::pair{"answer", o.answer}, std::pair{"wrong", o.wrong}})
            if (id < 0 || id >= V)
                throw Error(cat("patch: the ", what, " token id ", id, " is outside the vocabulary [0, ", V, ")"));
        if (o.answer == o.wrong) throw Error("patch: --answer and --wrong are the same token", "give two different tokens");
    } else if (T < 2) {
        throw Error("patch: --metric loss needs texts of 2 tokens or more", "the loss is over next-token predictions");
    }
    const Batch bc = Batch::from_sequences({clean}), bx = Batch::from_sequences({corrupt});
    ForwardOptions fo;
    fo.logits = true;
    RunState st;

    // the clean run, keeping the hook's value at every layer
    std::vector<std::vector<float>> kept(size_t(cfg.n_layer));
    HookSet keep;
    keep.add(HookFilter::parse(hook_glob(o.what), "", ""), [&](const HookContext& ctx, TensorView v) {
        std::vector<float>& k = kept[size_t(ctx.layer)];
        k.resize(size_t(v.numel()));
        v.copy_to(k.data());
    }, HookAccess::read_only);
    forward(model, bc, keep, st, fo);
    PatchResult r;
    r.what = o.what, r.metric = o.metric, r.answer = o.answer, r.wrong = o.wrong;
    r.m_clean = metric(st, bc, V, o, clean);
    forward(model, bx, HookSet(), st, fo);
    r.m_corrupt = metric(st, bx, V, o, clean);
    const double denom = r.m_clean - r.m_corrupt;
    if (std::fabs(denom) < 1e-6)
        throw Error(cat("patch: the clean and corrupted inputs give the same ",
                        o.metric == PatchMetric::loss ? "loss on the clean text (" : "logit difference (", r.m_clean, ")"),
                    o.metric == PatchMetric::loss ? "choose a corrupted text the model finds less predictable"
                                                  : "choose inputs, or answer and wrong tokens, between which the "
                                                    "model's preference changes");

    const bool per_head = o.what == PatchWhat::z || o.what == PatchWhat::pattern;
    r.n_layer = cfg.n_layer;
    r.n_cols = int(per_head ? H : T);
    r.scores.assign(size_t(r.n_layer) * size_t(r.n_cols), 0.0);
    const int64_t total = int64_t(r.scores.size());
    int64_t done = 0;
    for (int il = 0; il < cfg.n_layer; ++il)
        for (int col = 0; col < r.n_cols; ++col) {
            HookSet hs;
            hs.add(HookFilter::parse(hook_glob(o.what), std::to_string(il), ""), [&](const HookContext&, TensorView v) {
                const std::vector<float>& k = kept[size_t(il)];
                // the slice of column `col`: z [T, H, d] head col; pattern [H, T, T] head col;
                // attn_out / resid_pre [T, D] position col
                const int64_t n = v.numel();
                if (o.what == PatchWhat::z) {
                    const int64_t d = v.ne[2];
                    for (int64_t t = 0; t < v.ne[0]; ++t)
                        for (int64_t x = 0; x < d; ++x)
                            v.at(t, col, x) = k[size_t((t * H + col) * d + x)];
                } else if (o.what == PatchWhat::pattern) { // head col's [T, T] slice
                    TensorView head = v;
                    head.data += col * v.stride[0];
                    head.ne[0] = 1;
                    head.copy_from(k.data() + col * (n / H));
                } else {
                    const int64_t D = v.ne[1];
                    for (int64_t x = 0; x < D; ++x)
                        v.at(col, x) = k[size_t(col * D + x)];
                }
            });
            forward(model, bx, hs, st, fo);
            r.scores[size_t(il) * size_t(r.n_cols) + size_t(col)] =
                (metric(st, bx, V, o, clean) - r.m_corrupt) / denom;
            if (o.on_progress) o.on_progress(++done, total);
        }
    return r;
}

const char* patch_metric_description(PatchMetric m) {
    return m == PatchMetric::loss
               ? "normalised loss recovery (m - m_corrupt) / (m_clean - m_corrupt), m = minus the mean next-token "
                 "cross-entropy (nats) of the clean text's tokens over every predicted position"
               : "normalised logit difference (m - m_corrupt) / (m_clean - m_corrupt), m = logit(answer) - "
                 "logit(wrong) at the last position";
}

nlohmann::ordered_json patch_json(const PatchResult& r, const std::vector<std::string>& tokens) {
    nlohmann::ordered_json j;
    j["schema"] = "attnscope.patching/1";
    j["what"] = patch_what_name(r.what);
    j["metric"] = patch_metric_description(r.metric);
    if (r.metric == PatchMetric::logit_diff) {
        j["answer"] = r.answer;
        j["wrong"] = r.wrong;
    }
    j["m_clean"] = r.m_clean;
    j["m_corrupt"] = r.m_corrupt;
    j["columns"] = r.what == PatchWhat::z || r.what == PatchWhat::pattern ? "heads" : "positions";
    if (!tokens.empty()) j["tokens"] = tokens;
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (int il = 0; il < r.n_layer; ++il)
        rows.push_back(std::vector<double>(r.scores.begin() + il * r.n_cols, r.scores.begin() + (il + 1) * r.n_cols));
    j["scores"] = std::move(rows);
    return j;
}

} // namespace attnscope
