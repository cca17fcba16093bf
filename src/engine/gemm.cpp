// A batch-invariant single-precision matrix product (the contract is in gemm.h): the usual
// blocked structure — columns of the output split between threads, K in blocks of kKC, rows in
// blocks of kMC, both operands packed so that the micro-kernel reads them contiguously (the
// threads share the packing of the rows, each packs the panels of its own columns) — around
// a micro-kernel that keeps an R x NR tile of accumulators in vector registers and adds one
// rank-1 update per k with fused multiply-adds. Each accumulator lane is one output element's
// chain s = fma(x[n][k], w(k, m), s) over one slice of kGemmSlice values of k, added to the
// total of the earlier slices (stored in the output tile between slices); a K block ends by
// storing the total (exact: it is a float) and the next block loads it back, so no blocking, tile
// shape, tile position or thread split changes any element's arithmetic. Rows beyond a tile's edge are
// a smaller template instance (no wasted work for a decode step's one row); columns beyond it are
// zero-padded in the packed panel and not stored.
#include "engine/gemm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <omp.h>
#include <utility>
#include <vector>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
// GCC 12 reports the AVX-512 shuffle intrinsics' internal undefined operand (_mm512_undefined_ps,
// `__m512 __Y = __Y;`) as "(maybe) uninitialized" once they are inlined (optimised builds, and
// the sanitizer build): a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace attnscope {

constexpr int64_t kKS = kGemmSlice;

namespace {

// The vector type of this build: W floats per register, MR rows of two registers per tile.
#if defined(__AVX512F__)
constexpr int kW = 16, kMR = 12, kNV = 2; // 24 accumulators + 3 panel vectors + 1 broadcast of 32 registers
using Vec = __m512;
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec vset(float a) { return _mm512_set1_ps(a); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline Vec vmul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
constexpr const char* kVariant = "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kW = 8, kMR = 6, kNV = 2; // 12 accumulators + 2 panel vectors + 1 broadcast of 16 registers
using Vec = __m256;
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vset(float a) { return _mm256_set1_ps(a); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vmul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
constexpr const char* kVariant = "avx2";
#else
constexpr int kW = 1, kMR = 4, kNV = 2;
struct Vec {
    float v;
};
inline Vec vzero() { return {0.0f}; }
inline Vec vload(const float* p) { return {*p}; }
inline void vstore(float* p, Vec v) { *p = v.v; }
inline Vec vset(float a) { return {a}; }
inline Vec vfma(Vec a, Vec b, Vec c) { return {std::fma(a.v, b.v, c.v)}; }
inline Vec vmul(Vec a, Vec b) { return {a.v * b.v}; }
inline Vec vadd(Vec a, Vec b) { return {a.v + b.v}; }
constexpr const char* kVariant = "scalar";
#endif

constexpr int kNR = kNV * kW;           // columns of a tile: kNV registers
// Blocking (measured on GPT-2 small's shapes, bench_kernels BM_Forward): one K block covers a
// width of 768, so most outputs are written once; a K block's packed rows (kMC x kKC, 0.6 MB)
// and the thread's packed panels (kKC x kNC, 1.5 MB) are about one 2 MB L2 together.
constexpr int64_t kKC = 768;
static_assert(kKC % kKS == 0, "K blocks hold whole slices");
constexpr int64_t kMC = 16 * kMR;
constexpr int64_t kNC = 16 * kNR;

// How a tile ends: the K block's partial sums are stored as they are, or the chain is complete
// and scale and bias are applied.
struct Finish {
    bool last = false;
    float scale = 1.0f;
    const float* bias = nullptr; // kNR values (zero-padded) or null
};

// c[r][0 .. kNR) (row stride ldc) for r < R: continue (or, first, start) each element's chain
// over the kc values of k in the packed rows pa ([kc][kMR]) and the panel pb: kNR values per k,
// ldb apart (kNR when packed; the weight's row stride when read in place).
template <int R>
void micro_kernel(const float* pa, const float* pb, int64_t ldb, int64_t kc, float* c, int64_t ldc, bool first,
                  const Finish& f) {
    Vec acc[R][kNV];
    // One slice of kKS values of k at a time: a fresh chain from zero in the registers, then added
    // to the running total of the earlier slices (kept in c, in L1). kc is a multiple of kKS
    // except in a product's last K block, so slices start at multiples of kKS of the whole K.
    for (int64_t s0 = 0; s0 < kc; s0 += kKS) {
        const int64_t s1 = std::min(kc, s0 + kKS);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
            for (int v = 0; v < kNV; ++v)
                acc[r][v] = vzero();
        for (int64_t k = s0; k < s1; ++k) {
            Vec b[kNV];
#pragma GCC unroll 4
            for (int v = 0; v < kNV; ++v)
                b[v] = vload(pb + k * ldb + v * kW);
            const float* a = pa + k * kMR;
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const Vec ar = vset(a[r]);
#pragma GCC unroll 4
                for (int v = 0; v < kNV; ++v)
                    acc[r][v] = vfma(ar, b[v], acc[r][v]);
            }
        }
        if (!(first && s0 == 0)) // total = total + slice
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
                for (int v = 0; v < kNV; ++v)
                    acc[r][v] = vadd(vload(c + r * ldc + v * kW), acc[r][v]);
        if (s1 == kc) break; // the tile's total stays in registers for the finish
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
            for (int v = 0; v < kNV; ++v)
                vstore(c + r * ldc + v * kW, acc[r][v]);
    }
    if (f.last) {
        if (f.scale != 1.0f)
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
                for (int v = 0; v < kNV; ++v)
                    acc[r][v] = vmul(acc[r][v], vset(f.scale));
        if (f.bias)
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
                for (int v = 0; v < kNV; ++v)
                    acc[r][v] = vadd(acc[r][v], vload(f.bias + v * kW));
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v)
            vstore(c + r * ldc + v * kW, acc[r][v]);
}

using Kernel = void (*)(const float*, const float*, int64_t, int64_t, float*, int64_t, bool, const Finish&);

template <size_t... I>
constexpr auto kernel_table(std::index_sequence<I...>) {
    return std::array<Kernel, sizeof...(I)>{&micro_kernel<int(I) + 1>...};
}
constexpr auto kKernels = kernel_table(std::make_index_sequence<kMR>{}); // kKernels[R - 1]

#if defined(__AVX512F__)
// r[q] = column q of the 16 x 16 block whose rows are r[0..16): four rounds of shuffles.
inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) { // pairs of rows interleaved
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) { // groups of four rows
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 2; ++i) // 128-bit lanes of eight rows
        for (int j = 0; j < 4; ++j) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; ++j) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}
#endif

// Rows [n0, n0 + mc) x k [k0, k0 + kc) of x into micro-panels of kMR rows, [kc][kMR] each (rows
// past mc left as they are: the kernel for fewer rows never reads them).
void pack_rows(const float* x, int64_t ldx, int64_t n0, int64_t mc, int64_t k0, int64_t kc, float* pa) {
    for (int64_t i0 = 0; i0 < mc; i0 += kMR) {
        const int64_t rows = std::min<int64_t>(kMR, mc - i0);
        float* dst = pa + i0 * kc;
        const float* src = x + (n0 + i0) * ldx + k0;
        int64_t k_done = 0;
#if defined(__AVX512F__)
        if (rows == kMR) // 16 k at a time: the kMR rows (and zeros) transposed in registers
            for (; k_done + 16 <= kc; k_done += 16) {
                __m512 r[16];
                for (int q = 0; q < 16; ++q)
                    r[q] = q < kMR ? _mm512_loadu_ps(src + q * ldx + k_done) : _mm512_setzero_ps();
                transpose16(r);
                for (int q = 0; q < 16; ++q)
                    _mm512_mask_storeu_ps(dst + (k_done + q) * kMR, __mmask16((1u << kMR) - 1), r[q]);
            }
#endif
        if (rows == kMR) // contiguous stores, kMR read streams
            for (int64_t k = k_done; k < kc; ++k)
#pragma GCC unroll 16
                for (int64_t r = 0; r < kMR; ++r)
                    dst[k * kMR + r] = src[r * ldx + k];
        else
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t r = 0; r < rows; ++r)
                    dst[k * kMR + r] = src[r * ldx + k];
    }
}


// Columns [m0, m0 + nc) x k [k0, k0 + kc) of w into panels of kNR columns, [kc][kNR] each,
// zero past the last column.
void pack_cols(const float* w, int64_t ldw, GemmB layout, int64_t m0, int64_t nc, int64_t k0, int64_t kc, float* pb) {
    if (layout == GemmB::k_by_m) { // row by row of w: long sequential reads, one store stream per panel
        const int64_t full = nc / kNR * kNR;
        for (int64_t k = 0; k < kc; ++k) {
            const float* src = w + (k0 + k) * ldw + m0;
            for (int64_t j0 = 0; j0 < full; j0 += kNR) {
                float* dst = pb + j0 * kc + k * kNR;
#pragma GCC unroll 4
                for (int v = 0; v < kNV; ++v)
                    vstore(dst + v * kW, vload(src + j0 + v * kW));
            }
            if (full < nc) {
                float* dst = pb + full * kc + k * kNR;
                for (int64_t j = 0; j < kNR; ++j)
                    dst[j] = full + j < nc ? src[full + j] : 0.0f;
            }
        }
        return;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += kNR) {
        const int64_t cols = std::min<int64_t>(kNR, nc - j0);
        float* dst = pb + j0 * kc;
        {
            // a transpose: contiguous stores of kNR values per k, read from kNR rows of w
            const float* src = w + (m0 + j0) * ldw + k0;
            int64_t k_done = 0;
#if defined(__AVX512F__)
            if (cols == kNR) // 16 x 16 blocks transposed in registers
                for (; k_done + 16 <= kc; k_done += 16)
                    for (int h = 0; h < kNV; ++h) {
                        __m512 r[16];
                        for (int q = 0; q < 16; ++q)
                            r[q] = _mm512_loadu_ps(src + (h * 16 + q) * ldw + k_done);
                        transpose16(r);
                        for (int q = 0; q < 16; ++q)
                            _mm512_storeu_ps(dst + (k_done + q) * kNR + h * 16, r[q]);
                    }
#endif
            if (cols == kNR)
                for (int64_t k = k_done; k < kc; ++k)
#pragma GCC unroll 32
                    for (int64_t j = 0; j < kNR; ++j)
                        dst[k * kNR + j] = src[j * ldw + k];
            else
                for (int64_t k = 0; k < kc; ++k)
                    for (int64_t j = 0; j < kNR; ++j)
                        dst[k * kNR + j] = j < cols ? src[j * ldw + k] : 0.0f;
        }
    }
}

// Everything one product needs, and the packed rows the threads share.
struct Product {
    const float* x;
    int64_t ldx;
    const float* w;
    int64_t ldw;
    GemmB layout;
    const float* bias;
    float scale;
    float* y;
    int64_t ldy, N, K, M;
    float* pa; // kMC x kKC packed rows, shared by the threads
};

// A product of a few rows (a decode step) by a [K, M] weight reads the weight in place: packing
// it would cost as much memory traffic as the product itself.
bool in_place(const Product& p) { return p.layout == GemmB::k_by_m && p.N <= kMR; }

// Rows [ic, ic + mc) x columns [m0, m0 + nc) of the product for the K block [k0, k0 + kc), from
// the packed rows p.pa and the packed panels pb (or, in_place, the weight's rows).
void compute_block(const Product& p, const float* pb, int64_t ic, int64_t mc, int64_t m0, int64_t nc, int64_t k0,
                   int64_t kc) {
    alignas(64) float tile[kMR * kNR];
    alignas(64) float bias_pad[kNR];
    thread_local std::vector<float> edge; // an in-place product's last, partial panel, packed
    const bool first = k0 == 0, direct = in_place(p);
    for (int64_t j0 = 0; j0 < nc; j0 += kNR) {
        const int64_t cols = std::min<int64_t>(kNR, nc - j0), m = m0 + j0;
        Finish f;
        f.last = k0 + kc == p.K;
        f.scale = p.scale;
        if (p.bias && f.last) {
            std::fill(bias_pad, bias_pad + kNR, 0.0f);
            std::copy(p.bias + m, p.bias + m + cols, bias_pad);
            f.bias = bias_pad;
        }
        const float* panel = pb + j0 * kc;
        int64_t ldb = kNR;
        if (direct && cols == kNR) {
            panel = p.w + k0 * p.ldw + m, ldb = p.ldw;
        } else if (direct) {
            edge.resize(size_t(kc * kNR));
            pack_cols(p.w, p.ldw, p.layout, m, cols, k0, kc, edge.data());
            panel = edge.data();
        }
        for (int64_t i0 = 0; i0 < mc; i0 += kMR) {
            const int64_t rows = std::min<int64_t>(kMR, mc - i0);
            float* c = p.y + (ic + i0) * p.ldy + m;
            const Kernel kern = kKernels[size_t(rows - 1)];
            if (cols == kNR) {
                kern(p.pa + i0 * kc, panel, ldb, kc, c, p.ldy, first, f);
                continue;
            }
            // an edge tile: through a full-width copy, valid columns only
            if (!first)
                for (int64_t r = 0; r < rows; ++r)
                    std::copy(c + r * p.ldy, c + r * p.ldy + cols, tile + r * kNR);
            kern(p.pa + i0 * kc, panel, ldb, kc, tile, kNR, first, f);
            for (int64_t r = 0; r < rows; ++r)
                std::copy(tile + r * kNR, tile + r * kNR + cols, c + r * p.ldy);
        }
    }
}

// Thread t of T: its share of the product. Columns go in super-blocks of T x kNC, each thread
// taking a contiguous run of whole panels of each; every thread walks the same super-blocks, K
// blocks and row blocks, packs its share of the row block's micro-panels into the shared p.pa,
// and waits for the others (barriers) before computing its columns and before the next packing.
void run_share(const Product& p, int64_t t, int64_t T) {
    thread_local std::vector<float> pb;
    pb.resize(size_t(kNC * kKC));
    const int64_t super = T * kNC;
    for (int64_t sb = 0; sb < p.M; sb += super) {
        const int64_t width = std::min(super, p.M - sb), panels = (width + kNR - 1) / kNR;
        const int64_t c0 = sb + std::min(width, panels * t / T * kNR);
        const int64_t c1 = sb + std::min(width, panels * (t + 1) / T * kNR);
        for (int64_t k0 = 0; k0 < p.K; k0 += kKC) {
            const int64_t kc = std::min(kKC, p.K - k0);
            if (c0 < c1 && !in_place(p)) pack_cols(p.w, p.ldw, p.layout, c0, c1 - c0, k0, kc, pb.data());
            for (int64_t ic = 0; ic < p.N; ic += kMC) {
                const int64_t mc = std::min(kMC, p.N - ic);
                const int64_t micro = (mc + kMR - 1) / kMR;
                for (int64_t u = t; u < micro; u += T) { // this thread's micro-panels of the row block
                    const int64_t i0 = u * kMR;
                    pack_rows(p.x, p.ldx, ic + i0, std::min<int64_t>(kMR, mc - i0), k0, kc, p.pa + i0 * kc);
                }
                if (T > 1) {
#pragma omp barrier
                }
                if (c0 < c1) compute_block(p, pb.data(), ic, mc, c0, c1 - c0, k0, kc);
                if (T > 1) {
#pragma omp barrier
                }
            }
        }
    }
}

} // namespace

const char* gemm_variant() { return kVariant; }

void gemm(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* bias, float scale,
          float* y, int64_t ldy, int64_t N, int64_t K, int64_t M) {
    if (N <= 0 || M <= 0) return;
    if (K <= 0) { // an empty sum: 0 (times scale), plus the bias
        for (int64_t n = 0; n < N; ++n)
            for (int64_t m = 0; m < M; ++m)
                y[n * ldy + m] = bias ? bias[m] : 0.0f;
        return;
    }
    // Threads take contiguous runs of whole panels; the split only decides who computes an
    // element, never how. Small products, and products inside a parallel region (attention's
    // per-head blocks), stay on the calling thread.
    thread_local std::vector<float> pa;
    pa.resize(size_t(kMC * kKC));
    const Product p{x, ldx, w, ldw, layout, bias, scale, y, ldy, N, K, M, pa.data()};
    const bool parallel = !omp_in_parallel() && omp_get_max_threads() > 1 && M > kNR &&
                          double(N) * double(M) * double(K) >= double(1 << 18);
    if (!parallel) {
        run_share(p, 0, 1);
        return;
    }
#pragma omp parallel
    run_share(p, omp_get_thread_num(), omp_get_num_threads());
}

namespace ref {

void gemm(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* bias, float scale,
          float* y, int64_t ldy, int64_t N, int64_t K, int64_t M) {
    for (int64_t n = 0; n < N; ++n)
        for (int64_t m = 0; m < M; ++m) {
            float acc = 0.0f;
            for (int64_t k0 = 0; k0 < K; k0 += kKS) {
                float slice = 0.0f;
                for (int64_t k = k0; k < std::min(K, k0 + kKS); ++k)
                    slice = std::fma(x[n * ldx + k], layout == GemmB::k_by_m ? w[k * ldw + m] : w[m * ldw + k], slice);
                acc = k0 == 0 ? slice : acc + slice;
            }
            if (scale != 1.0f) acc *= scale;
            if (bias) acc += bias[m];
            y[n * ldy + m] = acc;
        }
}

} // namespace ref

} // namespace attnscope
