// Per-head attention metrics (docs/design.md §6) as mergeable running sums, and the head detectors
// of TransformerLens (previous-token, duplicate-token, induction).
//
//   std::vector<HeadStats> stats(n_head);
//   accumulate_pattern(pattern, /*causal=*/true, stats);   // pattern: F32 [H, T, T], one sequence
//   ...more sequences, or shards: stats[h].merge(other[h])...
//   double h0 = stats[0].mean(HeadStats::entropy);
//
//   DetectorScores s = detector_scores(pattern, token_ids, {.exclude_bos = false});
//
// Rows are the valid query rows: for causal attention i >= 1 (row 0 is trivially one-hot on
// itself); each row counts once, whatever its sequence. Sums are kept in double, so merging
// shards gives the numbers of one big run up to rounding.
#pragma once

#include "core/tensor.h"

#include <array>
#include <cstdint>
#include <vector>

namespace attnscope {

// One query row's sums over the keys j >= 1 (key 0, the usual sink, is kept apart so that every
// metric with and without it follows from one pass): what HeadStats and the analysis need.
struct RowSums {
    double a0 = 0;         // a_i0
    double rest = 0;       // sum_{j>=1} a_ij
    double plogp_rest = 0; // sum_{j>=1} a_ij ln a_ij (0 ln 0 = 0)
    double max_rest = 0;   // max_{j>=1} a_ij
    double dist_rest = 0;  // sum_{j>=1} a_ij |i - j|
    double total() const { return a0 + rest; }
    double plogp() const;  // sum_j a_ij ln a_ij over the whole row
};
// Row i of a pattern: a[0..n) over keys 0..n-1. One vectorised pass (log_lane, fastmath.h).
RowSums row_sums(const float* a, int64_t i, int64_t n);
// sum_j a_j ln a_j of n values (0 ln 0 = 0), vectorised; and of s_j = p_j + q_j (Jensen–Shannon).
double plogp_sum(const double* a, int64_t n);
double plogp_sum_of_sums(const float* p, const float* q, int64_t n);
double plogp_sum_of_sums(const double* p, const double* q, int64_t n);
// The same in single precision (log_lane_f; sums in double): each cell within a few float ulp,
// about 4x the speed. For the JS matrix between two models' heads (compare).
double plogp_sum_of_sums_f32(const float* p, const float* q, int64_t n);

struct HeadStats {
    enum Metric {
        entropy,            // H_i = -sum_j a_ij ln a_ij
        entropy_normalized, // H_i / ln n_i (rows with n_i >= 2)
        confidence,         // max_j a_ij
        effective_span,     // exp(H_i)
        sparsity,           // 1 - exp(H_i) / n_i
        mean_distance,      // sum_j a_ij |i - j|
        sink_mass,          // a_i0
        self_mass,          // a_ii
        prev_token_mass,    // a_i,i-1
        // the same with the first token excluded (row renormalised over j >= 1; rows i >= 2)
        entropy_nofirst,
        entropy_normalized_nofirst,
        confidence_nofirst,
        mean_distance_nofirst,
        n_metrics
    };
    std::array<double, n_metrics> sum{};   // sum over rows
    std::array<double, n_metrics> count{}; // rows that define the metric

    void add_row(const float* row, int64_t i, int64_t n_keys);
    // The same from the row's sums (row_sums), with a[i] and a[i-1] (ignored when out of the row).
    void add_row(const RowSums& r, int64_t i, int64_t n_keys, double a_self, double a_prev);
    void merge(const HeadStats& other);
    double mean(Metric m) const { return count[size_t(m)] > 0 ? sum[size_t(m)] / count[size_t(m)] : 0.0; }
    double rows() const { return count[size_t(entropy)]; }
};

const char* metric_name(HeadStats::Metric m);

// Add every valid row of one sequence's pattern [H, T, T] to stats[h].
void accumulate_pattern(const TensorView& pattern, bool causal, std::vector<HeadStats>& stats);

struct DetectorOptions {
    bool exclude_bos = false;           // ignore attention to the first token
    bool exclude_current_token = false; // ignore attention to the token itself
};

// TransformerLens's detection scores for one head on one sequence: the share of the head's
// attention that falls on the template's cells, sum(a * template) / sum(a), after the optional
// exclusions. Templates: previous-token j = i-1; duplicate-token: j < i with tok[j] == tok[i];
// induction: 1 <= j <= i with tok[j-1] == tok[i] (the token after an earlier copy of the current one).
struct DetectorScores {
    double previous_token = 0, duplicate_token = 0, induction = 0;
};
std::vector<DetectorScores> detector_scores(const TensorView& pattern, const std::vector<int32_t>& tokens,
                                            const DetectorOptions& options = {});

} // namespace attnscope
