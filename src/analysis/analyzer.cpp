// The Analyzer: sums for every statistic of docs/design.md §6, fed one layer of one sequence at a
// time, and finish(), which turns the sums into means, labels and findings. Per-row quantities
// (metrics, detector templates, offsets, position profiles) live in HeadAccum so the forward pass
// can feed them row by row; quantities that compare heads or layers (Jensen–Shannon similarity,
// evolution, rollout) need a layer's whole pattern and are fed through add_pattern(). Hidden
// states add moments, a covariance (for the participation ratio) and within-sequence cosines.
#include "analysis/analyzer.h"

#include "analysis/fastmath.h"
#include "core/error.h"
#include "core/sha256.h"

#include <algorithm>
#include <cmath>
#include <omp.h>

namespace attnscope {

int position_bucket(int64_t i) {
    int b = 0;
    while (b + 1 < kPositionBuckets && (int64_t(1) << (b + 1)) <= i)
        ++b;
    return b;
}

std::string head_name(int layer, int head) {
    return cat("L", layer, "H", head);
}

// ---------------------------------------------------------------------------------------------
// HeadAccum

HeadAccum::HeadAccum(int max_offset)
    : offset_mass(static_cast<size_t>(max_offset + 2), 0.0), offset_rows(static_cast<size_t>(max_offset + 2), 0.0) {}

RowSums HeadAccum::add_row(const float* a, int64_t i, int64_t n, const int32_t* tok) {
    const RowSums r = row_sums(a, i, n);
    // Template cells and the far pool in one pass of vector selects over keys j >= 1 (key 0
    // below): duplicate j < i with tok[j] == tok[i]; induction 1 <= j <= i with tok[j-1] == tok[i];
    // far: j < i - max_offset.
    const int32_t ti = tok[i], ni = int32_t(n), ii = int32_t(i);
    const int64_t max_d = int64_t(offset_mass.size()) - 2;
    const int32_t far_end = int32_t(std::clamp<int64_t>(i - max_d, 0, n));
    double dup = 0, ind = 0, far = 0;
    int32_t n_dup = 0, n_ind = 0;
#pragma omp simd reduction(+ : dup, ind, far, n_dup, n_ind)
    for (int32_t j = 1; j < ni; ++j) {
        const double p = a[j];
        const bool is_dup = j < ii && tok[j] == ti, is_ind = j <= ii && tok[j - 1] == ti;
        dup += is_dup ? p : 0.0, n_dup += is_dup ? 1 : 0;
        ind += is_ind ? p : 0.0, n_ind += is_ind ? 1 : 0;
        far += j < far_end ? p : 0.0;
    }
    if (i > 0 && tok[0] == ti) dup += a[0], n_dup += 1;
    if (far_end > 0) far += a[0];

    // TransformerLens sums (every row, row 0 included, as TL's detect_head does)
    const double prev = i >= 1 && i - 1 < n ? double(a[i - 1]) : 0.0;
    seq_sums[0] += r.total(), seq_sums[1] += prev, seq_sums[2] += dup, seq_sums[3] += ind;
    if (i >= 1) template_sum[0] += prev, template_rows[0] += 1;
    if (n_dup > 0) template_sum[1] += dup, template_rows[1] += 1;
    if (n_ind > 0) template_sum[2] += ind, template_rows[2] += 1;
    if (i < 1) return r; // row 0 of a causal pattern is one-hot on itself: no information

    metrics.add_row(r, i, n, i < n ? double(a[i]) : 0.0, prev);
    const double H = -r.plogp();
    for (int64_t d = 0; d <= std::min(i, max_d); ++d)
        if (i - d < n) offset_mass[size_t(d)] += a[i - d], offset_rows[size_t(d)] += 1;
    if (i > max_d) offset_mass.back() += far, offset_rows.back() += 1;
    const int b = position_bucket(i);
    pos_entropy[size_t(b)] += H, pos_sink[size_t(b)] += a[0], pos_rows[size_t(b)] += 1;
    return r;
}

void HeadAccum::end_sequence() {
    if (seq_sums[0] > 0) {
        for (size_t k = 0; k < 3; ++k)
            score_sum[k] += seq_sums[k + 1] / seq_sums[0];
        score_sequences += 1;
    }
    seq_sums = {};
}

void HeadAccum::merge(const HeadAccum& o) {
    metrics.merge(o.metrics);
    for (size_t k = 0; k < 3; ++k) {
        score_sum[k] += o.score_sum[k];
        template_sum[k] += o.template_sum[k];
        template_rows[k] += o.template_rows[k];
    }
    score_sequences += o.score_sequences;
    if (offset_mass.size() != o.offset_mass.size())
        throw Error("analysis: merging accumulators with different max_offset");
    for (size_t d = 0; d < offset_mass.size(); ++d)
        offset_mass[d] += o.offset_mass[d], offset_rows[d] += o.offset_rows[d];
    for (size_t b = 0; b < size_t(kPositionBuckets); ++b)
        pos_entropy[b] += o.pos_entropy[b], pos_sink[b] += o.pos_sink[b], pos_rows[b] += o.pos_rows[b];
}

// ---------------------------------------------------------------------------------------------
// Hidden states

// c[i, j] += sum over t of x[t, i] x[t, j] for i <= j < D (the upper triangle of X^T X, row-major,
// X [T, D]); the lower triangle is not touched. Each element accumulates its T products in order
// t = 0, 1, ..., one multiply-add at a time, so the result depends neither on the vector width
// nor on the blocking or the threads. X is first packed into panels of 8 columns ([D/8][T][8],
// zero-padded) so that a 4 x 8 block of c is a pass over two contiguous panels with its 32 sums in
// eight 4-double vectors (one element per lane, so the order stays per element). The sums wait in
// c between chunks of T, exactly; the threads take column panels.
namespace {
// Four doubles as one vector (GCC's vector extension: one AVX register, or two SSE ones), and the
// same for loads from addresses only 8-byte aligned.
using Vec4 = double __attribute__((vector_size(32)));
using Vec4u = double __attribute__((vector_size(32), aligned(8)));
} // namespace

void gram_upper_add(const double* x, int64_t T, int64_t D, double* c) {
    constexpr int64_t kW = 8, kH = 4, kChunk = 128, kGroup = 8;
    const int64_t n_panel = (D + kW - 1) / kW;
    std::vector<double> packed(size_t(n_panel * T * kW), 0.0); // [n_panel][T][kW]
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int64_t p = 0; p < n_panel; ++p)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t b = 0; b < kW && p * kW + b < D; ++b)
                packed[size_t((p * T + t) * kW + b)] = x[t * D + p * kW + b];
    // Blocks of kChunk rows of X and kGroup panels of rows of c: the group's packed rows stay in L2
    // while every panel of columns to its right passes them (each from L1): each chunk of X is
    // swept about n_panel / kGroup times rather than n_panel / 2.
    for (int64_t t0 = 0; t0 < T; t0 += kChunk) {
        const int64_t t1 = std::min(T, t0 + kChunk);
        for (int64_t g0 = 0; g0 < n_panel; g0 += kGroup) {
            const int64_t g1 = std::min(n_panel, g0 + kGroup);
#pragma omp parallel for schedule(dynamic, 2) if (!omp_in_parallel())
            for (int64_t pj = g0; pj < n_panel; ++pj) {
                const double* bj = packed.data() + pj * T * kW;
                for (int64_t i0 = g0 * kW; i0 < std::min({D, g1 * kW, (pj + 1) * kW}); i0 += kH) {
                    const double* ai = packed.data() + (i0 / kW) * T * kW + i0 % kW; // rows i0..i0+3, kW apart
                    // acc[a][h] lane l: c[i0 + a, pj * kW + 4 h + l], two 4-double vectors per row
                    Vec4 acc[kH][2];
                    // inside the triangle and the matrix (all but the diagonal and edge blocks):
                    // whole vectors in and out of c
                    const bool inner = i0 + kH - 1 <= pj * kW && (pj + 1) * kW <= D;
                    for (int64_t a = 0; a < kH; ++a)
                        if (inner) {
                            acc[a][0] = *reinterpret_cast<const Vec4u*>(c + (i0 + a) * D + pj * kW);
                            acc[a][1] = *reinterpret_cast<const Vec4u*>(c + (i0 + a) * D + pj * kW + 4);
                        } else {
                            for (int64_t b = 0; b < kW; ++b) {
                                const int64_t i = i0 + a, j = pj * kW + b;
                                acc[a][b / 4][b % 4] = i <= j && j < D && i < D ? c[i * D + j] : 0.0;
                            }
                        }
                    for (int64_t t = t0; t < t1; ++t) {
                        const Vec4 b0 = *reinterpret_cast<const Vec4u*>(bj + t * kW);
                        const Vec4 b1 = *reinterpret_cast<const Vec4u*>(bj + t * kW + 4);
                        for (int64_t a = 0; a < kH; ++a) {
                            const double xa = ai[t * kW + a];
                            acc[a][0] += xa * b0;
                            acc[a][1] += xa * b1;
                        }
                    }
                    for (int64_t a = 0; a < kH; ++a)
                        if (inner) {
                            *reinterpret_cast<Vec4u*>(c + (i0 + a) * D + pj * kW) = acc[a][0];
                            *reinterpret_cast<Vec4u*>(c + (i0 + a) * D + pj * kW + 4) = acc[a][1];
                        } else {
                            for (int64_t b = 0; b < kW; ++b) {
                                const int64_t i = i0 + a, j = pj * kW + b;
                                if (i <= j && j < D && i < D) c[i * D + j] = acc[a][b / 4][b % 4];
                            }
                        }
                }
            }
        }
    }
}

void HiddenAccum::add(const float* x, int64_t T, int64_t D) {
    if (dim == 0) {
        dim = D;
        sum_vec.assign(size_t(D), 0.0);
        if (track_covariance) sum_outer.assign(size_t(D * D), 0.0);
    }
    if (D != dim) throw Error(cat("analysis: hidden width ", D, " differs from the ", dim, " seen before"));
    if (sealed) throw Error("analysis: hidden-state statistics of this layer are already sealed");
    std::vector<double> xd(size_t(T * D));
    std::vector<double> unit_sum(size_t(D), 0.0);
    double unit_count = 0;
    for (int64_t t = 0; t < T; ++t) {
        double norm2 = 0;
        for (int64_t d = 0; d < D; ++d) {
            const double v = x[t * D + d];
            xd[size_t(t * D + d)] = v;
            sum += v, sum_sq += v * v, norm2 += v * v;
            sum_vec[size_t(d)] += v;
        }
        if (norm2 > 0) {
            const double inv = 1.0 / std::sqrt(norm2);
            for (int64_t d = 0; d < D; ++d)
                unit_sum[size_t(d)] += xd[size_t(t * D + d)] * inv;
            unit_count += 1;
        }
    }
    count += double(T * D);
    tokens += double(T);
    // sum over pairs s != t of cos(x_s, x_t) = ||sum_t u_t||^2 - (number of unit vectors)
    if (unit_count >= 2) {
        double s2 = 0;
        for (double v : unit_sum)
            s2 += v * v;
        cos_sum += s2 - unit_count;
        cos_pairs += unit_count * (unit_count - 1);
    }
    // sum_outer (upper triangle, row-major) += X^T X
    if (track_covariance) gram_upper_add(xd.data(), T, D, sum_outer.data());
}

void HiddenAccum::merge(const HiddenAccum& o) {
    if (o.dim == 0) return;
    if (dim == 0) {
        *this = o;
        return;
    }
    if (o.dim != dim) throw Error(cat("analysis: merging hidden states of width ", o.dim, " into ", dim));
    if (sealed || o.sealed) throw Error("analysis: sealed hidden-state statistics cannot be merged");
    count += o.count, sum += o.sum, sum_sq += o.sum_sq, tokens += o.tokens;
    cos_sum += o.cos_sum, cos_pairs += o.cos_pairs;
    for (size_t k = 0; k < sum_vec.size(); ++k)
        sum_vec[k] += o.sum_vec[k];
    if (sum_outer.size() != o.sum_outer.size())
        throw Error("analysis: merging hidden states with and without covariance");
    for (size_t k = 0; k < sum_outer.size(); ++k)
        sum_outer[k] += o.sum_outer[k];
}

double HiddenAccum::std() const {
    if (count <= 0) return 0;
    const double m = sum / count;
    return std::sqrt(std::max(0.0, sum_sq / count - m * m));
}

void HiddenAccum::seal() {
    if (sealed) return;
    sealed_effective_dim = effective_dim();
    sealed = true;
    std::vector<double>().swap(sum_outer);
}

double HiddenAccum::effective_dim() const {
    if (sealed) return sealed_effective_dim;
    if (!track_covariance) return -1;
    if (tokens < 2 || dim == 0) return 0;
    // C = E[x x^T] - mu mu^T; participation ratio = (tr C)^2 / tr(C^2) = (sum lambda)^2 / sum lambda^2
    double tr = 0, tr2 = 0;
    for (int64_t a = 0; a < dim; ++a)
        for (int64_t b = a; b < dim; ++b) {
            const double mu_a = sum_vec[size_t(a)] / tokens, mu_b = sum_vec[size_t(b)] / tokens;
            const double c = sum_outer[size_t(a * dim + b)] / tokens - mu_a * mu_b;
            if (a == b)
                tr += c, tr2 += c * c;
            else
                tr2 += 2 * c * c;
        }
    return tr2 > 0 ? tr * tr / tr2 : 0;
}

void FlowAccum::merge(const FlowAccum& o) {
    n += o.n, sx += o.sx, sy += o.sy, sxx += o.sxx, syy += o.syy, sxy += o.sxy;
    ratio_sum += o.ratio_sum, ratio_tokens += o.ratio_tokens;
    resid_ratio_sum += o.resid_ratio_sum, resid_tokens += o.resid_tokens;
}

// ---------------------------------------------------------------------------------------------
// Jensen–Shannon

// JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2, 0 ln 0 = 0. With s = p + q,
// p ln(p/m) + q ln(q/m) = p ln p + q ln q - s ln s + s ln 2, so JS needs one logarithm per cell
// beyond the rows' own sums of a ln a, which the entropy has already paid for.
double js_from_sums(double plogp_p, double plogp_q, double slogs, double total_p, double total_q) {
    constexpr double ln2 = 0.69314718055994530942;
    return std::max(0.0, 0.5 * (plogp_p + plogp_q - slogs + ln2 * (total_p + total_q)));
}

double js_divergence(const float* p, const float* q, int64_t n) {
    const RowSums a = row_sums(p, 0, n), b = row_sums(q, 0, n);
    return js_from_sums(a.plogp(), b.plogp(), plogp_sum_of_sums(p, q, n), a.total(), b.total());
}

double js_divergence(const double* p, const double* q, int64_t n) {
    double tp = 0, tq = 0;
    for (int64_t j = 0; j < n; ++j)
        tp += p[j], tq += q[j];
    return js_from_sums(plogp_sum(p, n), plogp_sum(q, n), plogp_sum_of_sums(p, q, n), tp, tq);
}

// ---------------------------------------------------------------------------------------------
// Analyzer

Analyzer::Analyzer(const ModelConfig& cfg, AnalysisOptions options) : cfg_(cfg), opt_(options) {
    if (opt_.max_offset < 1 || opt_.max_offset > 4096)
        throw Error(cat("analysis: max_offset ", opt_.max_offset, " out of 1..4096"));
    layers_.resize(size_t(cfg.n_layer));
    // head accumulators are made when a layer is first seen (mark_layer): a capture that names a
    // huge model but holds little costs little
    for (auto& L : layers_) {
        L.input.track_covariance = L.output.track_covariance = L.resid.track_covariance = opt_.covariance;
    }
}

void Analyzer::begin_sequence(const std::vector<int32_t>& tokens, const std::vector<std::string>& strings) {
    tokens_ = tokens;
    token_strings_ = strings;
    last_layer_ = -1;
    prev_mean_.clear();
    rollout_.clear();
    rollout_ok_ = true;
}

void Analyzer::mark_layer(int il, const std::vector<int>& heads) {
    if (il < 0 || il >= cfg_.n_layer) throw Error(cat("analysis: layer ", il, " out of range 0..", cfg_.n_layer - 1));
    Layer& L = layers_[size_t(il)];
    std::vector<int> hs = heads;
    if (hs.empty())
        for (int h = 0; h < cfg_.n_head; ++h)
            hs.push_back(h);
    for (int h : hs)
        if (h < 0 || h >= cfg_.n_head) throw Error(cat("analysis: head ", h, " out of range 0..", cfg_.n_head - 1));
    if (L.seen && L.heads != hs)
        throw Error(cat("analysis: layer ", il, " was given different heads in different sequences"),
                    "analyse captures made with the same --heads");
    if (!L.seen) {
        L.seen = true;
        L.heads = hs;
        L.acc.assign(size_t(cfg_.n_head), HeadAccum(opt_.max_offset));
        L.js_sum.assign(hs.size() * hs.size(), 0.0);
    }
}

HeadAccum& Analyzer::head(int il, int h) {
    if (il < 0 || il >= cfg_.n_layer || h < 0 || h >= cfg_.n_head)
        throw Error(cat("analysis: no head L", il, "H", h, " in a model of ", cfg_.n_layer, " x ", cfg_.n_head));
    if (!layers_[size_t(il)].seen) mark_layer(il, {});
    return layers_[size_t(il)].acc[size_t(h)];
}

void Analyzer::add_pattern(int il, const TensorView& p, const std::vector<int>& heads) {
    mark_layer(il, heads);
    Layer& L = layers_[size_t(il)];
    const int64_t Hc = int64_t(L.heads.size()), T = int64_t(tokens_.size());
    if (p.n_dim != 3 || p.ne[0] != Hc || p.ne[1] != T || p.ne[2] != T)
        throw Error(cat("analysis: layer ", il, " pattern has shape ", shape_str(p.shape()), ", expected [", Hc, ", ",
                        T, ", ", T, "]"));
    // rows as contiguous float pointers (copy if strided)
    std::vector<float> copy;
    const float* base = p.data;
    if (!(p.stride[2] == 1 && p.stride[1] == T && p.stride[0] == T * T)) {
        copy.resize(size_t(Hc * T * T));
        for (int64_t h = 0; h < Hc; ++h)
            for (int64_t i = 0; i < T; ++i)
                for (int64_t j = 0; j < T; ++j)
                    copy[size_t((h * T + i) * T + j)] = p.at(h, i, j);
        base = copy.data();
    }
    auto row = [&](int64_t h, int64_t i) { return base + (h * T + i) * T; };
    // Every parallel loop below gives each output to one thread, which sums in a fixed order, and
    // partial sums are added in the order of their fixed blocks: the numbers do not depend on the
    // number of threads.

    // Each head's rows, threads across heads; the rows' sums of a ln a and of a are kept for the
    // similarity below.
    std::vector<double> plogp(size_t(Hc * T)), total(size_t(Hc * T));
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = 0; h < Hc; ++h) {
        HeadAccum& acc = L.acc[size_t(L.heads[size_t(h)])];
        for (int64_t i = 0; i < T; ++i) {
            const RowSums r = acc.add_row(row(h, i), i, i + 1, tokens_.data());
            plogp[size_t(h * T + i)] = r.plogp(), total[size_t(h * T + i)] = r.total();
        }
        acc.end_sequence();
    }

    // Head similarity: JS between every pair of heads on every row i >= 1, in blocks of rows
    // (a row of every head stays in cache while all pairs use it), the longest rows first.
    const int64_t n_pairs = Hc * (Hc - 1) / 2;
    constexpr int64_t kRows = 16;
    const int64_t n_blocks = (T - 1 + kRows - 1) / kRows;
    std::vector<double> block_js(size_t(n_blocks * n_pairs), 0.0);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < n_blocks; ++k) {
        const int64_t b = n_blocks - 1 - k;
        double* out = block_js.data() + b * n_pairs; // (no pairs: one head)
        for (int64_t i = 1 + b * kRows; i < std::min(T, 1 + (b + 1) * kRows); ++i) {
            int64_t pair = 0;
            for (int64_t ha = 0; ha < Hc; ++ha)
                for (int64_t hb = ha + 1; hb < Hc; ++hb, ++pair) {
                    const size_t ra = size_t(ha * T + i), rb = size_t(hb * T + i);
                    out[pair] += js_from_sums(plogp[ra], plogp[rb], plogp_sum_of_sums(row(ha, i), row(hb, i), i + 1),
                                              total[ra], total[rb]);
                }
        }
    }
    for (int64_t b = 0, pair = 0; b < n_blocks; ++b, pair = 0)
        for (int64_t ha = 0; ha < Hc; ++ha)
            for (int64_t hb = ha + 1; hb < Hc; ++hb, ++pair) {
                L.js_sum[size_t(ha * Hc + hb)] += block_js[size_t(b * n_pairs + pair)];
                L.js_sum[size_t(hb * Hc + ha)] += block_js[size_t(b * n_pairs + pair)];
            }
    L.js_rows += double(std::max<int64_t>(0, T - 1));

    // the layer's mean pattern over its heads: evolution through depth and rollout
    std::vector<double> mean(size_t(T * T), 0.0);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < T; ++i)
        for (int64_t h = 0; h < Hc; ++h)
            for (int64_t j = 0; j <= i; ++j)
                mean[size_t(i * T + j)] += double(row(h, i)[j]) / double(Hc);
    std::vector<double> per_row(size_t(T), 0.0); // one value per row, summed in order afterwards
    if (last_layer_ == il - 1 && !prev_mean_.empty()) {
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t i = 1; i < T; ++i)
            per_row[size_t(i)] = js_divergence(&mean[size_t(i * T)], &prev_mean_[size_t(i * T)], i + 1);
        for (int64_t i = 1; i < T; ++i)
            L.evo_js_sum += per_row[size_t(i)];
        L.evo_rows += double(T - 1);
    }

    // Rollout (Abnar & Zuidema 2020): A' = 0.5 mean_h A + 0.5 I, rows renormalised;
    // R_0 = A'_0, R_l = A'_l R_{l-1}. Needs every head of consecutive layers from 0.
    const bool all_heads = Hc == cfg_.n_head;
    if (rollout_ok_ && all_heads && il == last_layer_ + 1) {
        std::vector<double> A(size_t(T * T), 0.0);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < T; ++i) {
            double s = 0;
            for (int64_t j = 0; j <= i; ++j)
                s += (A[size_t(i * T + j)] = 0.5 * mean[size_t(i * T + j)] + (i == j ? 0.5 : 0.0));
            for (int64_t j = 0; j <= i; ++j)
                A[size_t(i * T + j)] /= s;
        }
        if (il == 0) {
            rollout_ = std::move(A);
        } else {
            // both lower triangular: (A R)_ij = sum_{k=j..i} A_ik R_kj; rows of the product are
            // independent, the longest last in i, so threads take rows in dynamic turns
            std::vector<double> R(size_t(T * T), 0.0);
#pragma omp parallel for schedule(dynamic, 8)
            for (int64_t i = 0; i < T; ++i)
                for (int64_t k = 0; k <= i; ++k) {
                    const double aik = A[size_t(i * T + k)];
                    if (aik == 0) continue;
                    const double* rk = &rollout_[size_t(k * T)];
                    double* ri = &R[size_t(i * T)];
                    for (int64_t j = 0; j <= k; ++j)
                        ri[j] += aik * rk[j];
                }
            rollout_ = std::move(R);
        }
        for (int64_t i = 1; i < T; ++i) {
            L.rollout_sink_sum += rollout_[size_t(i * T)];
            double d = 0;
            for (int64_t j = 0; j <= i; ++j)
                d += rollout_[size_t(i * T + j)] * double(i - j);
            L.rollout_dist_sum += d;
        }
        L.rollout_rows += double(T - 1);
    } else {
        rollout_ok_ = false;
        rollout_broken_ = true;
    }
    prev_mean_ = std::move(mean);
    last_layer_ = il;
}

void Analyzer::end_sequence() {
    const int64_t T = int64_t(tokens_.size());
    if (rollout_ok_ && last_layer_ == cfg_.n_layer - 1 && T > 0 && int(rollout_rows_.size()) < opt_.rollout_sequences) {
        RolloutRow r;
        r.sequence = int(n_sequences_);
        r.tokens = token_strings_;
        r.last_row.assign(rollout_.begin() + (T - 1) * T, rollout_.begin() + T * T);
        rollout_rows_.push_back(std::move(r));
    } else if (last_layer_ != cfg_.n_layer - 1) {
        rollout_broken_ = true;
    }
    count_sequence(T);
    tokens_.clear();
    prev_mean_.clear();
    rollout_.clear();
}

void Analyzer::add_hidden(int il, const TensorView& in, const TensorView& out, const TensorView& resid) {
    if (il < 0 || il >= cfg_.n_layer) throw Error(cat("analysis: layer ", il, " out of range 0..", cfg_.n_layer - 1));
    Layer& L = layers_[size_t(il)];
    auto check = [&](const TensorView& v, const char* what) {
        if (!v.data) return false;
        if (v.n_dim != 2 || v.ne[1] != cfg_.n_embd || v.stride[1] != 1 || v.stride[0] != v.ne[1])
            throw Error(cat("analysis: layer ", il, " ", what, " has shape ", shape_str(v.shape()), ", expected [T, ",
                            cfg_.n_embd, "] (contiguous)"));
        return true;
    };
    const bool hi = check(in, "input"), ho = check(out, "output"), hr = check(resid, "resid_pre");
    if (hi) L.input.add(in.data, in.ne[0], in.ne[1]);
    if (ho) L.output.add(out.data, out.ne[0], out.ne[1]);
    if (hr) L.resid.add(resid.data, resid.ne[0], resid.ne[1]);
    const int64_t D = cfg_.n_embd;
    auto norm = [D](const float* v) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d)
            s += double(v[d]) * v[d];
        return std::sqrt(s);
    };
    if (hi && ho) {
        if (in.ne[0] != out.ne[0])
            throw Error(cat("analysis: layer ", il, " input has ", in.ne[0], " tokens but output ", out.ne[0]));
        FlowAccum& f = L.flow;
        for (int64_t t = 0; t < in.ne[0]; ++t) {
            const float* x = in.data + t * D;
            const float* y = out.data + t * D;
            for (int64_t d = 0; d < D; ++d) {
                f.sx += x[d], f.sy += y[d], f.sxx += double(x[d]) * x[d], f.syy += double(y[d]) * y[d];
                f.sxy += double(x[d]) * y[d];
            }
            f.n += double(D);
            const double nx = norm(x);
            if (nx > 0) f.ratio_sum += norm(y) / nx, f.ratio_tokens += 1;
        }
    }
    if (ho && hr) {
        if (resid.ne[0] != out.ne[0])
            throw Error(cat("analysis: layer ", il, " resid_pre has ", resid.ne[0], " tokens but output ", out.ne[0]));
        for (int64_t t = 0; t < out.ne[0]; ++t) {
            const double nr = norm(resid.data + t * D);
            if (nr > 0) L.flow.resid_ratio_sum += norm(out.data + t * D) / nr, L.flow.resid_tokens += 1;
        }
    }
}

void Analyzer::seal_hidden(int il) {
    Layer& L = layers_.at(size_t(il));
    L.input.seal(), L.output.seal(), L.resid.seal();
}

void Analyzer::merge(const Analyzer& o) {
    if (o.cfg_.n_layer != cfg_.n_layer || o.cfg_.n_head != cfg_.n_head || o.cfg_.n_embd != cfg_.n_embd)
        throw Error("analysis: cannot merge analyses of different models");
    for (size_t il = 0; il < layers_.size(); ++il) {
        Layer& L = layers_[il];
        const Layer& M = o.layers_[il];
        if (M.seen) {
            mark_layer(int(il), M.heads);
            for (int h : M.heads)
                L.acc[size_t(h)].merge(M.acc[size_t(h)]);
            for (size_t k = 0; k < L.js_sum.size(); ++k)
                L.js_sum[k] += M.js_sum[k];
            L.js_rows += M.js_rows;
            L.evo_js_sum += M.evo_js_sum, L.evo_rows += M.evo_rows;
            L.rollout_sink_sum += M.rollout_sink_sum, L.rollout_dist_sum += M.rollout_dist_sum;
            L.rollout_rows += M.rollout_rows;
        }
        L.input.merge(M.input);
        L.output.merge(M.output);
        L.resid.merge(M.resid);
        L.flow.merge(M.flow);
    }
    for (const auto& r : o.rollout_rows_)
        if (int(rollout_rows_.size()) < opt_.rollout_sequences) {
            rollout_rows_.push_back(r);
            rollout_rows_.back().sequence += int(n_sequences_);
        }
    rollout_broken_ = rollout_broken_ || o.rollout_broken_;
    rows_only_ = rows_only_ || o.rows_only_;
    n_sequences_ += o.n_sequences_;
    n_tokens_ += o.n_tokens_;
    loss_fixed_ += o.loss_fixed_;
    loss_predictions_ += o.loss_predictions_;
}

void Analyzer::add_prediction_loss(double nats) {
    if (!(nats >= 0 && nats < 1e6))
        throw Error(cat("analysis: a prediction's loss of ", nats, " nats is not a cross-entropy"),
                    "the logits hold a non-finite value: is the checkpoint damaged?");
    loss_fixed_ += __int128(std::llround(std::ldexp(nats, 32)));
    loss_predictions_ += 1;
}

static HiddenResult hidden_result(const HiddenAccum& h) {
    HiddenResult r;
    if (h.tokens <= 0) return r;
    r.present = true;
    r.mean = h.mean();
    r.std = h.std();
    r.effective_dim = h.effective_dim();
    r.mean_cosine = h.mean_cosine();
    r.tokens = h.tokens;
    return r;
}

AnalysisResult Analyzer::finish() const {
    AnalysisResult r;
    r.config = cfg_;
    r.model = model_;
    r.options = opt_;
    r.n_sequences = n_sequences_;
    r.n_tokens = n_tokens_;
    if (loss_predictions_ > 0) {
        r.loss = std::ldexp(double(loss_fixed_), -32) / double(loss_predictions_);
        r.loss_predictions = loss_predictions_;
    }
    bool any_rollout = false;
    for (size_t il = 0; il < layers_.size(); ++il) {
        const Layer& L = layers_[il];
        LayerResult lr;
        lr.layer = int(il);
        if (L.seen) {
            const size_t Hc = L.heads.size();
            for (int h : L.heads) {
                const HeadAccum& a = L.acc[size_t(h)];
                HeadResult hr;
                hr.layer = int(il), hr.head = h;
                hr.rows = a.metrics.rows();
                for (size_t m = 0; m < size_t(HeadStats::n_metrics); ++m)
                    hr.metrics[m] = a.metrics.mean(HeadStats::Metric(m));
                const double ns = a.score_sequences;
                if (ns > 0) hr.scores = {a.score_sum[0] / ns, a.score_sum[1] / ns, a.score_sum[2] / ns};
                auto tmean = [&](size_t k) {
                    return a.template_rows[k] > 0 ? a.template_sum[k] / a.template_rows[k] : 0.0;
                };
                hr.template_scores = {tmean(0), tmean(1), tmean(2)};
                hr.template_rows = a.template_rows;
                for (size_t d = 0; d < a.offset_mass.size(); ++d)
                    hr.offset_profile.push_back(a.offset_rows[d] > 0 ? a.offset_mass[d] / a.offset_rows[d] : 0.0);
                for (size_t b = 0; b < size_t(kPositionBuckets); ++b) {
                    hr.rows_by_position[b] = a.pos_rows[b];
                    if (a.pos_rows[b] > 0) {
                        hr.entropy_by_position[b] = a.pos_entropy[b] / a.pos_rows[b];
                        hr.sink_by_position[b] = a.pos_sink[b] / a.pos_rows[b];
                    }
                }
                lr.entropy += hr.metric(HeadStats::entropy) / double(Hc);
                lr.entropy_normalized += hr.metric(HeadStats::entropy_normalized) / double(Hc);
                lr.mean_distance += hr.metric(HeadStats::mean_distance) / double(Hc);
                lr.sink_mass += hr.metric(HeadStats::sink_mass) / double(Hc);
                lr.heads.push_back(std::move(hr));
            }
            if (L.js_rows > 0) {
                lr.js.assign(Hc * Hc, 0.0);
                double pairs = 0, total = 0;
                for (size_t a = 0; a < Hc; ++a)
                    for (size_t b = 0; b < Hc; ++b) {
                        lr.js[a * Hc + b] = L.js_sum[a * Hc + b] / L.js_rows;
                        if (a < b) {
                            total += lr.js[a * Hc + b], pairs += 1;
                            if (lr.js[a * Hc + b] < opt_.redundant_js)
                                r.redundant.push_back({int(il), L.heads[a], L.heads[b], lr.js[a * Hc + b]});
                        }
                    }
                lr.diversity = pairs > 0 ? total / pairs : 0;
            }
            if (L.evo_rows > 0) lr.js_from_previous = L.evo_js_sum / L.evo_rows;
            if (L.rollout_rows > 0) {
                lr.rollout_sink = L.rollout_sink_sum / L.rollout_rows;
                lr.rollout_distance = L.rollout_dist_sum / L.rollout_rows;
                any_rollout = true;
            }
        }
        lr.input = hidden_result(L.input);
        lr.output = hidden_result(L.output);
        lr.resid_pre = hidden_result(L.resid);
        const FlowAccum& f = L.flow;
        if (f.n > 0) {
            lr.has_flow = true;
            lr.transform_magnitude = f.ratio_tokens > 0 ? f.ratio_sum / f.ratio_tokens : 0;
            const double cov = f.sxy / f.n - (f.sx / f.n) * (f.sy / f.n);
            const double vx = f.sxx / f.n - (f.sx / f.n) * (f.sx / f.n);
            const double vy = f.syy / f.n - (f.sy / f.n) * (f.sy / f.n);
            lr.io_correlation = (vx > 0 && vy > 0) ? cov / std::sqrt(vx * vy) : 0;
        }
        if (f.resid_tokens > 0) lr.resid_update = f.resid_ratio_sum / f.resid_tokens;
        r.layers.push_back(std::move(lr));
    }
    r.rollout_complete = any_rollout && !rollout_broken_;
    if (r.rollout_complete) r.rollout = rollout_rows_;
    if (rows_only_) { // what one part fed by whole patterns holds for its texts alone is left out
        r.redundant.clear();
        r.rollout_complete = false, r.rollout.clear();
        for (LayerResult& lr : r.layers) {
            lr.js.clear(), lr.diversity = 0, lr.js_from_previous = -1;
            lr.rollout_sink = lr.rollout_distance = -1;
        }
    }
    label_heads(r);
    find_collapse_and_recommend(r);
    if (rows_only_) {
        r.stats_only = true;
        std::erase_if(r.notes, [](const std::string& n) { return n.rfind("attention rollout needs", 0) == 0; });
        r.notes.push_back("computed during the forward pass (--stats-only): head similarity, evolution between "
                          "layers and rollout need whole patterns and are not computed");
    }
    if (!opt_.covariance)
        r.notes.push_back("effective dimensionality not tracked: its covariances take 3 x layers x width^2 numbers "
                          "(run --stats-only --covariance keeps them)");
    return r;
}

std::string Analyzer::tracking_difference(const Analyzer& o) const {
    if (o.cfg_.n_layer != cfg_.n_layer || o.cfg_.n_head != cfg_.n_head || o.cfg_.n_embd != cfg_.n_embd)
        return cat("a model of ", o.cfg_.n_layer, " x ", o.cfg_.n_head, " x ", o.cfg_.n_embd, " against ", cfg_.n_layer,
                   " x ", cfg_.n_head, " x ", cfg_.n_embd);
    if (o.opt_.max_offset != opt_.max_offset)
        return cat("offsets tracked to ", o.opt_.max_offset, " against ", opt_.max_offset);
    if (o.opt_.covariance != opt_.covariance)
        return o.opt_.covariance ? "covariances kept against none" : "no covariances against kept ones";
    for (size_t il = 0; il < layers_.size(); ++il) {
        const Layer &a = layers_[il], &b = o.layers_[il];
        if (a.seen != b.seen || (a.seen && a.heads != b.heads))
            return cat("layer ", il, ": attention of ", b.seen ? cat(b.heads.size(), " heads") : std::string("no head"),
                       " against ", a.seen ? cat(a.heads.size(), " heads") : std::string("no head"));
        const std::pair<const HiddenAccum*, const HiddenAccum*> hidden[] = {
            {&a.input, &b.input}, {&a.output, &b.output}, {&a.resid, &b.resid}};
        const char* names[] = {"attention input (ln1.hook_normalized)", "attention output (hook_attn_out)",
                               "residual stream (hook_resid_pre)"};
        for (size_t k = 0; k < 3; ++k)
            if ((hidden[k].first->dim > 0) != (hidden[k].second->dim > 0))
                return cat("layer ", il, ": ", names[k], hidden[k].second->dim > 0 ? " present" : " missing",
                           " against", hidden[k].first->dim > 0 ? " present" : " missing");
    }
    return "";
}

// ---------------------------------------------------------------------------------------------
// From capture directories

namespace {

// A hook's tensor of a sequence, checked to exist and to have the expected shape.
CaptureReader::View view_checked(const CaptureReader& r, int64_t s, Hook kind, const std::string& hook,
                                 const std::vector<int64_t>& shape, std::vector<float>& storage) {
    const std::string tensor = ActivationCache::key(hook, int(s));
    if (!r.has(s, hook))
        throw Error(cat(r.dir(), "/", capture_file_for(kind), ": tensor '", tensor, "' is missing (sequence 0 has '",
                        hook, "')"),
                    "the capture is incomplete or was edited; re-run attnscope run");
    CaptureReader::View v = r.view(s, hook, storage);
    if (v.shape != shape)
        throw Error(cat(r.dir(), "/", capture_file_for(kind), ": tensor '", tensor, "' has shape ", shape_str(v.shape),
                        ", expected ", shape_str(shape)),
                    "the tensor does not match the manifest; re-run attnscope run");
    return v;
}

} // namespace

static std::string block_hook(int il, const char* name) {
    return cat("blocks.", il, ".", name);
}

bool feed_capture_patterns(Analyzer& an, const CaptureReader& r, const std::function<void()>& after_sequence) {
    const ModelConfig& cfg = an.config();
    const int L = cfg.n_layer;
    const int64_t Hc = r.heads().empty() ? cfg.n_head : int64_t(r.heads().size());
    std::vector<bool> has_layer(static_cast<size_t>(L));
    for (int il = 0; il < L; ++il)
        has_layer[size_t(il)] = r.n_sequences() > 0 && r.has(0, block_hook(il, "attn.hook_pattern"));
    bool any = false;
    std::vector<float> storage; // F16 captures are widened here
    for (int64_t s = 0; s < r.n_sequences(); ++s) {
        const SequenceInfo& seq = r.sequence(s);
        const int64_t T = seq.length;
        an.begin_sequence(seq.token_ids, seq.tokens);
        for (int il = 0; il < L; ++il) {
            if (!has_layer[size_t(il)]) continue;
            const std::string name = block_hook(il, "attn.hook_pattern");
            // the next tensor is read in from disk while this one is analysed, and this one's
            // pages are dropped after it: memory holds about two tensors, whatever the capture
            if (int next = il + 1; next < L && has_layer[size_t(next)])
                r.advise(s, block_hook(next, "attn.hook_pattern"), MappedFile::Use::soon);
            else if (s + 1 < r.n_sequences() && has_layer[0])
                r.advise(s + 1, block_hook(0, "attn.hook_pattern"), MappedFile::Use::soon);
            const CaptureReader::View v = view_checked(r, s, Hook::pattern, name, {Hc, T, T}, storage);
            an.add_pattern(il, TensorView::contiguous(const_cast<float*>(v.data), v.shape), r.heads());
            r.advise(s, name, MappedFile::Use::done);
            any = true;
        }
        an.end_sequence();
        if (after_sequence) after_sequence();
    }
    return any;
}

bool feed_capture_hidden(Analyzer& an, const CaptureReader& r, int il) {
    const int64_t D = an.config().n_embd;
    const std::string hin = block_hook(il, "ln1.hook_normalized"), hout = block_hook(il, "hook_attn_out"),
                      hres = block_hook(il, "hook_resid_pre");
    if (r.n_sequences() == 0) return false;
    const bool has_in = r.has(0, hin), has_out = r.has(0, hout), has_res = r.has(0, hres);
    if (!has_in && !has_out && !has_res) return false;
    for (int64_t s = 0; s < r.n_sequences(); ++s) {
        const int64_t T = r.sequence(s).length;
        std::vector<float> s_in, s_out, s_res; // F16 captures are widened here
        auto view = [&](bool has, Hook kind, const std::string& name, std::vector<float>& storage) {
            if (!has) return TensorView{};
            const CaptureReader::View v = view_checked(r, s, kind, name, {T, D}, storage);
            return TensorView::contiguous(const_cast<float*>(v.data), v.shape);
        };
        an.add_hidden(il, view(has_in, Hook::ln1_normalized, hin, s_in), view(has_out, Hook::attn_out, hout, s_out),
                      view(has_res, Hook::resid_pre, hres, s_res));
        for (const auto& [has, name] : {std::pair{has_in, &hin}, {has_out, &hout}, {has_res, &hres}})
            if (has) r.advise(s, *name, MappedFile::Use::done);
    }
    return true;
}

void note_lone_shard(AnalysisResult& r, const ShardInfo& shard) {
    if (!shard.present()) return;
    r.notes.push_back(cat("shard ", shard.index, "/", shard.count, " alone: texts ", shard.first, "..",
                          shard.end() - 1, " of ", shard.total,
                          "; give all ", shard.count, " shard directories for the whole corpus"));
}

std::string capture_fingerprint(const std::vector<const CaptureReader*>& readers) {
    if (readers.size() == 1) return readers[0]->fingerprint();
    Sha256 h;
    for (const CaptureReader* r : readers) {
        const std::string f = r->fingerprint();
        h.update(f.data(), f.size());
    }
    return h.hex_digest();
}

AnalysisResult analyze_captures(const std::vector<const CaptureReader*>& given, const AnalysisOptions& options,
                                const std::function<void(int64_t, int64_t)>& on_progress) {
    if (given.empty()) throw Error("analysis: no capture directory given");
    // shards of one corpus (run --shard) in corpus order, whatever order they were given in: the
    // sums then run over the texts in the order one run over the corpus takes
    const std::vector<const CaptureReader*> readers = order_shards(given);
    const ModelConfig& cfg = readers[0]->config();
    for (const CaptureReader* r : readers) {
        const ModelConfig& c = r->config();
        if (c.n_layer != cfg.n_layer || c.n_head != cfg.n_head || c.n_embd != cfg.n_embd)
            throw Error(cat(r->dir(), ": model ", c.n_layer, " layers x ", c.n_head, " heads x ", c.n_embd,
                            " wide differs from ", readers[0]->dir(), " (", cfg.n_layer, " x ", cfg.n_head, " x ",
                            cfg.n_embd, ")"),
                        "analyse captures of one model together");
        if (r->heads() != readers[0]->heads())
            throw Error(cat(r->dir(), ": captured a different head subset than ", readers[0]->dir()));
    }
    Analyzer an(cfg, options);
    const int L = cfg.n_layer;
    int64_t total = 0, done = 0;
    for (const CaptureReader* r : readers)
        total += r->n_sequences();
    total += L; // pass 2 reports once per layer
    // Pass 1, sequence by sequence: patterns of consecutive layers (rollout, evolution).
    bool any_pattern = false;
    for (const CaptureReader* r : readers)
        any_pattern |= feed_capture_patterns(an, *r, [&] {
            if (on_progress) on_progress(++done, total);
        });
    // Pass 2, layer by layer: hidden states. Each layer's covariances (3 x D x D doubles) are
    // reduced to their participation ratio and freed before the next layer is read.
    bool any_hidden = false;
    for (int il = 0; il < L; ++il) {
        for (const CaptureReader* r : readers)
            any_hidden |= feed_capture_hidden(an, *r, il);
        an.seal_hidden(il);
        if (on_progress) on_progress(++done, total);
    }
    if (!any_pattern && !any_hidden)
        throw Error(cat(readers[0]->dir(), ": the capture holds no attention weights and no attention inputs/outputs"),
                    "capture with attnscope run --capture weights,inputs,outputs (the default)");
    const auto& m = readers[0]->manifest();
    if (m.contains("model") && m["model"].is_object() && m["model"].contains("name") && m["model"]["name"].is_string())
        an.set_model(m["model"]["name"].get<std::string>());
    AnalysisResult res = an.finish();
    if (readers.size() == 1) note_lone_shard(res, readers[0]->shard());
    res.fingerprint = capture_fingerprint(readers);
    for (const CaptureReader* r : readers)
        res.sources.push_back(r->dir());
    if (!any_pattern)
        res.notes.push_back("no attention weights captured: head metrics, similarity and rollout are missing "
                            "(capture with --capture weights)");
    if (!any_hidden)
        res.notes.push_back("no attention inputs/outputs captured: layer statistics are missing "
                            "(capture with --capture inputs,outputs)");
    return res;
}

} // namespace attnscope
