// Head labels, collapse detection and recommendations: rules over the finished numbers of an
// AnalysisResult. Every rule's threshold is in AnalysisOptions or named here, and every
// recommendation is a sentence carrying the numbers that triggered it. A suggestion to prune a
// head states what removing it was measured to cost (attach_importance, from attnscope ablate's
// head_importance.json), is withdrawn when that cost is large, or says it is unmeasured.
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

namespace {

// Heads flagged as near uniform or as sink-only, with the value that flagged them.
struct Flagged {
    const HeadResult* head;
    double v;
};
struct Collapse {
    std::vector<Flagged> uniform, sinks;
    int n_heads = 0; // heads with rows
};
Collapse flagged_heads(const AnalysisResult& r) {
    Collapse c;
    for (const auto& L : r.layers)
        for (const auto& h : L.heads) {
            if (h.rows <= 0) continue;
            ++c.n_heads;
            if (h.metric(HeadStats::entropy_normalized) >= r.options.uniform_entropy)
                c.uniform.push_back({&h, h.metric(HeadStats::entropy_normalized)});
            if (h.metric(HeadStats::sink_mass) >= r.options.sink_only) c.sinks.push_back({&h, h.metric(HeadStats::sink_mass)});
        }
    return c;
}

} // namespace

void find_collapse_and_recommend(AnalysisResult& r) {
    const AnalysisOptions& o = r.options;
    r.uniform_heads.clear(), r.sink_heads.clear(), r.collapsed_layers.clear();
    const Collapse c = flagged_heads(r);
    for (const auto& f : c.uniform)
        r.uniform_heads.push_back(head_name(f.head->layer, f.head->head));
    for (const auto& f : c.sinks)
        r.sink_heads.push_back(head_name(f.head->layer, f.head->head));
    for (const auto& L : r.layers) {
        const HiddenResult& st = L.resid_pre.present ? L.resid_pre : L.input;
        if (st.present && st.mean_cosine >= o.collapse_cosine) r.collapsed_layers.push_back(L.layer);
    }
    if (!r.rollout_complete && !r.layers.empty())
        r.notes.push_back("attention rollout needs every head of every layer (capture without --layers/--heads)");
    recommend(r);
}

namespace {

// Redundant pairs, most similar first.
std::vector<RedundantPair> sorted_pairs(const AnalysisResult& r) {
    auto pairs = r.redundant;
    std::sort(pairs.begin(), pairs.end(), [](const RedundantPair& a, const RedundantPair& b) { return a.js < b.js; });
    return pairs;
}

constexpr size_t kPairsShown = 5;

const PruneCandidate* candidate(const AnalysisResult& r, const std::string& head) {
    for (const auto& c : r.importance.candidates)
        if (c.head == head) return &c;
    return nullptr;
}

// "+0.012 nats/token (se 0.004)"
std::string cost(double delta, double se) {
    return cat(delta >= 0 ? "+" : "", fmt(delta, 3), " nats/token (se ", fmt(se, 3), ")");
}

// The measured cost of each head of a suggestion, and which suggestions are withdrawn; or, with
// no importance file, that the suggestion is unmeasured and how to measure it.
std::string evidence_for(const AnalysisResult& r, const std::vector<std::string>& heads) {
    const ImportanceEvidence& ev = r.importance;
    std::string list;
    for (size_t k = 0; k < heads.size(); ++k)
        list += (k ? "," : "") + heads[k];
    if (!ev.present)
        return cat(" Unmeasured: patterns show what a head looks at, not whether the model needs it; `attnscope ablate "
                   "--model ", r.model.empty() ? std::string("M") : r.model, " --input TEXTS --heads ", list,
                   "` measures what removing ", heads.size() == 1 ? "it" : "each", " costs.");
    std::vector<std::string> kept, dropped, unmeasured;
    for (const auto& h : heads) {
        const PruneCandidate* c = candidate(r, h);
        if (!c || !c->measured) unmeasured.push_back(h);
        else (c->withdrawn ? dropped : kept).push_back(cat(h, " ", cost(c->delta, c->se)));
    }
    std::string out = cat(" Measured (", ev.method, " ablation, ", ev.source, "):");
    if (!kept.empty()) out += cat(" ablating ", join_names(kept, 64), ".");
    if (!dropped.empty())
        out += cat(" Withdrawn: ", join_names(dropped, 64), " — above ", fmt(ev.max_delta, 3),
                   " nats/token, the model needs ", dropped.size() == 1 ? "it" : "them", " despite the pattern.");
    if (!unmeasured.empty()) out += cat(" Not in the importance file: ", join_names(unmeasured, 64), ".");
    return out;
}

} // namespace

std::vector<PruneCandidate> prune_candidates(const AnalysisResult& r) {
    std::vector<PruneCandidate> out;
    auto add = [&](int il, int h, const std::string& reason) {
        const std::string name = head_name(il, h);
        for (const auto& c : out)
            if (c.head == name) return;
        PruneCandidate c;
        c.head = name, c.layer = il, c.index = h, c.reason = reason;
        out.push_back(c);
    };
    const auto pairs = sorted_pairs(r);
    for (size_t k = 0; k < pairs.size() && k < kPairsShown; ++k) {
        add(pairs[k].layer, pairs[k].head_a, "redundant with " + head_name(pairs[k].layer, pairs[k].head_b));
        add(pairs[k].layer, pairs[k].head_b, "redundant with " + head_name(pairs[k].layer, pairs[k].head_a));
    }
    const Collapse c = flagged_heads(r);
    for (const auto& f : c.sinks)
        add(f.head->layer, f.head->head, "sink");
    for (const auto& f : c.uniform)
        add(f.head->layer, f.head->head, "uniform");
    return out;
}

void attach_importance(AnalysisResult& r, const HeadImportance& imp, const std::string& source, double max_delta) {
    if (imp.n_layer != r.config.n_layer || imp.n_head != r.config.n_head)
        throw Error(cat(source, ": measured on a model of ", imp.n_layer, " layers x ", imp.n_head,
                        " heads; the capture's model has ", r.config.n_layer, " x ", r.config.n_head),
                    "give the head_importance.json of this model");
    // names differ between a path and a hub id of one model: a note, not a refusal
    if (!imp.model.empty() && !r.model.empty() && imp.model != r.model) {
        const std::string note = cat(source, " was measured on model '", imp.model, "', the capture is of '", r.model,
                                     "': check that they are the same model");
        if (std::find(r.notes.begin(), r.notes.end(), note) == r.notes.end()) r.notes.push_back(note);
    }
    ImportanceEvidence ev;
    ev.present = true;
    ev.source = source;
    ev.method = ablation_method_name(imp.method);
    ev.clean_loss = imp.clean_loss;
    ev.tokens = imp.tokens;
    ev.max_delta = max_delta;
    ev.candidates = prune_candidates(r);
    // Of a redundant pair, one head is the suggestion: the cheaper one to remove. The other is
    // withdrawn as a candidate when both are measured (it stays listed, with its cost).
    for (auto& c : ev.candidates)
        if (const AblationResult* a = find_ablation(imp, {{c.layer, c.index}})) {
            c.measured = true, c.delta = a->delta, c.se = a->se;
            c.withdrawn = a->delta > max_delta;
        }
    std::vector<std::pair<int, int>> kept;
    for (const auto& c : ev.candidates)
        if (c.measured && !c.withdrawn) kept.emplace_back(c.layer, c.index);
    for (const auto& [il, h] : kept)
        ev.group += cat(ev.group.empty() ? "" : "+", head_name(il, h));
    if (const AblationResult* g = kept.size() >= 2 ? find_ablation(imp, kept) : nullptr)
        ev.group_measured = true, ev.group_delta = g->delta, ev.group_se = g->se;
    std::vector<const AblationResult*> singles;
    for (const auto& a : imp.results)
        if (a.target.heads.size() == 1) singles.push_back(&a);
    std::stable_sort(singles.begin(), singles.end(), [](auto* a, auto* b) { return a->delta > b->delta; });
    for (size_t k = 0; k < singles.size() && k < 8; ++k)
        ev.top.push_back({singles[k]->target.name, singles[k]->delta, singles[k]->se});
    r.importance = std::move(ev);
    recommend(r);
}

void recommend(AnalysisResult& r) {
    const AnalysisOptions& o = r.options;
    auto& rec = r.recommendations;
    rec.clear();
    const ImportanceEvidence& ev = r.importance;
    const Collapse flagged = flagged_heads(r);
    const auto& uniform = flagged.uniform;
    const auto& sinks = flagged.sinks;
    const int n_heads = flagged.n_heads;

    // Recommendations, most actionable first.
    if (!r.redundant.empty()) {
        const auto pairs = sorted_pairs(r);
        for (size_t k = 0; k < pairs.size() && k < kPairsShown; ++k) {
            const std::string a = head_name(pairs[k].layer, pairs[k].head_a), b = head_name(pairs[k].layer, pairs[k].head_b);
            std::string s = cat("Heads ", a, " and ", b, " are redundant (JS divergence ", fmt(pairs[k].js, 3), " nats < ",
                                fmt(o.redundant_js, 3), "): they attend alike");
            const PruneCandidate *ca = candidate(r, a), *cb = candidate(r, b);
            if (ev.present && ca && cb && ca->measured && cb->measured) {
                const PruneCandidate* cheap = ca->delta <= cb->delta ? ca : cb;
                s += cat(". Measured (", ev.method, " ablation): removing ", a, " costs ", cost(ca->delta, ca->se), ", ",
                         b, " ", cost(cb->delta, cb->se), "; ");
                s += cheap->withdrawn ? cat("the suggestion to prune either is withdrawn: both cost more than ",
                                            fmt(ev.max_delta, 3), " nats/token, so the model needs them although they look alike.")
                                      : cat(cheap->head, " is the one to prune.");
            } else {
                s += "; one of them is a candidate for pruning." + evidence_for(r, {a, b});
            }
            rec.push_back(s);
        }
        if (pairs.size() > kPairsShown)
            rec.push_back(cat(pairs.size() - kPairsShown,
                              pairs.size() == kPairsShown + 1 ? " more redundant pair is" : " more redundant pairs are",
                              " listed in the similarity section."));
    }
    if (!sinks.empty()) {
        std::vector<std::string> names, heads;
        for (const auto& f : sinks) {
            const std::string name = head_name(f.head->layer, f.head->head);
            names.push_back(cat(name, " (", fmt(f.v), ")")), heads.push_back(name);
        }
        rec.push_back(cat(sinks.size(), " of ", n_heads, " heads put at least ", fmt(o.sink_only),
                          " of their attention on the first token (", join_names(names),
                          "): attention sinks that mostly pass nothing on; prune-or-keep tests should start with them, "
                          "and metrics excluding the first token describe them better.",
                          evidence_for(r, heads)));
    }
    if (!uniform.empty()) {
        std::vector<std::string> names, heads;
        for (const auto& f : uniform) {
            const std::string name = head_name(f.head->layer, f.head->head);
            names.push_back(cat(name, " (", fmt(f.v), ")")), heads.push_back(name);
        }
        rec.push_back(cat(uniform.size(), " heads are near uniform (normalized entropy >= ", fmt(o.uniform_entropy),
                          ": ", join_names(names), "): they average their context (bag-of-words).",
                          evidence_for(r, heads)));
    }
    if (ev.present && !ev.candidates.empty()) {
        if (ev.group.empty())
            rec.push_back(cat("Every head suggested for pruning was measured and withdrawn, or not measured: "
                              "no head here can be removed at a cost below ",
                              fmt(ev.max_delta, 3), " nats/token."));
        else if (ev.group.find('+') == std::string::npos)
            rec.push_back(cat("The one head left to prune is ", ev.group, "."));
        else if (ev.group_measured)
            rec.push_back(cat("Pruning the suggested heads together (", ev.group, ") costs ",
                              cost(ev.group_delta, ev.group_se), " (", ev.method,
                              " ablation, all at once); heads that are cheap alone can be costly together."));
        else
            rec.push_back(cat("Pruning the suggested heads together (", ev.group, ") was not measured: `attnscope ablate ",
                              "--model ", r.model.empty() ? std::string("M") : r.model, " --input TEXTS --heads ",
                              ev.group, "` measures it (heads that are cheap alone can be costly together)."));
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
        if (low && n >= 2 && low->diversity < 0.5 * sum / n) {
            std::vector<std::string> heads;
            for (const auto& h : low->heads)
                heads.push_back(head_name(h.layer, h.head));
            rec.push_back(cat("Layer ", low->layer, " has the least diverse heads (mean pairwise JS ",
                              fmt(low->diversity, 3), " vs ", fmt(sum / n, 3),
                              " across layers): its heads overlap most; look for heads to prune there first.",
                              ev.present ? std::string() : evidence_for(r, heads)));
        }
    }
    // Circuits: say what was found, or how to find it.
    std::vector<std::string> ind, prev;
    double template_rows = 0; // a count, but read from files: kept in double until printed
    for (const auto& L : r.layers)
        for (const auto& h : L.heads) {
            if (h.label == "induction")
                ind.push_back(cat(head_name(h.layer, h.head), " (", fmt(h.template_scores.induction), ")"));
            if (h.label == "previous_token")
                prev.push_back(cat(head_name(h.layer, h.head), " (", fmt(h.template_scores.previous_token), ")"));
            template_rows = std::max(template_rows, h.template_rows[2]);
        }
    if (!ind.empty())
        rec.push_back(cat("Induction heads: ", join_names(ind),
                          ", previous-token heads: ", prev.empty() ? std::string("none") : join_names(prev),
                          ". Ablate or patch them first when studying in-context copying."));
    else if (!r.layers.empty() && !r.layers[0].heads.empty())
        rec.push_back(cat("No induction head found (no head reaches ", fmt(o.label_score), " on the ",
                          std::isfinite(template_rows) ? int64_t(std::clamp(template_rows, 0.0, 9.0e15)) : int64_t(0),
                          " rows whose token occurred before); texts with few repeats cannot show them: run "
                          "`attnscope heads --model <model>`, which probes with repeated random tokens."));
}

} // namespace attnscope
