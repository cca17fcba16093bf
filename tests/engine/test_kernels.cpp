// Kernels against their scalar definitions (double precision, written as the maths).
#include "engine/kernels.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <vector>

using namespace attnscope;

namespace {
std::vector<float> random_vector(size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v)
        x = dist(rng);
    return v;
}
} // namespace

TEST(Kernels, MatmulMatchesDefinition) {
    const int64_t N = 7, K = 33, M = 19;
    auto x = random_vector(size_t(N * K), 1), w = random_vector(size_t(K * M), 2), b = random_vector(size_t(M), 3);
    std::vector<float> y(size_t(N * M)), yt(size_t(N * M));
    matmul(x.data(), w.data(), b.data(), y.data(), N, K, M);
    // w^T stored [M, K] for matmul_nt
    std::vector<float> wt(size_t(M * K));
    for (int64_t k = 0; k < K; ++k)
        for (int64_t m = 0; m < M; ++m)
            wt[size_t(m * K + k)] = w[size_t(k * M + m)];
    matmul_nt(x.data(), wt.data(), yt.data(), N, K, M);
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < M; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k)
                acc += double(x[size_t(i * K + k)]) * w[size_t(k * M + j)];
            EXPECT_NEAR(y[size_t(i * M + j)], acc + b[size_t(j)], 1e-4);
            EXPECT_NEAR(yt[size_t(i * M + j)], acc, 1e-4);
        }
}

TEST(Kernels, LayerNormMatchesDefinition) {
    const int64_t N = 5, D = 48;
    auto x = random_vector(size_t(N * D), 4, 3.0f), g = random_vector(size_t(D), 5), b = random_vector(size_t(D), 6);
    for (int64_t c = 0; c < D; ++c)
        x[size_t(c)] += 1000.0f; // a row with |mean| >> std
    std::vector<float> y(size_t(N * D));
    layer_norm(x.data(), g.data(), b.data(), y.data(), N, D, 1e-5f);
    for (int64_t i = 0; i < N; ++i) {
        double mean = 0, var = 0;
        for (int64_t c = 0; c < D; ++c)
            mean += x[size_t(i * D + c)];
        mean /= D;
        for (int64_t c = 0; c < D; ++c)
            var += (x[size_t(i * D + c)] - mean) * (x[size_t(i * D + c)] - mean);
        var /= D;
        for (int64_t c = 0; c < D; ++c) {
            const double want = (x[size_t(i * D + c)] - mean) / std::sqrt(var + 1e-5) * g[size_t(c)] + b[size_t(c)];
            EXPECT_NEAR(y[size_t(i * D + c)], want, 2e-4 * (1 + std::fabs(want))) << i << "," << c;
        }
    }
}

TEST(Kernels, Activations) {
    std::vector<float> x = {-3.0f, -0.5f, 0.0f, 0.7f, 2.5f};
    auto t = x, e = x, r = x;
    gelu_tanh(t.data(), 5);
    gelu_erf(e.data(), 5);
    relu(r.data(), 5);
    for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        EXPECT_NEAR(t[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))), 1e-6);
        EXPECT_NEAR(e[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
        EXPECT_EQ(r[i], v > 0 ? float(v) : 0.0f);
    }
}

TEST(Kernels, SoftmaxRowIsADistributionAndKeepsTheMask) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> s = {1.0f, 3.0f, -inf, 2.0f, -inf};
    softmax_row(s.data(), 5);
    const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
    EXPECT_NEAR(s[0], std::exp(1.0) / z, 1e-7);
    EXPECT_NEAR(s[1], std::exp(3.0) / z, 1e-7);
    EXPECT_EQ(s[2], 0.0f);
    EXPECT_EQ(s[4], 0.0f);
    std::vector<float> big = {1000.0f, 1000.0f}; // no overflow
    softmax_row(big.data(), 2);
    EXPECT_FLOAT_EQ(big[0], 0.5f);
    std::vector<float> all_masked = {-inf, -inf};
    softmax_row(all_masked.data(), 2);
    EXPECT_EQ(all_masked[0], 0.0f);
}

TEST(Kernels, AttentionRowSteps) {
    // q = [1, 0], keys k0 = [0, 0], k1 = [2, 0] stored with a row stride of 3
    const float q[] = {1, 0};
    const float k[] = {0, 0, 9, 2, 0, 9};
    float s[2];
    scores_row(q, k, 3, 2, 2, 0.5f, s);
    EXPECT_FLOAT_EQ(s[0], 0.0f);
    EXPECT_FLOAT_EQ(s[1], 1.0f);
    const float p[] = {0.25f, 0.75f};
    const float v[] = {4, 8, 9, 0, 4, 9};
    float out[2];
    weighted_sum_row(p, v, 3, 2, 2, out);
    EXPECT_FLOAT_EQ(out[0], 1.0f);
    EXPECT_FLOAT_EQ(out[1], 5.0f);
}
