// Row-wise attention metrics and TransformerLens-style detectors. Pure functions of patterns
// and token ids: no files, no model. Entropy uses the convention 0 ln 0 = 0. Every metric of a
// row follows from one vectorised pass over it (row_sums: the sums over keys j >= 1, key 0 kept
// apart), with ln from log_lane rather than libm, which was the whole cost of analysing a capture.
#include "analysis/head_metrics.h"

#include "analysis/fastmath.h"
#include "core/error.h"

#include <algorithm>
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

double RowSums::plogp() const {
    return (a0 > 0 ? a0 * std::log(a0) : 0.0) + plogp_rest;
}

RowSums row_sums(const float* a, int64_t i, int64_t n) {
    RowSums r;
    if (n < 1) return r;
    r.a0 = a[0];
    // 32-bit indices: the vectoriser widens them to double lanes (AVX2 has no int64 -> double)
    const int32_t ni = int32_t(n), ii = int32_t(i);
    double rest = 0, plogp = 0, mx = 0, dist = 0;
#pragma omp simd reduction(+ : rest, plogp, dist) reduction(max : mx)
    for (int32_t j = 1; j < ni; ++j) {
        const double p = a[j];
        rest += p;
        plogp += p > 0 ? p * log_lane(p) : 0.0;
        mx = p > mx ? p : mx;
        const double d = double(ii - j);
        dist += p * (d < 0 ? -d : d);
    }
    r.rest = rest, r.plogp_rest = plogp, r.max_rest = mx, r.dist_rest = dist;
    return r;
}

double plogp_sum(const double* a, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j)
        s += a[j] > 0 ? a[j] * log_lane(a[j]) : 0.0;
    return s;
}

double plogp_sum_of_sums(const float* p, const float* q, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j) {
        const double x = double(p[j]) + double(q[j]); // exact: two floats add exactly in double
        s += x > 0 ? x * log_lane(x) : 0.0;
    }
    return s;
}

double plogp_sum_of_sums_f32(const float* p, const float* q, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j) {
        const float x = p[j] + q[j];
        s += x > 0 ? double(x * log_lane_f(x)) : 0.0;
    }
    return s;
}

double plogp_sum_of_sums(const double* p, const double* q, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; ++j) {
        const double x = p[j] + q[j];
        s += x > 0 ? x * log_lane(x) : 0.0;
    }
    return s;
}

void HeadStats::add_row(const float* a, int64_t i, int64_t n) {
    add_row(row_sums(a, i, n), i, n, i < n ? a[i] : 0.0, i >= 1 && i - 1 < n ? a[i - 1] : 0.0);
}

void HeadStats::add_row(const RowSums& r, int64_t i, int64_t n, double a_self, double a_prev) {
    auto add = [&](Metric m, double v) {
        sum[size_t(m)] += v;
        count[size_t(m)] += 1;
    };
    // H = -sum_j a_j ln a_j; the distance of key 0 is i
    const double H = -r.plogp();
    add(entropy, H);
    if (n >= 2) add(entropy_normalized, H / std::log(double(n)));
    add(confidence, std::max(r.a0, r.max_rest));
    add(effective_span, std::exp(H));
    add(sparsity, 1.0 - std::exp(H) / double(n));
    add(mean_distance, r.dist_rest + r.a0 * double(i));
    add(sink_mass, r.a0);
    if (i < n) add(self_mass, a_self);
    if (i >= 1 && i - 1 < n) add(prev_token_mass, a_prev);

    // Without the first token: the rest of the row renormalised, b_j = a_j / R (R = sum_{j>=1} a_j),
    // so H' = -sum b ln b = ln R - (sum a ln a) / R, and the maximum and distance scale by 1/R.
    if (n >= 2 && r.rest > 0) {
        const double H1 = std::log(r.rest) - r.plogp_rest / r.rest;
        add(entropy_nofirst, H1);
        if (n >= 3) add(entropy_normalized_nofirst, H1 / std::log(double(n - 1)));
        add(confidence_nofirst, r.max_rest / r.rest);
        add(mean_distance_nofirst, r.dist_rest / r.rest);
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
