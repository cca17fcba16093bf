// Head formation over training (attnscope evolve): the per-checkpoint analyses, already computed
// from captures or from stats-only runs of the same texts, lined up by step. Each head is followed
// by its position (layer, head), not by a matching — checkpoints of one training run keep their
// heads in place; `compare` matches heads when they may move. The template scores are the
// summary's (the mean over the rows that have a template cell), the labels the taxonomy's, so
// what evolve reports is what `analyze` says at each step. The phase change is found from the
// labels and scores alone: the earliest head whose label becomes induction and stays so, and the
// consecutive checkpoints between which its induction score rises fastest; and, apart from it, the
// consecutive checkpoints between which the loss on the texts falls fastest (both per training
// step, so that checkpoints need not be evenly spaced).
#include "analysis/evolve.h"

#include "core/error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

namespace attnscope {

const char* const kEvolutionScoreNames[kEvolutionScores] = {"previous_token", "induction", "duplicate_token", "sink"};

std::array<double, kEvolutionScores> evolution_scores(const HeadResult& h) {
    return {h.template_scores.previous_token, h.template_scores.induction, h.template_scores.duplicate_token,
            h.metric(HeadStats::sink_mass)};
}

std::string HeadEvolution::name() const {
    return cat("L", layer, "H", head);
}

int64_t step_of(const std::string& name) {
    auto digits_at = [&](size_t p) {
        size_t e = p;
        while (e < name.size() && std::isdigit(static_cast<unsigned char>(name[e])))
            ++e;
        return e > p && e - p <= 15 ? std::stoll(name.substr(p, e - p)) : int64_t(-1);
    };
    for (size_t p = name.rfind("step"); p != std::string::npos; p = p ? name.rfind("step", p - 1) : std::string::npos) {
        size_t q = p + 4;
        while (q < name.size() && (name[q] == '-' || name[q] == '_'))
            ++q;
        if (const int64_t s = digits_at(q); s >= 0) return s;
        if (p == 0) break;
    }
    size_t end = name.size();
    while (end > 0 && !std::isdigit(static_cast<unsigned char>(name[end - 1])))
        --end;
    size_t begin = end;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(name[begin - 1])))
        --begin;
    return begin < end ? digits_at(begin) : -1;
}

Evolution evolve(std::vector<EvolutionPoint> points) {
    if (points.size() < 2) throw Error(cat("evolve: ", points.size(), " checkpoint(s); give two or more"));
    std::stable_sort(points.begin(), points.end(),
                     [](const EvolutionPoint& a, const EvolutionPoint& b) { return a.step < b.step; });
    const AnalysisResult& first = points[0].analysis;
    for (const auto& p : points) {
        const AnalysisResult& a = p.analysis;
        if (a.config.n_layer != first.config.n_layer || a.config.n_head != first.config.n_head)
            throw Error(cat("evolve: ", p.label, " is a model of ", a.config.n_layer, " x ", a.config.n_head, " heads, ",
                            points[0].label, " of ", first.config.n_layer, " x ", first.config.n_head),
                        "evolve follows one model's checkpoints; compare matches heads across models");
        if (a.n_sequences != first.n_sequences || a.n_tokens != first.n_tokens)
            throw Error(cat("evolve: ", p.label, " analysed ", a.n_sequences, " texts (", a.n_tokens, " tokens), ",
                            points[0].label, " ", first.n_sequences, " (", first.n_tokens, ")"),
                        "every checkpoint must run on the same texts");
    }
    Evolution e;
    const int n = int(points.size());
    const double missing = std::numeric_limits<double>::quiet_NaN();
    std::map<std::pair<int, int>, HeadEvolution> heads;
    for (int k = 0; k < n; ++k)
        for (const auto& layer : points[size_t(k)].analysis.layers)
            for (const auto& h : layer.heads) {
                HeadEvolution& he = heads[{h.layer, h.head}];
                if (he.scores.empty()) {
                    he.layer = h.layer, he.head = h.head;
                    std::array<double, kEvolutionScores> none;
                    none.fill(missing);
                    he.scores.assign(size_t(n), none);
                    he.labels.assign(size_t(n), "");
                }
                he.scores[size_t(k)] = evolution_scores(h);
                he.labels[size_t(k)] = h.label;
            }
    for (auto& [key, he] : heads) {
        for (int k = 0; k < n; ++k) {
            const std::string& l = he.labels[size_t(k)];
            if (!l.empty() && std::none_of(he.first_point.begin(), he.first_point.end(), [&](const auto& s) { return s.first == l; }))
                he.first_point.emplace_back(l, k);
        }
        e.heads.push_back(he);
    }
    for (const auto& p : points)
        e.loss.push_back(p.analysis.loss_predictions > 0 ? p.analysis.loss : missing);

    // changes are compared per training step, so unevenly spaced checkpoints compare fairly
    auto steps = [&](int k) { return double(std::max<int64_t>(1, points[size_t(k)].step - points[size_t(k - 1)].step)); };
    // the formation: heads induction at the last point; the point from which they stay so
    for (const HeadEvolution& he : e.heads) {
        if (he.labels.back() != "induction") continue;
        int k = n - 1;
        while (k > 0 && he.labels[size_t(k - 1)] == "induction")
            --k;
        if (k == 0) continue; // induction from the first checkpoint: nothing formed in this window
        Formation f;
        f.layer = he.layer, f.head = he.head, f.point = k;
        f.score_before = he.scores[size_t(k - 1)][1], f.score_at = he.scores[size_t(k)][1];
        double best = -std::numeric_limits<double>::infinity();
        for (int j = 1; j < n; ++j) {
            const double rise = (he.scores[size_t(j)][1] - he.scores[size_t(j - 1)][1]) / steps(j);
            if (std::isfinite(rise) && rise > best) best = rise, f.steepest_rise = {j - 1, j};
        }
        const bool better = !e.formation || k < e.formation->point ||
                            (k == e.formation->point &&
                             f.score_at - f.score_before > e.formation->score_at - e.formation->score_before);
        if (better) e.formation = f;
    }
    double best_drop = 0;
    for (int k = 1; k < n; ++k) {
        const double drop = (e.loss[size_t(k - 1)] - e.loss[size_t(k)]) / steps(k);
        if (std::isfinite(drop) && drop > best_drop) best_drop = drop, e.loss_drop = Interval{k - 1, k};
    }
    if (e.formation && e.loss_drop)
        e.coincide = e.loss_drop->to == e.formation->point ||
                     (e.loss_drop->from == e.formation->steepest_rise.from);
    e.points = std::move(points);
    return e;
}

nlohmann::ordered_json evolution_json(const Evolution& e) {
    using ojson = nlohmann::ordered_json;
    auto number = [](double v) { return std::isfinite(v) ? ojson(v) : ojson(); };
    ojson j;
    j["schema"] = "attnscope.evolution/1";
    ojson pts = ojson::array();
    for (size_t k = 0; k < e.points.size(); ++k) {
        const EvolutionPoint& p = e.points[k];
        pts.push_back({{"label", p.label},
                       {"step", p.step},
                       {"dir", p.dir},
                       {"commit", p.commit.empty() ? ojson() : ojson(p.commit)},
                       {"loss", number(e.loss[k])}});
    }
    j["points"] = pts;
    if (!e.points.empty())
        j["texts"] = {{"n_sequences", e.points[0].analysis.n_sequences}, {"n_tokens", e.points[0].analysis.n_tokens}};
    ojson hs = ojson::array();
    for (const HeadEvolution& he : e.heads) {
        ojson scores;
        for (int m = 0; m < kEvolutionScores; ++m) {
            ojson series = ojson::array();
            for (const auto& s : he.scores)
                series.push_back(number(s[size_t(m)]));
            scores[kEvolutionScoreNames[m]] = series;
        }
        ojson first = ojson::object();
        for (const auto& [label, k] : he.first_point)
            first[label] = e.points[size_t(k)].step;
        hs.push_back({{"head", he.name()},
                      {"layer", he.layer},
                      {"index", he.head},
                      {"labels", he.labels},
                      {"first_step", first},
                      {"scores", scores}});
    }
    j["heads"] = hs;
    auto interval = [&](const Interval& i) {
        return ojson{{"from_step", e.points[size_t(i.from)].step}, {"to_step", e.points[size_t(i.to)].step}};
    };
    if (e.formation) {
        const Formation& f = *e.formation;
        j["formation"] = {{"head", cat("L", f.layer, "H", f.head)},
                          {"step", e.points[size_t(f.point)].step},
                          {"previous_step", e.points[size_t(f.point - 1)].step},
                          {"induction_before", f.score_before},
                          {"induction_at", f.score_at},
                          {"steepest_rise", interval(f.steepest_rise)}};
    } else {
        j["formation"] = nullptr;
    }
    j["loss_drop"] = e.loss_drop ? interval(*e.loss_drop) : ojson();
    j["coincide"] = e.coincide;
    return j;
}

std::string evolution_report(const Evolution& e) {
    auto num = [](double v, int digits) {
        if (!std::isfinite(v)) return std::string("-");
        char b[32];
        std::snprintf(b, sizeof b, "%.*f", digits, v);
        return std::string(b);
    };
    const AnalysisResult& a0 = e.points[0].analysis;
    std::string out = "attnscope training dynamics\n";
    out += cat("model: ", a0.model.empty() ? std::string("(unnamed)") : a0.model, " (", a0.config.model_type, ", ",
               a0.config.n_layer, " layers x ", a0.config.n_head, " heads); ", e.points.size(), " checkpoints; ",
               a0.n_sequences, " texts, ", a0.n_tokens, " tokens\n\n");
    out += "step        loss    induction heads (label)                 best induction score\n";
    for (size_t k = 0; k < e.points.size(); ++k) {
        std::string inductive;
        double best = -1;
        std::string best_head;
        for (const HeadEvolution& he : e.heads) {
            if (he.labels[k] == "induction") inductive += (inductive.empty() ? "" : " ") + he.name();
            if (std::isfinite(he.scores[k][1]) && he.scores[k][1] > best) best = he.scores[k][1], best_head = he.name();
        }
        char line[256];
        std::snprintf(line, sizeof line, "%-10lld  %-6s  %-39s %s %s\n", (long long)e.points[k].step,
                      num(e.loss[k], 3).c_str(), inductive.empty() ? "-" : inductive.c_str(), best_head.c_str(),
                      num(best, 3).c_str());
        out += line;
    }
    out += "\n";
    auto step = [&](int k) { return e.points[size_t(k)].step; };
    if (e.formation) {
        const Formation& f = *e.formation;
        out += cat("formation: L", f.layer, "H", f.head, " becomes an induction head at step ", step(f.point),
                   " (induction score ", num(f.score_before, 3), " at step ", step(f.point - 1), ", ",
                   num(f.score_at, 3), " at step ", step(f.point), "); its score rises fastest between steps ",
                   step(f.steepest_rise.from), " and ", step(f.steepest_rise.to), "\n");
    } else {
        out += "formation: no head becomes an induction head (and stays one) between the first and the last "
               "checkpoint\n";
    }
    if (e.loss_drop)
        out += cat("loss: falls fastest between steps ", step(e.loss_drop->from), " and ", step(e.loss_drop->to), " (",
                   num(e.loss[size_t(e.loss_drop->from)], 3), " -> ", num(e.loss[size_t(e.loss_drop->to)], 3),
                   " nats/token)", e.formation ? (e.coincide ? ": the same interval as the formation (a phase change, "
                                                               "Olsson et al. 2022)"
                                                             : ": not the formation's interval")
                                                : "",
                   "\n");
    else
        out += "loss: not measured (stats-only runs with --loss measure it; evolve --model does)\n";
    out += "\nlabels by head (the step each first holds):\n";
    for (const HeadEvolution& he : e.heads) {
        std::string firsts;
        for (const auto& [label, k] : he.first_point)
            firsts += cat(firsts.empty() ? "" : ", ", label, " ", step(k));
        out += cat("  ", he.name(), ": ", firsts.empty() ? "-" : firsts, "\n");
    }
    return out;
}

} // namespace attnscope
