// Head matching across captures of the same texts. For every text, each model's patterns are
// read through the mapping (one text of each model in memory at a time); every row's sum of
// a ln a and total come first, so the Jensen–Shannon divergence of two heads' rows needs one
// logarithm per cell (JS = 1/2 (Σp ln p + Σq ln q − Σs ln s + ln 2 (Σp + Σq)), s = p + q), taken
// in single precision (log_lane_f: 16 lanes, no division; JS within ~1e-7 nats), the rows' own
// sums in double. The
// sums run over pairs of heads in parallel, each pair's in a fixed order (texts, then rows), so
// the result does not depend on the thread count. The Hungarian algorithm (shortest augmenting
// paths with potentials, O(n² m)) then finds the one-to-one matching of least total JS.
#include "analysis/compare.h"

#include "analysis/head_metrics.h"
#include "capture/capture.h"
#include "core/error.h"
#include "io/json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

namespace attnscope {

const char* const kCompareMetricNames[kCompareMetrics] = {"entropy", "sink", "distance",
                                                          "prev_token", "duplicate", "induction"};

std::array<double, kCompareMetrics> compare_metrics(const HeadResult& h) {
    return {h.metric(HeadStats::entropy), h.metric(HeadStats::sink_mass), h.metric(HeadStats::mean_distance),
            h.scores.previous_token,     h.scores.duplicate_token,         h.scores.induction};
}

std::string HeadRef::name() const {
    return cat("L", layer, "H", head);
}

std::vector<int> assign_min_cost(const std::vector<double>& cost, int rows, int cols) {
    if (rows > cols) throw Error(cat("assign_min_cost: ", rows, " rows, more than the ", cols, " columns"));
    const double inf = std::numeric_limits<double>::infinity();
    // 1-based potentials u (rows), v (columns); p[j]: the row assigned to column j (0: none)
    std::vector<double> u(size_t(rows) + 1, 0.0), v(size_t(cols) + 1, 0.0);
    std::vector<int> p(size_t(cols) + 1, 0), way(size_t(cols) + 1, 0);
    for (int i = 1; i <= rows; ++i) {
        p[0] = i;
        int j0 = 0;
        std::vector<double> minv(size_t(cols) + 1, inf);
        std::vector<char> used(size_t(cols) + 1, 0);
        do {
            used[size_t(j0)] = 1;
            const int i0 = p[size_t(j0)];
            double delta = inf;
            int j1 = 0;
            for (int j = 1; j <= cols; ++j) {
                if (used[size_t(j)]) continue;
                const double cur = cost[size_t(i0 - 1) * size_t(cols) + size_t(j - 1)] - u[size_t(i0)] - v[size_t(j)];
                if (cur < minv[size_t(j)]) minv[size_t(j)] = cur, way[size_t(j)] = j0;
                if (minv[size_t(j)] < delta) delta = minv[size_t(j)], j1 = j;
            }
            for (int j = 0; j <= cols; ++j) {
                if (used[size_t(j)]) {
                    u[size_t(p[size_t(j)])] += delta;
                    v[size_t(j)] -= delta;
                } else {
                    minv[size_t(j)] -= delta;
                }
            }
            j0 = j1;
        } while (p[size_t(j0)] != 0);
        do {
            const int j1 = way[size_t(j0)];
            p[size_t(j0)] = p[size_t(j1)];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<int> col_of_row(size_t(rows), -1);
    for (int j = 1; j <= cols; ++j)
        if (p[size_t(j)] > 0) col_of_row[size_t(p[size_t(j)] - 1)] = j - 1;
    return col_of_row;
}

namespace {

// The heads a capture holds patterns of: (layer, head) in layer order, and each layer's hook.
struct PatternSet {
    std::vector<HeadRef> heads;
    std::vector<int> layers;              // layers with patterns
    std::vector<std::vector<int>> heads_of; // per entry of `layers`: head numbers, in stored order
};

PatternSet pattern_set(const CaptureReader& cap) {
    PatternSet s;
    if (cap.n_sequences() == 0) throw Error(cat(cap.dir(), ": the capture holds no sequence"));
    for (int il = 0; il < cap.config().n_layer; ++il) {
        if (!cap.has(0, cat("blocks.", il, ".attn.hook_pattern"))) continue;
        s.layers.push_back(il);
        std::vector<int> hs = cap.heads();
        if (hs.empty())
            for (int h = 0; h < cap.config().n_head; ++h)
                hs.push_back(h);
        for (int h : hs)
            s.heads.push_back({il, h});
        s.heads_of.push_back(hs);
    }
    if (s.heads.empty())
        throw Error(cat(cap.dir(), ": the capture holds no attention patterns"),
                    "capture them: attnscope run ... --capture weights (the default captures them)");
    return s;
}

// One text's rows of every head: pointers into the mapping (or widened storage), and each row's
// sum of a ln a and total.
struct TextRows {
    std::vector<std::vector<float>> storage; // per layer, when stored F16
    std::vector<const float*> head_base;     // per head: its [T, T] pattern
    std::vector<double> plogp, total;        // [head][row]
    int64_t T = 0;

    void read(const CaptureReader& cap, const PatternSet& ps, int64_t seq) {
        T = cap.sequence(seq).length;
        storage.assign(ps.layers.size(), {});
        head_base.clear();
        for (size_t k = 0; k < ps.layers.size(); ++k) {
            const auto v = cap.view(seq, cat("blocks.", ps.layers[k], ".attn.hook_pattern"), storage[k]);
            const int64_t H = int64_t(ps.heads_of[k].size());
            if (v.shape.size() != 3 || v.shape[0] != H || v.shape[1] != T || v.shape[2] != T)
                throw Error(cat(cap.dir(), ": sequence ", seq, ", layer ", ps.layers[k], ": pattern shape does not match ",
                                H, " heads of ", T, " tokens"));
            for (int64_t h = 0; h < H; ++h)
                head_base.push_back(v.data + h * T * T);
        }
        const int64_t n = int64_t(head_base.size());
        plogp.assign(size_t(n * T), 0.0);
        total.assign(size_t(n * T), 0.0);
#pragma omp parallel for schedule(static)
        for (int64_t h = 0; h < n; ++h)
            for (int64_t i = 1; i < T; ++i) {
                const RowSums r = row_sums(head_base[size_t(h)] + i * T, i, i + 1);
                plogp[size_t(h * T + i)] = r.plogp(), total[size_t(h * T + i)] = r.total();
            }
    }
};

const HeadResult* find_head(const AnalysisResult& r, const HeadRef& h) {
    for (const LayerResult& L : r.layers)
        if (L.layer == h.layer)
            for (const HeadResult& x : L.heads)
                if (x.head == h.head) return &x;
    return nullptr;
}

} // namespace

Comparison compare_captures(const std::vector<std::string>& dirs, const CompareOptions& options) {
    if (dirs.size() < 2)
        throw Error(cat("compare: ", dirs.size(), " capture director", dirs.size() == 1 ? "y" : "ies", " given, at least 2 needed"),
                    "attnscope compare DIR_A DIR_B [DIR_C ...]");
    if (!options.labels.empty() && options.labels.size() != dirs.size())
        throw Error(cat("compare: ", options.labels.size(), " labels for ", dirs.size(), " directories"),
                    "give one label per directory: --labels a,b");
    Comparison c;
    c.dirs = dirs;
    c.options = options;
    std::vector<std::unique_ptr<CaptureReader>> caps;
    std::vector<PatternSet> sets;
    for (const std::string& d : dirs) {
        caps.push_back(std::make_unique<CaptureReader>(d));
        sets.push_back(pattern_set(*caps.back()));
    }
    // the same texts, as the same token ids
    const CaptureReader& first = *caps[0];
    c.n_sequences = first.n_sequences();
    for (size_t k = 1; k < caps.size(); ++k) {
        const CaptureReader& o = *caps[k];
        if (o.n_sequences() != first.n_sequences())
            throw Error(cat("compare: ", dirs[0], " holds ", first.n_sequences(), " sequences, ", dirs[k], " holds ",
                            o.n_sequences()),
                        "capture the same texts (the same --input) with every model");
        for (int64_t s = 0; s < first.n_sequences(); ++s)
            if (o.sequence(s).token_ids != first.sequence(s).token_ids)
                throw Error(cat("compare: sequence ", s, " differs between ", dirs[0], " and ", dirs[k],
                                " (its token ids are not the same)"),
                            "compare captures of the same texts by models that share a tokenizer");
    }
    for (size_t k = 0; k < caps.size(); ++k) {
        c.labels.push_back(options.labels.empty() ? json_string_or(caps[k]->manifest().value("model", nlohmann::json::object()),
                                                                    "name", dirs[k], dirs[k])
                                                  : options.labels[k]);
        c.analyses.push_back(analyze_captures({caps[k].get()}, options.analysis));
    }

    for (size_t k = 0; k + 1 < caps.size(); ++k) {
        PairComparison pc;
        pc.a = int(k), pc.b = int(k + 1);
        pc.heads_a = sets[k].heads, pc.heads_b = sets[k + 1].heads;
        const int64_t nA = int64_t(pc.heads_a.size()), nB = int64_t(pc.heads_b.size());
        std::vector<double> sum(size_t(nA * nB), 0.0);
        int64_t rows = 0;
        TextRows ra, rb;
        for (int64_t s = 0; s < c.n_sequences; ++s) {
            ra.read(*caps[k], sets[k], s);
            rb.read(*caps[k + 1], sets[k + 1], s);
            const int64_t T = ra.T;
#pragma omp parallel for schedule(dynamic, 1)
            for (int64_t ha = 0; ha < nA; ++ha)
                for (int64_t hb = 0; hb < nB; ++hb) {
                    if (options.same_layer && pc.heads_a[size_t(ha)].layer != pc.heads_b[size_t(hb)].layer) continue;
                    double acc = 0;
                    for (int64_t i = 1; i < T; ++i) {
                        const size_t ia = size_t(ha * T + i), ib = size_t(hb * T + i);
                        const double slogs = plogp_sum_of_sums_f32(ra.head_base[size_t(ha)] + i * T,
                                                                   rb.head_base[size_t(hb)] + i * T, i + 1);
                        acc += js_from_sums(ra.plogp[ia], rb.plogp[ib], slogs, ra.total[ia], rb.total[ib]);
                    }
                    sum[size_t(ha * nB + hb)] += acc;
                }
            rows += std::max<int64_t>(0, T - 1);
            for (int il : sets[k].layers)
                caps[k]->advise(s, cat("blocks.", il, ".attn.hook_pattern"), MappedFile::Use::done);
            for (int il : sets[k + 1].layers)
                caps[k + 1]->advise(s, cat("blocks.", il, ".attn.hook_pattern"), MappedFile::Use::done);
        }
        if (rows == 0) throw Error("compare: the texts have no row past the first token", "compare texts of 2 tokens or more");
        c.n_rows = rows;
        pc.js.assign(size_t(nA * nB), -1.0);
        for (int64_t ha = 0; ha < nA; ++ha)
            for (int64_t hb = 0; hb < nB; ++hb)
                if (!options.same_layer || pc.heads_a[size_t(ha)].layer == pc.heads_b[size_t(hb)].layer)
                    pc.js[size_t(ha * nB + hb)] = sum[size_t(ha * nB + hb)] / double(rows);
        // the smaller set into the larger; pairs not compared cost more than any JS (<= ln 2)
        const bool a_rows = nA <= nB;
        const int R = int(a_rows ? nA : nB), C = int(a_rows ? nB : nA);
        std::vector<double> cost(size_t(R) * size_t(C));
        for (int r = 0; r < R; ++r)
            for (int col = 0; col < C; ++col) {
                const double js = a_rows ? pc.js[size_t(r) * size_t(nB) + size_t(col)] : pc.js[size_t(col) * size_t(nB) + size_t(r)];
                cost[size_t(r) * size_t(C) + size_t(col)] = js < 0 ? 1e6 : js;
            }
        const std::vector<int> match = assign_min_cost(cost, R, C);
        std::vector<char> a_matched(size_t(nA), 0), b_matched(size_t(nB), 0);
        double js_total = 0;
        for (int r = 0; r < R; ++r) {
            const int64_t ha = a_rows ? r : match[size_t(r)], hb = a_rows ? match[size_t(r)] : r;
            const double js = pc.js[size_t(ha * nB + hb)];
            if (js < 0) continue; // same_layer with more heads in one layer than the other
            HeadMatch m;
            m.a = pc.heads_a[size_t(ha)], m.b = pc.heads_b[size_t(hb)];
            m.js = js;
            m.good = js <= options.unmatched_js;
            if (const HeadResult* x = find_head(c.analyses[k], m.a)) m.label_a = x->label, m.metrics_a = compare_metrics(*x);
            if (const HeadResult* x = find_head(c.analyses[k + 1], m.b)) m.label_b = x->label, m.metrics_b = compare_metrics(*x);
            if (m.good) a_matched[size_t(ha)] = 1, b_matched[size_t(hb)] = 1;
            js_total += js;
            pc.matches.push_back(std::move(m));
        }
        pc.mean_match_js = pc.matches.empty() ? 0 : js_total / double(pc.matches.size());
        for (int64_t ha = 0; ha < nA; ++ha)
            if (!a_matched[size_t(ha)]) pc.gone.push_back(pc.heads_a[size_t(ha)]);
        for (int64_t hb = 0; hb < nB; ++hb)
            if (!b_matched[size_t(hb)]) pc.added.push_back(pc.heads_b[size_t(hb)]);
        c.pairs.push_back(std::move(pc));
    }

    if (dirs.size() >= 3) { // follow every head of the first capture through the matchings
        for (const HeadRef& start : sets[0].heads) {
            Trajectory t;
            HeadRef h = start;
            for (size_t step = 0; step < dirs.size(); ++step) {
                const HeadResult* x = find_head(c.analyses[step], h);
                t.path.push_back(h);
                t.labels.push_back(x ? x->label : "");
                t.metrics.push_back(x ? compare_metrics(*x) : std::array<double, kCompareMetrics>{});
                if (step + 1 == dirs.size()) break;
                const auto& ms = c.pairs[step].matches;
                auto m = std::find_if(ms.begin(), ms.end(), [&](const HeadMatch& y) { return y.a == h; });
                if (m == ms.end()) break; // not matched (the next model has fewer heads)
                t.js.push_back(m->js);
                h = m->b;
            }
            for (size_t step = 0; step < t.labels.size(); ++step) {
                const std::string& l = t.labels[step];
                if (std::none_of(t.first_step.begin(), t.first_step.end(), [&](const auto& p) { return p.first == l; }))
                    t.first_step.emplace_back(l, int(step));
            }
            c.trajectories.push_back(std::move(t));
        }
    }
    return c;
}

nlohmann::ordered_json comparison_json(const Comparison& c) {
    using ojson = nlohmann::ordered_json;
    auto metrics_obj = [](const std::array<double, kCompareMetrics>& a, const std::array<double, kCompareMetrics>& b) {
        ojson o = ojson::object();
        for (int k = 0; k < kCompareMetrics; ++k)
            o[kCompareMetricNames[k]] = {{"a", a[size_t(k)]}, {"b", b[size_t(k)]}, {"change", b[size_t(k)] - a[size_t(k)]}};
        return o;
    };
    auto names = [](const std::vector<HeadRef>& hs) {
        ojson a = ojson::array();
        for (const HeadRef& h : hs)
            a.push_back(h.name());
        return a;
    };
    ojson j;
    j["schema"] = "attnscope.comparison/1";
    j["captures"] = ojson::array();
    for (size_t k = 0; k < c.dirs.size(); ++k)
        j["captures"].push_back({{"dir", c.dirs[k]},
                                 {"label", c.labels[k]},
                                 {"model", c.analyses[k].model},
                                 {"n_layer", c.analyses[k].config.n_layer},
                                 {"n_head", c.analyses[k].config.n_head}});
    j["texts"] = c.n_sequences;
    j["rows_per_pair"] = c.n_rows;
    j["options"] = {{"same_layer", c.options.same_layer}, {"unmatched_js", c.options.unmatched_js}};
    j["pairs"] = ojson::array();
    for (const PairComparison& p : c.pairs) {
        ojson pj = {{"a", c.labels[size_t(p.a)]}, {"b", c.labels[size_t(p.b)]}, {"mean_match_js", p.mean_match_js}};
        pj["matches"] = ojson::array();
        for (const HeadMatch& m : p.matches)
            pj["matches"].push_back({{"a", m.a.name()},
                                     {"b", m.b.name()},
                                     {"js", m.js},
                                     {"good", m.good},
                                     {"label_a", m.label_a},
                                     {"label_b", m.label_b},
                                     {"metrics", metrics_obj(m.metrics_a, m.metrics_b)}});
        pj["gone"] = names(p.gone);
        pj["new"] = names(p.added);
        ojson values = ojson::array();
        const size_t nB = p.heads_b.size();
        for (size_t ha = 0; ha < p.heads_a.size(); ++ha) {
            ojson row = ojson::array();
            for (size_t hb = 0; hb < nB; ++hb) {
                const double v = p.js[ha * nB + hb];
                row.push_back(v < 0 ? ojson(nullptr) : ojson(v));
            }
            values.push_back(std::move(row));
        }
        pj["js_matrix"] = {{"rows", names(p.heads_a)}, {"cols", names(p.heads_b)}, {"values", std::move(values)}};
        j["pairs"].push_back(std::move(pj));
    }
    j["trajectories"] = ojson::array();
    for (const Trajectory& t : c.trajectories) {
        ojson tj = {{"head", t.path[0].name()}, {"path", names(t.path)}, {"labels", t.labels}, {"js", t.js}};
        ojson ms = ojson::object();
        for (int k = 0; k < kCompareMetrics; ++k) {
            ojson series = ojson::array();
            for (const auto& m : t.metrics)
                series.push_back(m[size_t(k)]);
            ms[kCompareMetricNames[k]] = std::move(series);
        }
        tj["metrics"] = std::move(ms);
        ojson fs = ojson::object();
        for (const auto& [label, step] : t.first_step)
            fs[label] = step;
        tj["first_step"] = std::move(fs);
        j["trajectories"].push_back(std::move(tj));
    }
    return j;
}

std::string comparison_report(const Comparison& c) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(3);
    o << "ATTENTION HEAD COMPARISON\n=========================\n\n";
    for (size_t k = 0; k < c.dirs.size(); ++k)
        o << "  [" << k << "] " << c.labels[k] << ": " << c.analyses[k].config.n_layer << " layers x "
          << c.analyses[k].config.n_head << " heads (" << c.dirs[k] << ")\n";
    o << "\nThe same " << c.n_sequences << " texts in every capture; Jensen-Shannon divergence (nats, 0 to ln 2 = 0.693) "
      << "between two heads' rows, averaged over " << c.n_rows << " rows (every row after the first of every text); "
      << "heads matched one to one by least total divergence (Hungarian algorithm"
      << (c.options.same_layer ? ", within each layer" : ", across layers") << "); a match above "
      << c.options.unmatched_js << " counts as no good match.\n";
    for (const PairComparison& p : c.pairs) {
        const std::string A = c.labels[size_t(p.a)], B = c.labels[size_t(p.b)];
        size_t good = 0, moved = 0, relabelled = 0;
        for (const HeadMatch& m : p.matches) {
            good += m.good;
            moved += !(m.a == m.b);
            relabelled += m.good && m.label_a != m.label_b;
        }
        o << "\n" << A << " -> " << B << "\n" << std::string(A.size() + B.size() + 4, '-') << "\n";
        o << "  " << p.matches.size() << " heads matched, " << good << " of them well (mean JS of the matches " << p.mean_match_js
          << "); " << moved << " matched to another position; " << relabelled << " changed label.\n";
        std::vector<const HeadMatch*> ms;
        for (const HeadMatch& m : p.matches)
            ms.push_back(&m);
        std::stable_sort(ms.begin(), ms.end(), [](const HeadMatch* x, const HeadMatch* y) { return x->js > y->js; });
        o << "  Most changed matches:\n";
        for (size_t i = 0; i < std::min<size_t>(8, ms.size()); ++i) {
            const HeadMatch& m = *ms[i];
            o << "    " << m.a.name() << " -> " << m.b.name() << "  JS " << m.js << "  " << m.label_a << " -> " << m.label_b
              << "  (induction " << m.metrics_a[5] << " -> " << m.metrics_b[5] << ", prev-token " << m.metrics_a[3] << " -> "
              << m.metrics_b[3] << ", sink " << m.metrics_a[1] << " -> " << m.metrics_b[1] << ")\n";
        }
        if (relabelled) {
            o << "  Label changes:\n";
            for (const HeadMatch& m : p.matches)
                if (m.good && m.label_a != m.label_b)
                    o << "    " << m.a.name() << " -> " << m.b.name() << ": " << m.label_a << " -> " << m.label_b << "\n";
        }
        auto list = [&](const char* what, const std::vector<HeadRef>& hs) {
            if (hs.empty()) return;
            o << "  " << what << " (" << hs.size() << "):";
            for (size_t i = 0; i < hs.size(); ++i)
                o << (i ? ", " : " ") << hs[i].name();
            o << "\n";
        };
        list(cat("Gone: heads of ", A, " with no good match").c_str(), p.gone);
        list(cat("New: heads of ", B, " with no good match").c_str(), p.added);
    }
    if (!c.trajectories.empty()) {
        o << "\nTrajectories (each head of " << c.labels[0] << " followed through the matchings)\n";
        for (const Trajectory& t : c.trajectories) {
            if (t.first_step.size() < 2) continue; // its label never changed
            o << "  " << t.path[0].name() << ":";
            for (size_t s = 0; s < t.path.size(); ++s)
                o << (s ? " -> " : " ") << t.path[s].name() << " " << t.labels[s];
            o << "\n    first appears:";
            for (const auto& [label, step] : t.first_step)
                o << " " << label << " at " << c.labels[size_t(step)] << ";";
            o << "\n";
        }
    }
    return o.str();
}

} // namespace attnscope
