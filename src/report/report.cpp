// Text report and JSON summary of an AnalysisResult. The report's sections follow the order of
// the analysis (per-head metrics, taxonomy, comparison, evolution, position, rollout, layer
// statistics, collapse, recommendations); tables are right-aligned columns built by Table.
// The JSON mirrors the same numbers with stable keys (docs/summary-schema.md).
#include "report/report.h"

#include "io/json.h"

#include "core/error.h"
#include "core/files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <type_traits>

namespace attnscope {

namespace {

std::string num(double v, int digits = 3) {
    if (!std::isfinite(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// A table of strings: the first column left-aligned, the others right-aligned, widths from content.
class Table {
  public:
    explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string str(const std::string& indent = "  ") const {
        std::vector<size_t> w;
        for (const auto& r : rows_)
            for (size_t c = 0; c < r.size(); ++c) {
                if (w.size() <= c) w.push_back(0);
                w[c] = std::max(w[c], r[c].size());
            }
        std::string out;
        for (size_t k = 0; k < rows_.size(); ++k) {
            std::string line = indent;
            for (size_t c = 0; c < rows_[k].size(); ++c) {
                const std::string& s = rows_[k][c];
                const std::string pad(w[c] - s.size(), ' ');
                line += c == 0 ? s + pad : "  " + pad + s;
            }
            while (!line.empty() && line.back() == ' ')
                line.pop_back();
            out += line + "\n";
            if (k == 0) {
                size_t total = 0;
                for (size_t c = 0; c < w.size(); ++c)
                    total += w[c] + (c ? 2 : 0);
                out += indent + std::string(total, '-') + "\n";
            }
        }
        return out;
    }

  private:
    std::vector<std::vector<std::string>> rows_;
};

std::string section(const std::string& title) {
    return "\n" + title + "\n" + std::string(title.size(), '=') + "\n";
}

int bucket_start(int b) {
    return 1 << b;
}

std::string wrap(const std::string& text, size_t width, const std::string& indent) {
    std::string out, line;
    size_t start = 0;
    while (start <= text.size()) {
        size_t sp = text.find(' ', start);
        if (sp == std::string::npos) sp = text.size();
        const std::string word = text.substr(start, sp - start);
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += indent + line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
        start = sp + 1;
    }
    if (!line.empty()) out += indent + line + "\n";
    return out;
}

// Tokens in a capture are already display strings (Tokenizer::display escapes control bytes):
// quote them so spaces show.
std::string show_token(const std::string& t) {
    return "'" + t + "'";
}

} // namespace

std::string heads_table(const AnalysisResult& r) {
    Table t({"head", "label", "prev-token", "duplicate", "induction", "sink", "self", "entropy(norm)", "distance",
             "TL prev", "TL dup", "TL ind"});
    for (const auto& L : r.layers)
        for (const auto& h : L.heads)
            t.add({head_name(h.layer, h.head), h.label, num(h.template_scores.previous_token),
                   num(h.template_scores.duplicate_token), num(h.template_scores.induction),
                   num(h.metric(HeadStats::sink_mass)), num(h.metric(HeadStats::self_mass)),
                   num(h.metric(HeadStats::entropy_normalized)), num(h.metric(HeadStats::mean_distance), 2),
                   num(h.scores.previous_token), num(h.scores.duplicate_token), num(h.scores.induction)});
    return t.str();
}

std::string report_text(const AnalysisResult& r) {
    const ModelConfig& c = r.config;
    std::string out = "attnscope attention analysis\n";
    out += cat("model: ", r.model.empty() ? std::string("(unnamed)") : r.model, " (", c.model_type, ", ", c.n_layer,
               " layers x ", c.n_head, " heads, width ", c.n_embd, ")\n");
    out += cat("data: ", r.n_sequences, " sequences, ", r.n_tokens, " tokens");
    if (!r.sources.empty()) {
        out += " from ";
        for (size_t k = 0; k < r.sources.size(); ++k)
            out += (k ? ", " : "") + r.sources[k];
    }
    out += "\n";
    if (r.stats_only) out += "mode: statistics computed during the forward pass (--stats-only)\n";
    if (r.loss_predictions > 0)
        out += cat("loss: ", num(r.loss, 4), " nats per predicted token (mean next-token cross-entropy over ",
                   r.loss_predictions, " predictions)\n");
    for (const auto& n : r.notes)
        out += "note: " + n + "\n";

    out += section("1. Per-head attention metrics");
    out += "Means over query rows i >= 1 of every sequence (row 0 sees only itself). entropy in nats;\n"
           "norm = entropy / ln(keys); span = exp(entropy); distance in tokens; masses are shares of the row;\n"
           "'-1st' = with the first token excluded and the row renormalised.\n\n";
    {
        Table t({"head", "entropy", "norm", "confidence", "span", "sparsity", "distance", "sink", "self", "prev",
                 "norm-1st", "dist-1st"});
        for (const auto& L : r.layers)
            for (const auto& h : L.heads)
                t.add({head_name(h.layer, h.head), num(h.metric(HeadStats::entropy)),
                       num(h.metric(HeadStats::entropy_normalized)), num(h.metric(HeadStats::confidence)),
                       num(h.metric(HeadStats::effective_span), 2), num(h.metric(HeadStats::sparsity)),
                       num(h.metric(HeadStats::mean_distance), 2), num(h.metric(HeadStats::sink_mass)),
                       num(h.metric(HeadStats::self_mass)), num(h.metric(HeadStats::prev_token_mass)),
                       num(h.metric(HeadStats::entropy_normalized_nofirst)),
                       num(h.metric(HeadStats::mean_distance_nofirst), 2)});
        out += t.str();
    }

    out += section("2. Head taxonomy");
    out += cat("Scores: mean attention on the template's cells over the rows that have one (prev-token: j = i-1;\n"
               "duplicate: earlier copies of the current token; induction: the token after an earlier copy),\n"
               "and TransformerLens's share of the whole pattern (TL). A label needs a score >= ",
               num(r.options.label_score, 2), ".\n\n");
    out += heads_table(r);
    {
        std::map<std::string, std::vector<std::string>> by_label;
        for (const auto& L : r.layers)
            for (const auto& h : L.heads)
                by_label[h.label].push_back(head_name(h.layer, h.head));
        out += "\n";
        for (const auto& [label, names] : by_label) {
            std::string line = label + ": ";
            for (size_t k = 0; k < names.size(); ++k)
                line += (k ? ", " : "") + names[k];
            out += wrap(line, 96, "  ");
        }
    }

    out += section("3. Head comparison and redundancy");
    out += cat("Jensen-Shannon divergence between heads' rows (nats, 0 = identical, ln 2 = 0.693 = disjoint),\n"
               "averaged over rows; layer diversity = mean over pairs. Redundant: JS < ",
               num(r.options.redundant_js, 3), ".\n\n");
    for (const auto& L : r.layers) {
        if (L.js.empty()) continue;
        const size_t Hc = L.heads.size();
        std::vector<std::string> hdr{cat("layer ", L.layer)};
        for (const auto& h : L.heads)
            hdr.push_back(cat("H", h.head));
        Table t(hdr);
        for (size_t a = 0; a < Hc; ++a) {
            std::vector<std::string> row{cat("H", L.heads[a].head)};
            for (size_t b = 0; b < Hc; ++b)
                row.push_back(a == b ? "." : num(L.js[a * Hc + b]));
            t.add(row);
        }
        out += t.str();
        out += cat("  diversity ", num(L.diversity), "\n\n");
    }
    if (r.redundant.empty())
        out += "No redundant pairs.\n";
    else
        for (const auto& p : r.redundant)
            out += cat("  redundant: ", head_name(p.layer, p.head_a), " ~ ", head_name(p.layer, p.head_b), " (JS ",
                       num(p.js, 4), ")\n");

    out += section("4. Evolution through depth");
    out += "Means over the layer's heads; JS prev = divergence of the layer's mean pattern from the\n"
           "previous layer's.\n\n";
    {
        Table t({"layer", "entropy", "norm", "distance", "sink", "diversity", "JS prev"});
        for (const auto& L : r.layers)
            if (!L.heads.empty())
                t.add({cat(L.layer), num(L.entropy), num(L.entropy_normalized), num(L.mean_distance, 2),
                       num(L.sink_mass), L.js.empty() ? "-" : num(L.diversity),
                       L.js_from_previous < 0 ? "-" : num(L.js_from_previous)});
        out += t.str();
    }

    out += section("5. Position dependence");
    out += "Mean attention by relative offset d = i - j (columns), per layer (mean over heads); '>' pools\n"
           "the offsets beyond the last column.\n\n";
    {
        const int show = std::min(r.options.max_offset, 8);
        std::vector<std::string> hdr{"layer"};
        for (int d = 0; d <= show; ++d)
            hdr.push_back(cat("d=", d));
        hdr.push_back(cat(">", r.options.max_offset));
        Table t(hdr);
        for (const auto& L : r.layers) {
            if (L.heads.empty()) continue;
            std::vector<std::string> row{cat(L.layer)};
            for (int d = 0; d <= show; ++d) {
                double m = 0;
                for (const auto& h : L.heads)
                    m += h.offset_profile[size_t(d)] / double(L.heads.size());
                row.push_back(num(m));
            }
            double far = 0;
            for (const auto& h : L.heads)
                far += h.offset_profile.back() / double(L.heads.size());
            row.push_back(num(far));
            t.add(row);
        }
        out += t.str();
        out += "\nMean entropy (nats) by query position, per layer:\n\n";
        int last_bucket = 0;
        for (const auto& L : r.layers)
            for (const auto& h : L.heads)
                for (int b = 0; b < kPositionBuckets; ++b)
                    if (h.rows_by_position[size_t(b)] > 0) last_bucket = std::max(last_bucket, b);
        std::vector<std::string> hdr2{"layer"};
        for (int b = 0; b <= last_bucket; ++b)
            hdr2.push_back(b == 0 ? "i=1" : cat(bucket_start(b), "-", bucket_start(b + 1) - 1));
        Table t2(hdr2);
        for (const auto& L : r.layers) {
            if (L.heads.empty()) continue;
            std::vector<std::string> row{cat(L.layer)};
            for (int b = 0; b <= last_bucket; ++b) {
                double m = 0;
                for (const auto& h : L.heads)
                    m += h.entropy_by_position[size_t(b)] / double(L.heads.size());
                row.push_back(num(m));
            }
            t2.add(row);
        }
        out += t2.str();
    }

    out += section("6. Attention rollout");
    if (!r.rollout_complete) {
        out += "Not computed: rollout needs every head of every layer.\n";
    } else {
        out += "Abnar & Zuidema (2020): A' = 0.5 mean_h A + 0.5 I per layer, multiplied through depth.\n"
               "sink = rollout weight of the first token; distance = rollout-weighted mean |i - j|.\n\n";
        Table t({"after layer", "sink", "distance"});
        for (const auto& L : r.layers)
            if (L.rollout_sink >= 0) t.add({cat(L.layer), num(L.rollout_sink), num(L.rollout_distance, 2)});
        out += t.str();
        for (const auto& row : r.rollout) {
            std::vector<size_t> idx(row.last_row.size());
            for (size_t k = 0; k < idx.size(); ++k)
                idx[k] = k;
            std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return row.last_row[a] > row.last_row[b]; });
            std::string line =
                cat("\n  sequence ", row.sequence, ", last token ",
                    row.tokens.empty() ? std::string("?") : show_token(row.tokens.back()), " draws on: ");
            for (size_t k = 0; k < idx.size() && k < 5; ++k)
                line += cat(k ? ", " : "", idx[k] < row.tokens.size() ? show_token(row.tokens[idx[k]]) : "?", "@",
                            idx[k], " ", num(row.last_row[idx[k]], 2));
            out += line + "\n";
        }
    }

    out += section("7. Layer statistics");
    out += "input = attention input (ln1 output), output = attention output (hook_attn_out); magnitude =\n"
           "mean ||output|| / ||input|| per token; update = mean ||attn_out|| / ||resid_pre||; corr = Pearson\n"
           "correlation of input and output elements; dim = participation ratio of the covariance spectrum;\n"
           "cos = mean pairwise cosine of token states (resid_pre if captured, else input).\n\n";
    {
        Table t({"layer", "in mean", "in std", "out mean", "out std", "magnitude", "update", "corr", "in dim",
                 "out dim", "cos"});
        bool any = false;
        for (const auto& L : r.layers) {
            if (!L.input.present && !L.output.present) continue;
            any = true;
            const HiddenResult& st = L.resid_pre.present ? L.resid_pre : L.input;
            t.add({cat(L.layer), L.input.present ? num(L.input.mean, 4) : "-", L.input.present ? num(L.input.std) : "-",
                   L.output.present ? num(L.output.mean, 4) : "-", L.output.present ? num(L.output.std) : "-",
                   L.has_flow ? num(L.transform_magnitude) : "-", L.resid_update >= 0 ? num(L.resid_update) : "-",
                   L.has_flow ? num(L.io_correlation) : "-",
                   L.input.effective_dim >= 0 ? num(L.input.effective_dim, 1) : "-",
                   L.output.effective_dim >= 0 ? num(L.output.effective_dim, 1) : "-",
                   st.present ? num(st.mean_cosine) : "-"});
        }
        out += any ? t.str() : "Not computed: no attention inputs or outputs were captured.\n";
    }

    out += section("8. Collapse");
    auto list = [](const std::vector<std::string>& v) {
        std::string s;
        for (size_t k = 0; k < v.size(); ++k)
            s += (k ? ", " : "") + v[k];
        return v.empty() ? std::string("none") : s;
    };
    out += wrap(cat("Near-uniform heads (normalized entropy >= ", num(r.options.uniform_entropy, 2),
                    "): ", list(r.uniform_heads)),
                96, "  ");
    out += wrap(cat("Sink-only heads (first-token mass >= ", num(r.options.sink_only, 2), "): ", list(r.sink_heads)),
                96, "  ");
    std::vector<std::string> cl;
    for (int il : r.collapsed_layers)
        cl.push_back(cat("layer ", il));
    out += wrap(
        cat("Representation collapse (mean pairwise cosine >= ", num(r.options.collapse_cosine, 2), "): ", list(cl)),
        96, "  ");

    out += section("9. Recommendations");
    if (r.recommendations.empty()) out += "  None: no redundancy, collapse or sink-only head was found.\n";
    for (size_t k = 0; k < r.recommendations.size(); ++k) {
        const std::string body = wrap(r.recommendations[k], 92, "     ");
        out += cat("  ", k + 1, ". ", body.substr(5));
    }
    if (const ImportanceEvidence& ev = r.importance; ev.present) {
        out += section("10. Head importance (measured)");
        out += wrap(cat("From ", ev.source, ": ", ev.method, " ablation of each head's output (hook_z). Loss: the mean ",
                        "next-token cross-entropy over every predicted token of every text (", ev.tokens,
                        " tokens), token-weighted; clean ", num(ev.clean_loss, 4), " nats/token. A suggestion whose ",
                        "head costs more than ", num(ev.max_delta, 3), " nats/token is withdrawn.",
                        ev.method == "zero" ? " Zeroing a head can be far off the model's distribution; mean ablation "
                                              "(attnscope ablate --method mean) is the milder test." : ""),
                    96, "  ");
        if (!ev.candidates.empty()) {
            Table t({"suggested head", "why", "delta loss", "se", "verdict"});
            for (const auto& c : ev.candidates)
                t.add({c.head, c.reason, c.measured ? cat(c.delta >= 0 ? "+" : "", num(c.delta, 4)) : "-",
                       c.measured ? num(c.se, 4) : "-",
                       !c.measured ? "not measured" : c.withdrawn ? "withdrawn: needed" : "prunable"});
            out += t.str();
        }
        if (!ev.group.empty() && ev.group.find('+') != std::string::npos)
            out += wrap(ev.group_measured
                            ? cat("All prunable heads together (", ev.group, "): ", ev.group_delta >= 0 ? "+" : "",
                                  num(ev.group_delta, 4), " nats/token (se ", num(ev.group_se, 4), ").")
                            : cat("All prunable heads together (", ev.group, "): not measured."),
                        96, "  ");
        if (!ev.top.empty()) {
            out += "\n  The heads the model needs most (largest delta loss when ablated alone):\n";
            Table t({"head", "delta loss", "se"});
            for (const auto& h : ev.top)
                t.add({h.name, cat(h.delta >= 0 ? "+" : "", num(h.delta, 4)), num(h.se, 4)});
            out += t.str();
        }
    }
    return out;
}

nlohmann::ordered_json summary_json(const AnalysisResult& r) {
    using nlohmann::ordered_json;
    auto finite = [](double v) -> ordered_json { return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr); };
    auto opt = [&](double v) -> ordered_json { return v < 0 ? ordered_json(nullptr) : finite(v); };
    ordered_json j;
    j["schema"] = kSummarySchema;
    j["tool"] = {{"name", "attnscope"}, {"version", ATTNSCOPE_VERSION}};
    const ModelConfig& c = r.config;
    j["model"] = {
        {"id", r.model},      {"model_type", c.model_type},   {"n_layer", c.n_layer},      {"n_head", c.n_head},
        {"n_embd", c.n_embd}, {"n_positions", c.n_positions}, {"vocab_size", c.vocab_size}};
    j["sources"] = r.sources;
    if (!r.fingerprint.empty()) j["capture_fingerprint"] = r.fingerprint;
    j["n_sequences"] = r.n_sequences;
    j["n_tokens"] = r.n_tokens;
    j["stats_only"] = r.stats_only;
    if (r.loss_predictions > 0) j["loss"] = {{"mean_nats", r.loss}, {"predictions", r.loss_predictions}};
    const AnalysisOptions& o = r.options;
    j["options"] = {{"redundant_js", o.redundant_js},       {"max_offset", o.max_offset},
                    {"uniform_entropy", o.uniform_entropy}, {"sink_only", o.sink_only},
                    {"collapse_cosine", o.collapse_cosine}, {"label_score", o.label_score},
                    {"rollout_sequences", o.rollout_sequences}, {"covariance", o.covariance}};
    ordered_json layers = ordered_json::array();
    for (const auto& L : r.layers) {
        ordered_json lj;
        lj["layer"] = L.layer;
        ordered_json heads = ordered_json::array();
        for (const auto& h : L.heads) {
            ordered_json hj;
            hj["head"] = h.head;
            hj["rows"] = h.rows;
            for (size_t m = 0; m < size_t(HeadStats::n_metrics); ++m)
                hj[metric_name(HeadStats::Metric(m))] = finite(h.metrics[m]);
            hj["label"] = h.label;
            hj["scores"] = {{"previous_token", h.scores.previous_token},
                            {"duplicate_token", h.scores.duplicate_token},
                            {"induction", h.scores.induction}};
            hj["template_scores"] = {{"previous_token", h.template_scores.previous_token},
                                     {"duplicate_token", h.template_scores.duplicate_token},
                                     {"induction", h.template_scores.induction},
                                     {"rows",
                                      {{"previous_token", h.template_rows[0]},
                                       {"duplicate_token", h.template_rows[1]},
                                       {"induction", h.template_rows[2]}}}};
            hj["offset_profile"] = h.offset_profile;
            ordered_json pos = {{"bucket_start", ordered_json::array()},
                                {"rows", ordered_json::array()},
                                {"entropy", ordered_json::array()},
                                {"sink_mass", ordered_json::array()}};
            for (int b = 0; b < kPositionBuckets; ++b) {
                if (h.rows_by_position[size_t(b)] <= 0) continue;
                pos["bucket_start"].push_back(bucket_start(b));
                pos["rows"].push_back(h.rows_by_position[size_t(b)]);
                pos["entropy"].push_back(h.entropy_by_position[size_t(b)]);
                pos["sink_mass"].push_back(h.sink_by_position[size_t(b)]);
            }
            hj["by_position"] = pos;
            heads.push_back(hj);
        }
        lj["heads"] = heads;
        lj["diversity"] = L.js.empty() ? ordered_json(nullptr) : ordered_json(L.diversity);
        lj["evolution"] = {{"entropy", L.entropy},
                           {"entropy_normalized", L.entropy_normalized},
                           {"mean_distance", L.mean_distance},
                           {"sink_mass", L.sink_mass},
                           {"js_from_previous", opt(L.js_from_previous)}};
        auto hidden = [&](const HiddenResult& h) -> ordered_json {
            if (!h.present) return nullptr;
            return {{"mean", h.mean},
                    {"std", h.std},
                    {"effective_dim", opt(h.effective_dim)},
                    {"mean_cosine", h.mean_cosine},
                    {"tokens", h.tokens}};
        };
        lj["stats"] = {{"input", hidden(L.input)},
                       {"output", hidden(L.output)},
                       {"resid_pre", hidden(L.resid_pre)},
                       {"transform_magnitude", L.has_flow ? finite(L.transform_magnitude) : ordered_json(nullptr)},
                       {"resid_update", opt(L.resid_update)},
                       {"io_correlation", L.has_flow ? finite(L.io_correlation) : ordered_json(nullptr)}};
        layers.push_back(lj);
    }
    j["layers"] = layers;

    ordered_json sim;
    sim["metric"] = "jensen_shannon_nats";
    sim["redundant_js"] = o.redundant_js;
    sim["layers"] = ordered_json::array();
    for (const auto& L : r.layers) {
        if (L.js.empty()) continue;
        const size_t Hc = L.heads.size();
        ordered_json m = ordered_json::array();
        for (size_t a = 0; a < Hc; ++a) {
            ordered_json row = ordered_json::array();
            for (size_t b = 0; b < Hc; ++b)
                row.push_back(L.js[a * Hc + b]);
            m.push_back(row);
        }
        ordered_json ids = ordered_json::array();
        for (const auto& h : L.heads)
            ids.push_back(h.head);
        sim["layers"].push_back({{"layer", L.layer}, {"heads", ids}, {"js", m}, {"diversity", L.diversity}});
    }
    sim["redundant_pairs"] = ordered_json::array();
    for (const auto& p : r.redundant)
        sim["redundant_pairs"].push_back({{"layer", p.layer}, {"heads", {p.head_a, p.head_b}}, {"js", p.js}});
    j["similarity"] = sim;

    ordered_json roll;
    roll["complete"] = r.rollout_complete;
    roll["by_layer"] = ordered_json::array();
    roll["sequences"] = ordered_json::array();
    if (r.rollout_complete) {
        for (const auto& L : r.layers)
            if (L.rollout_sink >= 0)
                roll["by_layer"].push_back(
                    {{"layer", L.layer}, {"sink_mass", L.rollout_sink}, {"mean_distance", L.rollout_distance}});
        for (const auto& s : r.rollout)
            roll["sequences"].push_back({{"sequence", s.sequence}, {"tokens", s.tokens}, {"last_row", s.last_row}});
    }
    j["rollout"] = roll;

    j["collapse"] = {{"uniform_heads", r.uniform_heads},
                     {"sink_heads", r.sink_heads},
                     {"representation_collapse_layers", r.collapsed_layers}};
    j["recommendations"] = r.recommendations;
    if (const ImportanceEvidence& ev = r.importance; ev.present) {
        ordered_json cands = ordered_json::array(), top = ordered_json::array();
        for (const auto& c : ev.candidates)
            cands.push_back({{"head", c.head}, {"layer", c.layer}, {"index", c.index}, {"reason", c.reason},
                             {"measured", c.measured}, {"delta", c.measured ? finite(c.delta) : ordered_json(nullptr)},
                             {"se", c.measured ? finite(c.se) : ordered_json(nullptr)}, {"withdrawn", c.withdrawn}});
        for (const auto& t : ev.top)
            top.push_back({{"name", t.name}, {"delta", finite(t.delta)}, {"se", finite(t.se)}});
        j["importance"] = {{"source", ev.source},
                           {"method", ev.method},
                           {"loss", "mean next-token cross-entropy (nats) over every predicted token of every text, "
                                    "token-weighted"},
                           {"clean_loss", finite(ev.clean_loss)},
                           {"tokens", ev.tokens},
                           {"max_delta", ev.max_delta},
                           {"candidates", cands},
                           {"group", ev.group},
                           {"group_delta", ev.group_measured ? finite(ev.group_delta) : ordered_json(nullptr)},
                           {"group_se", ev.group_measured ? finite(ev.group_se) : ordered_json(nullptr)},
                           {"top", top}};
    }
    j["notes"] = r.notes;
    return j;
}

// ---------------------------------------------------------------------------------------------
// Reading a summary back

namespace {

using json = nlohmann::json;

// Numbers written by finite() (null = not finite) and opt() (null = -1, "not computed").
double number_or(const json& v, double if_null) {
    if (v.is_null()) return if_null;
    if (!v.is_number()) throw Error(cat("expected a number, found ", v.type_name()));
    return v.get<double>();
}
double number(const json& v) {
    return number_or(v, std::numeric_limits<double>::quiet_NaN());
}
// An integer field: a JSON integer (or an integral float) within int64 — never a cast of an
// arbitrary float, whose conversion out of range is undefined.
int64_t integer(const json& v) {
    if (v.is_number_integer()) return v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX
                                                                                                        : v.get<int64_t>();
    if (v.is_number_float() && std::isfinite(v.get<double>()) && std::fabs(v.get<double>()) < 9.2e18 &&
        v.get<double>() == std::floor(v.get<double>()))
        return int64_t(v.get<double>());
    throw Error(cat("expected an integer, found ", v.dump()));
}
template <typename T> std::vector<T> list(const json& v) {
    if (!v.is_array()) throw Error(cat("expected an array, found ", v.type_name()));
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        std::vector<T> out;
        for (const json& x : v) {
            const int64_t k = integer(x);
            if (k < int64_t(std::numeric_limits<T>::min()) || k > int64_t(std::numeric_limits<T>::max()))
                throw Error(cat("integer ", k, " out of range"));
            out.push_back(T(k));
        }
        return out;
    } else {
        return v.get<std::vector<T>>();
    }
}
int index_in(int64_t k, int n, const char* what) {
    if (k < 0 || k >= n) throw Error(cat(what, " ", k, " is outside 0..", n - 1));
    return int(k);
}

} // namespace

AnalysisResult analysis_from_summary(const json& j, const ModelConfig& cfg) {
    AnalysisResult r;
    try {
        if (j.value("schema", std::string()) != kSummarySchema)
            throw Error(cat("schema '", j.value("schema", std::string()), "' is not ", kSummarySchema));
        r.config = cfg;
        const json& model = j.at("model");
        if (integer(model.at("n_layer")) != cfg.n_layer || integer(model.at("n_head")) != cfg.n_head)
            throw Error("its model's shape differs from the capture's");
        r.model = model.at("id").get<std::string>();
        r.sources = list<std::string>(j.at("sources"));
        r.fingerprint = j.value("capture_fingerprint", std::string());
        r.n_sequences = integer(j.at("n_sequences"));
        r.n_tokens = integer(j.at("n_tokens"));
        r.stats_only = j.at("stats_only").get<bool>();
        if (auto l = j.find("loss"); l != j.end()) {
            r.loss = l->at("mean_nats").get<double>();
            r.loss_predictions = integer(l->at("predictions"));
        }
        const json& o = j.at("options");
        r.options.redundant_js = o.at("redundant_js").get<double>();
        r.options.max_offset = int(integer(o.at("max_offset")));
        r.options.uniform_entropy = o.at("uniform_entropy").get<double>();
        r.options.sink_only = o.at("sink_only").get<double>();
        r.options.collapse_cosine = o.at("collapse_cosine").get<double>();
        r.options.label_score = o.at("label_score").get<double>();
        r.options.rollout_sequences = int(integer(o.at("rollout_sequences")));
        r.options.covariance = o.at("covariance").get<bool>();
        if (r.options.max_offset < 1 || r.options.max_offset > 4096) throw Error("options.max_offset out of 1..4096");

        const json& layers = j.at("layers");
        if (!layers.is_array() || layers.size() != size_t(cfg.n_layer))
            throw Error(cat("expected ", cfg.n_layer, " layers"));
        for (size_t il = 0; il < layers.size(); ++il) {
            const json& lj = layers[il];
            LayerResult L;
            L.layer = int(il);
            if (integer(lj.at("layer")) != int64_t(il)) throw Error(cat("layers[", il, "] is not layer ", il));
            for (const json& hj : lj.at("heads")) {
                HeadResult h;
                h.layer = int(il);
                h.head = index_in(integer(hj.at("head")), cfg.n_head, "head");
                h.rows = hj.at("rows").get<double>();
                for (size_t m = 0; m < size_t(HeadStats::n_metrics); ++m)
                    h.metrics[m] = number(hj.at(metric_name(HeadStats::Metric(m))));
                h.label = hj.at("label").get<std::string>();
                const json& sc = hj.at("scores");
                h.scores = {sc.at("previous_token").get<double>(), sc.at("duplicate_token").get<double>(),
                            sc.at("induction").get<double>()};
                const json& ts = hj.at("template_scores");
                h.template_scores = {ts.at("previous_token").get<double>(), ts.at("duplicate_token").get<double>(),
                                     ts.at("induction").get<double>()};
                const json& tr = ts.at("rows");
                h.template_rows = {tr.at("previous_token").get<double>(), tr.at("duplicate_token").get<double>(),
                                   tr.at("induction").get<double>()};
                h.offset_profile = list<double>(hj.at("offset_profile"));
                if (h.offset_profile.size() != size_t(r.options.max_offset + 2))
                    throw Error(cat("offset_profile of L", il, "H", h.head, " has ", h.offset_profile.size(),
                                    " entries, expected max_offset + 2 = ", r.options.max_offset + 2));
                const json& pos = hj.at("by_position");
                const auto starts = list<int64_t>(pos.at("bucket_start"));
                const auto rows = list<double>(pos.at("rows")), ent = list<double>(pos.at("entropy")),
                           sink = list<double>(pos.at("sink_mass"));
                if (rows.size() != starts.size() || ent.size() != starts.size() || sink.size() != starts.size())
                    throw Error(cat("by_position of L", il, "H", h.head, " has lists of different lengths"));
                for (size_t k = 0; k < starts.size(); ++k) {
                    int b = 0;
                    while (b < kPositionBuckets && bucket_start(b) != starts[k])
                        ++b;
                    if (b == kPositionBuckets) throw Error(cat("bucket_start ", starts[k], " is not a bucket"));
                    h.rows_by_position[size_t(b)] = rows[k];
                    h.entropy_by_position[size_t(b)] = ent[k];
                    h.sink_by_position[size_t(b)] = sink[k];
                }
                L.heads.push_back(std::move(h));
            }
            L.diversity = number_or(lj.at("diversity"), 0.0);
            const json& ev = lj.at("evolution");
            L.entropy = ev.at("entropy").get<double>();
            L.entropy_normalized = ev.at("entropy_normalized").get<double>();
            L.mean_distance = ev.at("mean_distance").get<double>();
            L.sink_mass = ev.at("sink_mass").get<double>();
            L.js_from_previous = number_or(ev.at("js_from_previous"), -1);
            const json& st = lj.at("stats");
            auto hidden = [&](const json& v) {
                HiddenResult hr;
                if (v.is_null()) return hr;
                hr.present = true;
                hr.mean = v.at("mean").get<double>();
                hr.std = v.at("std").get<double>();
                hr.effective_dim = number_or(v.at("effective_dim"), -1);
                hr.mean_cosine = v.at("mean_cosine").get<double>();
                hr.tokens = v.at("tokens").get<double>();
                return hr;
            };
            L.input = hidden(st.at("input"));
            L.output = hidden(st.at("output"));
            L.resid_pre = hidden(st.at("resid_pre"));
            L.has_flow = !st.at("transform_magnitude").is_null();
            L.transform_magnitude = number_or(st.at("transform_magnitude"), 0.0);
            L.resid_update = number_or(st.at("resid_update"), -1);
            L.io_correlation = number_or(st.at("io_correlation"), 0.0);
            r.layers.push_back(std::move(L));
        }

        const json& sim = j.at("similarity");
        for (const json& sl : sim.at("layers")) {
            LayerResult& L = r.layers[size_t(index_in(integer(sl.at("layer")), cfg.n_layer, "similarity layer"))];
            const auto ids = list<int>(sl.at("heads"));
            const size_t Hc = L.heads.size();
            bool same = ids.size() == Hc;
            for (size_t k = 0; same && k < Hc; ++k)
                same = ids[k] == L.heads[k].head;
            if (!same) throw Error(cat("similarity of layer ", L.layer, " names other heads than the layer"));
            const json& m = sl.at("js");
            if (!m.is_array() || m.size() != Hc) throw Error(cat("similarity of layer ", L.layer, " is not ", Hc, " x ", Hc));
            L.js.assign(Hc * Hc, 0.0);
            for (size_t a = 0; a < Hc; ++a) {
                const auto row = list<double>(m[a]);
                if (row.size() != Hc) throw Error(cat("similarity of layer ", L.layer, " is not ", Hc, " x ", Hc));
                std::copy(row.begin(), row.end(), L.js.begin() + std::ptrdiff_t(a * Hc));
            }
        }
        for (const json& p : sim.at("redundant_pairs")) {
            const auto hs = list<int>(p.at("heads"));
            if (hs.size() != 2) throw Error("a redundant pair names two heads");
            r.redundant.push_back({index_in(integer(p.at("layer")), cfg.n_layer, "layer"), index_in(hs[0], cfg.n_head, "head"),
                                   index_in(hs[1], cfg.n_head, "head"), p.at("js").get<double>()});
        }
        const json& roll = j.at("rollout");
        r.rollout_complete = roll.at("complete").get<bool>();
        for (const json& b : roll.at("by_layer")) {
            LayerResult& L = r.layers[size_t(index_in(integer(b.at("layer")), cfg.n_layer, "rollout layer"))];
            L.rollout_sink = b.at("sink_mass").get<double>();
            L.rollout_distance = b.at("mean_distance").get<double>();
        }
        for (const json& sq : roll.at("sequences"))
            r.rollout.push_back({int(integer(sq.at("sequence"))), list<std::string>(sq.at("tokens")),
                                 list<double>(sq.at("last_row"))});
        const json& col = j.at("collapse");
        r.uniform_heads = list<std::string>(col.at("uniform_heads"));
        r.sink_heads = list<std::string>(col.at("sink_heads"));
        r.collapsed_layers = list<int>(col.at("representation_collapse_layers"));
        r.recommendations = list<std::string>(j.at("recommendations"));
        if (j.contains("importance")) {
            const json& im = j.at("importance");
            ImportanceEvidence& ev = r.importance;
            ev.present = true;
            ev.source = im.at("source").get<std::string>();
            ev.method = im.at("method").get<std::string>();
            ev.clean_loss = number_or(im.at("clean_loss"), NAN);
            ev.tokens = json_int(im, "tokens", "summary importance", 0, int64_t(1) << 50);
            ev.max_delta = im.at("max_delta").get<double>();
            for (const json& c : im.at("candidates")) {
                PruneCandidate pc;
                pc.head = c.at("head").get<std::string>();
                pc.layer = int(json_int(c, "layer", "summary importance candidate", 0, cfg.n_layer - 1));
                pc.index = int(json_int(c, "index", "summary importance candidate", 0, cfg.n_head - 1));
                pc.reason = c.at("reason").get<std::string>();
                pc.measured = c.at("measured").get<bool>();
                pc.delta = number_or(c.at("delta"), 0.0);
                pc.se = number_or(c.at("se"), 0.0);
                pc.withdrawn = c.at("withdrawn").get<bool>();
                ev.candidates.push_back(pc);
            }
            ev.group = im.at("group").get<std::string>();
            ev.group_measured = !im.at("group_delta").is_null();
            ev.group_delta = number_or(im.at("group_delta"), 0.0);
            ev.group_se = number_or(im.at("group_se"), 0.0);
            for (const json& t : im.at("top"))
                ev.top.push_back({t.at("name").get<std::string>(), number_or(t.at("delta"), NAN), number_or(t.at("se"), NAN)});
        }
        r.notes = list<std::string>(j.at("notes"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat("not a summary this attnscope wrote: ", e.what()));
    }
    return r;
}

std::vector<std::string> write_report(const AnalysisResult& r, const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(cat(dir, ": cannot create the output directory: ", ec.message()));
    const std::string txt = (fs::path(dir) / kReportFile).string();
    const std::string js = (fs::path(dir) / kSummaryFile).string();
    write_file_atomic(txt, report_text(r));
    write_file_atomic(js, summary_json(r).dump(1) + "\n");
    return {txt, js};
}

} // namespace attnscope
