// Head labels, collapse detection and recommendations: rules over the finished numbers of an
// AnalysisResult. Every rule's threshold is in AnalysisOptions or named here, and every
// recommendation is a sentence carrying the numbers that triggered it.
//
// Labels, first match wins (thresholds: options.label_score = s):
//   induction        induction template score (rows with a template) >= s, with >= 8 such rows
//   previous_token   mean attention on i-1 >= s
//   duplicate_token  duplicate template score >= s, with >= 8 such rows
//   self             mean attention on itself >= 0.5
//   sink             mean attention on the first token >= 0.5
//   local            mean distance with the first token excluded <= 2.5 tokens
//   broad            mean normalized entropy >= 0.8
//   mixed            none of the above
// The induction and duplicate scores are read on the rows where the template has a cell (a
// repeated token); TransformerLens's whole-pattern share is reported next to them.
#include "analysis/analyzer.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attnscope {

namespace {

constexpr double kMinTemplateRows = 8;
constexpr double kSelfMass = 0.5, kSinkMass = 0.5, kLocalDistance = 2.5, kBroadEntropy = 0.8;

std::string fmt(double v, int digits = 2) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string join_names(const std::vector<std::string>& v, size_t max = 8) {
    std::string s;
    for (size_t k = 0; k < v.size() && k < max; ++k)
        s += (k ? ", " : "") + v[k];
    if (v.size() > max) s += cat(" and ", v.size() - max, " more");
    return s;
}

} // namespace

void label_heads(AnalysisResult& r) {
    const double s = r.options.label_score;
    for (auto& L : r.layers)
        for (auto& h : L.heads) {
            if (h.rows <= 0) {
                h.label = "mixed";
                continue;
            }
            if (h.template_rows[2] >= kMinTemplateRows && h.template_scores.induction >= s)
                h.label = "induction";
            else if (h.template_scores.previous_token >= s)
                h.label = "previous_token";
            else if (h.template_rows[1] >= kMinTemplateRows && h.template_scores.duplicate_token >= s)
                h.label = "duplicate_token";
            else if (h.metric(HeadStats::self_mass) >= kSelfMass)
                h.label = "self";
            else if (h.metric(HeadStats::sink_mass) >= kSinkMass)
                h.label = "sink";
            else if (h.metric(HeadStats::mean_distance_nofirst) <= kLocalDistance)
                h.label = "local";
            else if (h.metric(HeadStats::entropy_normalized) >= kBroadEntropy)
                h.label = "broad";
            else
                h.label = "mixed";
        }
}

void find_collapse_and_recommend(AnalysisResult& r) {
    const AnalysisOptions& o = r.options;
    auto& rec = r.recommendations;

    // Collapse: near-uniform heads, sink-only heads, representation collapse.
    struct Flagged {
        std::string name;
        double v;
    };
    std::vector<Flagged> uniform, sinks;
    int n_heads = 0;
    for (const auto& L : r.layers)
        for (const auto& h : L.heads) {
            if (h.rows <= 0) continue;
            ++n_heads;
            const std::string name = head_name(h.layer, h.head);
            if (h.metric(HeadStats::entropy_normalized) >= o.uniform_entropy)
                uniform.push_back({name, h.metric(HeadStats::entropy_normalized)}), r.uniform_heads.push_back(name);
            if (h.metric(HeadStats::sink_mass) >= o.sink_only)
                sinks.push_back({name, h.metric(HeadStats::sink_mass)}), r.sink_heads.push_back(name);
        }
    for (const auto& L : r.layers) {
        const HiddenResult& st = L.resid_pre.present ? L.resid_pre : L.input;
        if (st.present && st.mean_cosine >= o.collapse_cosine) r.collapsed_layers.push_back(L.layer);
    }

    // Recommendations, most actionable first.
    if (!r.redundant.empty()) {
        auto pairs = r.redundant;
        std::sort(pairs.begin(), pairs.end(),
                  [](const RedundantPair& a, const RedundantPair& b) { return a.js < b.js; });
        for (size_t k = 0; k < pairs.size() && k < 5; ++k)
            rec.push_back(cat("Heads ", head_name(pairs[k].layer, pairs[k].head_a), " and ",
                              head_name(pairs[k].layer, pairs[k].head_b), " are redundant (JS divergence ",
                              fmt(pairs[k].js, 3), " nats < ", fmt(o.redundant_js, 3),
                              "): they attend alike; one of them is a candidate for pruning."));
        if (pairs.size() > 5)
            rec.push_back(cat(pairs.size() - 5,
                              pairs.size() == 6 ? " more redundant pair is" : " more redundant pairs are",
                              " listed in the similarity section."));
    }
    if (!sinks.empty()) {
        std::vector<std::string> names;
        double mean = 0;
        for (const auto& f : sinks)
            names.push_back(cat(f.name, " (", fmt(f.v), ")")), mean += f.v / double(sinks.size());
        rec.push_back(cat(sinks.size(), " of ", n_heads, " heads put at least ", fmt(o.sink_only),
                          " of their attention on the first token (", join_names(names),
                          "): attention sinks that mostly pass nothing on; prune-or-keep tests should start with them, "
                          "and metrics excluding the first token describe them better."));
    }
    if (!uniform.empty()) {
        std::vector<std::string> names;
        for (const auto& f : uniform)
            names.push_back(cat(f.name, " (", fmt(f.v), ")"));
        rec.push_back(cat(uniform.size(), " heads are near uniform (normalized entropy >= ", fmt(o.uniform_entropy),
                          ": ", join_names(names),
                          "): they average their context (bag-of-words); check whether they matter by ablating them."));
    }
    for (int il : r.collapsed_layers) {
        const LayerResult& L = r.layers[size_t(il)];
        const HiddenResult& st = L.resid_pre.present ? L.resid_pre : L.input;
        rec.push_back(cat("Token states entering layer ", il, " are nearly parallel (mean pairwise cosine ",
                          fmt(st.mean_cosine), " >= ", fmt(o.collapse_cosine),
                          "): representation collapse; a few dominant directions (e.g. a massive activation) "
                          "carry most of the norm."));
    }
    // Diversity: the least diverse layer, if markedly below the others.
    {
        double sum = 0;
        int n = 0;
        const LayerResult* low = nullptr;
        for (const auto& L : r.layers)
            if (L.heads.size() >= 2 && !L.js.empty()) {
                sum += L.diversity, ++n;
                if (!low || L.diversity < low->diversity) low = &L;
            }
        if (low && n >= 2 && low->diversity < 0.5 * sum / n)
            rec.push_back(cat("Layer ", low->layer, " has the least diverse heads (mean pairwise JS ",
                              fmt(low->diversity, 3), " vs ", fmt(sum / n, 3),
                              " across layers): its heads overlap most; prune there first."));
    }
    // Circuits: say what was found, or how to find it.
    std::vector<std::string> ind, prev;
    int64_t template_rows = 0;
    for (const auto& L : r.layers)
        for (const auto& h : L.heads) {
            if (h.label == "induction")
                ind.push_back(cat(head_name(h.layer, h.head), " (", fmt(h.template_scores.induction), ")"));
            if (h.label == "previous_token")
                prev.push_back(cat(head_name(h.layer, h.head), " (", fmt(h.template_scores.previous_token), ")"));
            template_rows = std::max<int64_t>(template_rows, int64_t(h.template_rows[2]));
        }
    if (!ind.empty())
        rec.push_back(cat("Induction heads: ", join_names(ind),
                          ", previous-token heads: ", prev.empty() ? std::string("none") : join_names(prev),
                          ". Ablate or patch them first when studying in-context copying."));
    else if (!r.layers.empty() && !r.layers[0].heads.empty())
        rec.push_back(cat("No induction head found (no head reaches ", fmt(o.label_score), " on the ", template_rows,
                          " rows whose token occurred before); texts with few repeats cannot show them: run "
                          "`attnscope heads --model <model>`, which probes with repeated random tokens."));
    if (!r.rollout_complete && !r.layers.empty())
        r.notes.push_back("attention rollout needs every head of every layer (capture without --layers/--heads)");
}

} // namespace attnscope
