// Kernels over flat f32 arrays. Matrix products go to OpenBLAS (its OpenMP build, so it shares
// the program's thread pool); row-wise kernels are parallel loops. Reductions accumulate in
// double where a long sum over a row would otherwise lose digits against the reference
// (layer-norm statistics); attention dot products stay in float, like the reference's matmul.
#include "engine/kernels.h"

#include <cblas.h>
#include <cmath>
#include <limits>

namespace attnscope {

void matmul(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t K, int64_t M) {
    if (N == 0 || M == 0) return;
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < M; ++j)
                y[i * M + j] = b[j];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(N), int(M), int(K), 1.0f, x, int(K), w, int(M), beta, y,
                int(M));
}

void matmul_nt(const float* x, const float* w, float* y, int64_t N, int64_t K, int64_t M) {
    if (N == 0 || M == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(N), int(M), int(K), 1.0f, x, int(K), w, int(K), 0.0f, y,
                int(M));
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t N, int64_t D, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        const float* xi = x + i * D;
        float* yi = y + i * D;
        double sum = 0.0;
        for (int64_t c = 0; c < D; ++c)
            sum += xi[c];
        const double mean = sum / double(D);
        double var = 0.0; // two-pass: exact even when |mean| >> std
        for (int64_t c = 0; c < D; ++c) {
            const double t = xi[c] - mean;
            var += t * t;
        }
        var /= double(D);
        const float rstd = float(1.0 / std::sqrt(var + double(eps)));
        const float m = float(mean);
        for (int64_t c = 0; c < D; ++c)
            yi[c] = (xi[c] - m) * rstd * gamma[c] + beta[c];
    }
}

void gelu_tanh(float* x, int64_t n) {
    const float k = 0.7978845608028654f; // sqrt(2 / pi)
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
    }
}

void gelu_erf(float* x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.7071067811865476f));
}

void relu(float* x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void add_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        y[i] += x[i];
}

void scores_row(const float* q, const float* k, int64_t k_stride, int64_t n_keys, int64_t d, float scale, float* s) {
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* kj = k + j * k_stride;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t c = 0; c < d; ++c)
            acc += q[c] * kj[c];
        s[j] = acc * scale;
    }
}

void softmax_row(float* s, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j)
        mx = s[j] > mx ? s[j] : mx;
    if (mx == -std::numeric_limits<float>::infinity()) { // every key masked: no attention at all
        for (int64_t j = 0; j < n; ++j)
            s[j] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j < n; ++j)
        s[j] *= inv;
}

void weighted_sum_row(const float* p, const float* v, int64_t v_stride, int64_t n_keys, int64_t d, float* out) {
    for (int64_t c = 0; c < d; ++c)
        out[c] = 0.0f;
    for (int64_t j = 0; j < n_keys; ++j) {
        const float pj = p[j];
        const float* vj = v + j * v_stride;
#pragma omp simd
        for (int64_t c = 0; c < d; ++c)
            out[c] += pj * vj[c];
    }
}

} // namespace attnscope
