// Row-wise attention metrics and TransformerLens-style detectors. Pure functions of patterns
// and token ids: no files, no model. Entropy uses the convention 0 ln 0 = 0.
#include "analysis/head_metrics.h"

#include "core/error.h"

#include <cmath>

namespace attnscope {

const char* metric_name(HeadStats::Metric m) {
    static const char* names[] = {"entropy",
                                  "entropy_normalized",
                                  "confidence",
                                  "effective_span",
                                  "sparsity",
                                  "mean_distance",
                                  "sink_mass",
                                  "self_mass",
                                  "prev_token_mass",
                                  "entropy_nofirst",
                                  "entropy_normalized_nofirst",
                                  "confidence_nofirst",
                                  "mean_distance_nofirst"};
    return names[int(m)];
}

void HeadStats::add_row(const float* a, int64_t i, int64_t n) {
    auto add = [&](Metric m, double v) {
        sum[size_t(m)] += v;
        count[size_t(m)] += 1;
    };
    double H = 0, mx = 0, dist = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double p = a[j];
        if (p > 0) H -= p * std::log(p);
        mx = std::max(mx, p);
        dist += p * double(i > j ? i - j : j - i);
    }
    add(entropy, H);
    if (n >= 2) add(entropy_normalized, H / std::log(double(n)));
    add(confidence, mx);
    add(effective_span, std::exp(H));
    add(sparsity, 1.0 - std::exp(H) / double(n));
    add(mean_distance, dist);
    add(sink_mass, a[0]);
    if (i < n) add(self_mass, a[i]);
    if (i >= 1 && i - 1 < n) add(prev_token_mass, a[i - 1]);

    // Without the first token: renormalise the rest of the row (if any mass is left there).
    if (n >= 2) {
        double rest = 0;
        for (int64_t j = 1; j < n; ++j)
            rest += a[j];
        if (rest > 0) {
            double H1 = 0, mx1 = 0, dist1 = 0;
            for (int64_t j = 1; j < n; ++j) {
                const double p = a[j] / rest;
                if (p > 0) H1 -= p * std::log(p);
                mx1 = std::max(mx1, p);
                dist1 += p * double(i > j ? i - j : j - i);
            }
            add(entropy_nofirst, H1);
            if (n >= 3) add(entropy_normalized_nofirst, H1 / std::log(double(n - 1)));
            add(confidence_nofirst, mx1);
            add(mean_distance_nofirst, dist1);
        }
    }
}

void HeadStats::merge(const HeadStats& o) {
    for (size_t m = 0; m < size_t(n_metrics); ++m) {
        sum[m] += o.sum[m];
        count[m] += o.count[m];
    }
}

void accumulate_pattern(const TensorView& p, bool causal, std::vector<HeadStats>& stats) {
    if (p.n_dim != 3 || p.ne[1] != p.ne[2])
        throw Error(cat("attention pattern: expected shape [H, T, T], found ", shape_str(p.shape())));
    const int64_t H = p.ne[0], T = p.ne[1];
    if (int64_t(stats.size()) != H) stats.resize(size_t(H));
    std::vector<float> row(static_cast<size_t>(T));
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = causal ? 1 : 0; i < T; ++i) {
            const int64_t n = causal ? i + 1 : T;
            for (int64_t j = 0; j < n; ++j)
                row[size_t(j)] = p.at(h, i, j);
            stats[size_t(h)].add_row(row.data(), i, n);
        }
}

std::vector<DetectorScores> detector_scores(const TensorView& p, const std::vector<int32_t>& tok,
                                            const DetectorOptions& o) {
    if (p.n_dim != 3 || p.ne[1] != p.ne[2] || p.ne[1] != int64_t(tok.size()))
        throw Error(cat("detector: pattern ", shape_str(p.shape()), " does not match ", tok.size(), " tokens"));
    const int64_t H = p.ne[0], T = p.ne[1];
    std::vector<DetectorScores> out(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h) {
        double total = 0, prev = 0, dup = 0, ind = 0;
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j <= i; ++j) {
                if (o.exclude_bos && j == 0) continue;
                if (o.exclude_current_token && j == i) continue;
                const double a = p.at(h, i, j);
                total += a;
                if (j == i - 1) prev += a;
                if (j < i && tok[size_t(j)] == tok[size_t(i)]) dup += a;
                // TransformerLens: the duplicate template shifted one column right, then tril,
                // so j == i counts when the previous token equals the current one
                if (j >= 1 && tok[size_t(j - 1)] == tok[size_t(i)]) ind += a;
            }
        if (total > 0) out[size_t(h)] = {prev / total, dup / total, ind / total};
    }
    return out;
}

} // namespace attnscope
