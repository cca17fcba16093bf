// Kernels over flat f32 arrays. Matrix products go to the batch-invariant gemm (engine/gemm.h;
// called inside a parallel loop it runs on the calling thread), or, for benchmarks, OpenBLAS
// when the build found it;
// row-wise kernels are parallel loops written so that the compiler vectorises them (no libm
// call per value: exp is our own polynomial). Reductions accumulate in double where a long sum
// would otherwise lose digits against the reference (layer-norm statistics, softmax sums).
#include "engine/kernels.h"

#include "core/error.h"
#include "engine/gemm.h"

#ifdef ATTNSCOPE_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <omp.h>
#include <vector>

namespace attnscope {

namespace {

// exp(x) for one float, in operations the vectoriser maps to SIMD lanes (no branches, no calls).
// x = k ln2 + r, k = round(x / ln2), ln2 split in a high part (exact in float for |k| < 2^9)
// and a low part (Cody & Waite), so r is exact to float precision; e^r by its Taylor series to
// r^7 (|r| <= 0.347: truncation < 3e-9 relative); then 2^k built in the exponent bits.
inline float exp_lane(float x) {
    const float xc = x < -87.33f ? -87.33f : (x > 88.72f ? 88.72f : x);
    // round to nearest: adding 1.5 * 2^23 leaves no fraction bits (|x / ln2| < 2^22)
    const float kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (xc - kf * 0.693145751953125f) - kf * 1.42860682030941723e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t k = int32_t(kf);
    // k = 128 only when xc > 88.72 - ln2 / 2: 2^127 then doubles through p >= 1 to at most 3.4e38.
    const float scale = std::bit_cast<float>(uint32_t(std::min(k, 127) + 127) << 23);
    const float y = p * scale * (k > 127 ? 2.0f : 1.0f);
    return x < -87.33f ? 0.0f : (x > 88.72f ? std::numeric_limits<float>::infinity() : y);
}

// exp(x) in double precision for the hook values (softmax, GELU, SiLU; issue #31): their result is
// rounded to float once, so they are within half an ulp (plus 1e-11 relative) of the exact value
// where exp_lane's float arithmetic is off by up to 2 ulp, and PyTorch's float kernels by about
// one. Same reduction as exp_lane, in doubles: k = round(x / ln2), r = x - k ln2 (ln2 in two parts,
// the high one with trailing zero bits, so k ln2_hi is exact for |k| < 2^11), e^r by Taylor to
// r^9 (|r| <= 0.347: truncation 7e-12, a ten-thousandth of a float ulp), times 2^k put into the
// exponent bits. The bits of k are
// read off the rounding constant's sum (integer lanes: vectorises without AVX-512's conversions).
inline double exp_accurate(double x) {
    constexpr double kRound = 6755399441055744.0; // 1.5 * 2^52: adding it rounds to an integer
    const double xc = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
    const double t = xc * 1.4426950408889634 + kRound;
    const double kf = t - kRound;
    const double r = (xc - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
    double p = 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    const uint64_t k = std::bit_cast<uint64_t>(t) - std::bit_cast<uint64_t>(kRound); // two's complement k
    const double scale = std::bit_cast<double>((k + 1023u) << 52);
    const double y = p * scale;
    return x < -708.0 ? 0.0 : (x > 709.0 ? std::numeric_limits<double>::infinity() : y);
}

} // namespace

void exp_inplace(float* x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i)
        x[i] = exp_lane(x[i]);
}

static MatmulBackend g_backend = MatmulBackend::invariant;

bool matmul_backend_available(MatmulBackend b) {
#ifdef ATTNSCOPE_HAVE_OPENBLAS
    (void)b;
    return true;
#else
    return b == MatmulBackend::invariant;
#endif
}
void set_matmul_backend(MatmulBackend b) {
    if (!matmul_backend_available(b))
        throw Error("the OpenBLAS matrix-product backend is not built in: OpenBLAS was not found at build time "
                    "(hint: scripts/setup-debian.sh --bench installs libopenblas-openmp-dev; then rebuild)");
    g_backend = b;
}

// OpenBLAS, for comparison: the bias goes into y first and sgemm adds the product (beta = 1).
static void blas_product(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* b,
                         float scale, float* y, int64_t ldy, int64_t N, int64_t K, int64_t M) {
    if (b)
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < M; ++j)
                y[i * ldy + j] = b[j];
#ifdef ATTNSCOPE_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, layout == GemmB::k_by_m ? CblasNoTrans : CblasTrans, int(N), int(M),
                int(K), scale, x, int(ldx), w, int(ldw), b ? 1.0f : 0.0f, y, int(ldy));
#else
    (void)x, (void)K, (void)ldx, (void)w, (void)ldw, (void)layout, (void)scale;
#endif
}

static void product(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* b, float scale,
                    float* y, int64_t ldy, int64_t N, int64_t K, int64_t M) {
    if (N == 0 || M == 0) return;
    if (g_backend == MatmulBackend::openblas)
        blas_product(x, ldx, w, ldw, layout, b, scale, y, ldy, N, K, M);
    else
        gemm(x, ldx, w, ldw, layout, b, scale, y, ldy, N, K, M);
}

void matmul(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t K, int64_t M, int64_t ldy) {
    product(x, K, w, M, GemmB::k_by_m, b, 1.0f, y, ldy < 0 ? M : ldy, N, K, M);
}

void matmul_nt(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t K, int64_t M, int64_t ldy) {
    product(x, K, w, K, GemmB::m_by_k, b, 1.0f, y, ldy < 0 ? M : ldy, N, K, M);
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
        // in double, rounded once: within half an ulp of (x - mean) / sqrt(var + eps) * g + b
        const double rstd = 1.0 / std::sqrt(var + double(eps));
        // OLMo's LayerNorm has no weight and no bias; some have a weight alone
        if (!gamma) {
#pragma omp simd
            for (int64_t c = 0; c < D; ++c)
                yi[c] = float((double(xi[c]) - mean) * rstd);
        } else if (!beta) {
#pragma omp simd
            for (int64_t c = 0; c < D; ++c)
                yi[c] = float((double(xi[c]) - mean) * rstd * double(gamma[c]));
        } else {
#pragma omp simd
            for (int64_t c = 0; c < D; ++c)
                yi[c] = float((double(xi[c]) - mean) * rstd * double(gamma[c]) + double(beta[c]));
        }
    }
}

void gelu_tanh(float* x, int64_t n) {
    const double k = 0.7978845608028654; // sqrt(2 / pi)
    // 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)): no cancellation for u << 0 (the 1 + tanh form
    // subtracts two numbers near 1 there), and exp(-2u) = inf for u << 0 gives exactly 0.
    constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
        const int64_t c1 = std::min(n, c0 + kChunk);
#pragma omp simd
        for (int64_t i = c0; i < c1; ++i) { // in double, rounded once
            const double v = x[i];
            x[i] = float(v / (1.0 + exp_accurate(-2.0 * k * (v + 0.044715 * v * v * v))));
        }
    }
}

void widen_16bit(const void* src, DType dtype, int64_t ld, int64_t rows, int64_t cols, float* dst) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    if (dtype == DType::bf16) {
        // bf16 is the high half of an f32: shift into place (vectorises)
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            const uint16_t* in = s + r * ld;
            float* out = dst + r * cols;
#pragma omp simd
            for (int64_t c = 0; c < cols; ++c)
                out[c] = std::bit_cast<float>(uint32_t(in[c]) << 16);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            dst[r * cols + c] = f16_to_f32(s[r * ld + c]);
}

void rms_norm(const float* x, const float* gamma, float* y, int64_t N, int64_t D, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        const float* xi = x + i * D;
        float* yi = y + i * D;
        double ss = 0.0;
        for (int64_t c = 0; c < D; ++c)
            ss += double(xi[c]) * xi[c];
        // HF LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), in float32, then * weight
        // in double, rounded once (HF rounds x * rsqrt and the product with the weight in float)
        const double r = 1.0 / std::sqrt(ss / double(D) + double(eps));
#pragma omp simd
        for (int64_t c = 0; c < D; ++c)
            yi[c] = float(double(gamma[c]) * (double(xi[c]) * r));
    }
}

void silu(float* x, int64_t n) {
    constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
        const int64_t c1 = std::min(n, c0 + kChunk);
#pragma omp simd
        for (int64_t i = c0; i < c1; ++i)
            x[i] = float(double(x[i]) / (1.0 + exp_accurate(-double(x[i])))); // x sigmoid(x), rounded once
    }
}

void mul_inplace(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        y[i] *= x[i];
}

void rope_tables(const RopeConfig& r, int64_t d, int64_t n_pos, float* cos_t, float* sin_t) {
    // HF: inv_freq_i = 1 / theta^(2i / d) in float32 (i < d/2), then the scaling's rule; the angle
    // pos * inv_freq_i is one float32 product, and cos/sin of it in float32; both halves of the
    // head share the angles (emb = cat(freqs, freqs)).
    const int64_t half = d / 2;
    std::vector<float> inv(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) {
        const float e = float(2 * i) / float(d);
        inv[size_t(i)] = 1.0f / std::pow(r.theta, e);
    }
    if (r.scaling == RopeScaling::linear)
        for (auto& f : inv)
            f /= r.factor;
    if (r.scaling == RopeScaling::llama3) {
        // long wavelengths slowed by `factor`, short ones kept, a smooth blend between
        const float old_len = float(r.original_max_position_embeddings);
        const float low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
        for (auto& f : inv) {
            const float wavelen = 2.0f * float(M_PI) / f;
            if (wavelen > low_wavelen) {
                f = f / r.factor;
            } else if (wavelen >= high_wavelen) {
                const float smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
                f = (1.0f - smooth) * f / r.factor + smooth * f;
            }
        }
    }
    for (int64_t p = 0; p < n_pos; ++p)
        for (int64_t i = 0; i < half; ++i) {
            const float a = float(p) * inv[size_t(i)];
            cos_t[p * half + i] = std::cos(a);
            sin_t[p * half + i] = std::sin(a);
        }
}

void rope_apply(float* x, int64_t ld, int64_t T, int64_t n_heads, int64_t d, int64_t rotary_dim, RotaryPairs pairs,
                const float* cos_t, const float* sin_t) {
    // the first rotary_dim values of each head rotate, in rotary_dim / 2 pairs sharing the
    // tables' angles; the rest pass through (GPT-NeoX's rotary_pct < 1)
    const int64_t half = rotary_dim / 2;
    // a pair's two members: (i, i + half) as rotate_half, or (2i, 2i + 1)
    const int64_t first = pairs == RotaryPairs::half_split ? 1 : 2,
                  second = pairs == RotaryPairs::half_split ? half : 1;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; ++t)
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + t * ld + h * d;
            const float* c = cos_t + t * half;
            const float* s = sin_t + t * half;
            for (int64_t i = 0; i < half; ++i) {
                // (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)
                float* p = v + i * first;
                const float a = p[0], b = p[second];
                p[0] = a * c[i] - b * s[i];
                p[second] = b * c[i] + a * s[i];
            }
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

void attention_scores_block(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows, int64_t n,
                            int64_t d, float scale, float* s, int64_t lds) {
    product(q, ldq, k, ldk, GemmB::m_by_k, nullptr, scale, s, lds, rows, d, n);
}

void softmax_row(float* s, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; ++j)
        mx = s[j] > mx ? s[j] : mx;
    if (mx == -std::numeric_limits<float>::infinity()) { // every key masked: no attention at all
        std::memset(s, 0, size_t(n) * sizeof(float));
        return;
    }
    // exp(s - max) in double, kept in double until the one rounding of e / sum: each probability
    // within about half an ulp of the exact one (PyTorch rounds exp, the sum and the scaling)
    thread_local std::vector<double> e;
    e.resize(size_t(n));
    double* ed = e.data();
    const double m = mx;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j)
        ed[j] = exp_accurate(double(s[j]) - m);
    constexpr int64_t kLanes = 16;
    double lane[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int64_t l = 0; l < kLanes; ++l)
            lane[l] += ed[j + l];
    for (int64_t l = 0; j < n; ++j, ++l)
        lane[l] += ed[j];
    double sum = 0.0;
    for (int64_t l = 0; l < kLanes; ++l)
        sum += lane[l];
    const double inv = 1.0 / sum;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i)
        s[i] = float(ed[i] * inv);
}

double log_sum_exp(const float* x, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; ++j)
        mx = x[j] > mx ? x[j] : mx;
    if (!std::isfinite(mx)) return double(mx); // -inf: every value -inf; +inf or nan propagate
    constexpr int64_t kLanes = 16;
    double lane[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
#pragma omp simd
        for (int64_t l = 0; l < kLanes; ++l)
            lane[l] += double(exp_lane(x[j + l] - mx));
    for (int64_t l = 0; j < n; ++j, ++l)
        lane[l] += double(exp_lane(x[j] - mx));
    double sum = 0.0;
    for (int64_t l = 0; l < kLanes; ++l)
        sum += lane[l];
    return double(mx) + std::log(sum);
}

void attention_values_block(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t rows, int64_t n,
                            int64_t d, float* z, int64_t ldz) {
    product(p, ldp, v, ldv, GemmB::k_by_m, nullptr, 1.0f, z, ldz, rows, n, d);
}

namespace ref {

double log_sum_exp(const float* x, int64_t n) {
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    for (int64_t j = 0; j < n; ++j)
        mx = std::max(mx, double(x[j]));
    for (int64_t j = 0; j < n; ++j)
        sum += std::exp(double(x[j]) - mx);
    return mx + std::log(sum);
}

void gelu_tanh(float* x, int64_t n) {
    const float k = 0.7978845608028654f; // sqrt(2 / pi)
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
    }
}

void softmax_row(float* s, int64_t n) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j)
        mx = s[j] > mx ? s[j] : mx;
    if (mx == -std::numeric_limits<float>::infinity()) {
        for (int64_t j = 0; j < n; ++j)
            s[j] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    for (int64_t j = 0; j < n; ++j)
        s[j] = float(s[j] / sum);
}

void scores_row(const float* q, const float* k, int64_t k_stride, int64_t n_keys, int64_t d, float scale, float* s) {
    for (int64_t j = 0; j < n_keys; ++j) {
        const float* kj = k + j * k_stride;
        float acc = 0.0f;
        for (int64_t c = 0; c < d; ++c)
            acc += q[c] * kj[c];
        s[j] = acc * scale;
    }
}

void weighted_sum_row(const float* p, const float* v, int64_t v_stride, int64_t n_keys, int64_t d, float* out) {
    for (int64_t c = 0; c < d; ++c)
        out[c] = 0.0f;
    for (int64_t j = 0; j < n_keys; ++j)
        for (int64_t c = 0; c < d; ++c)
            out[c] += p[j] * v[j * v_stride + c];
}

} // namespace ref

} // namespace attnscope
