// Kernels: the numerical building blocks of a forward pass, written as the maths.
//
//   matmul(x, w, b, y, N, K, M);              // y[N,M] = x[N,K] @ w[K,M] + b      (gemm.h)
//   matmul_nt(x, w, y, N, K, M);              // y[N,M] = x[N,K] @ w[M,K]^T        (tied LM head)
//   layer_norm(x, g, b, y, N, D, eps);        // per row: (x - mean) / sqrt(var + eps) * g + b
//   gelu_tanh(x, n);                          // in place
//   attention_scores_block(q, ldq, k, ldk, rows, n, d, scale, s, lds);   // S = scale Q K^T (gemm.h)
//   softmax_row(s, n);                                                   // in place
//   attention_values_block(p, ldp, v, ldv, rows, n, d, z, ldz);          // Z = P V (gemm.h)
//
// Every kernel is a plain function over flat row-major arrays; shapes are arguments. The fast
// kernels (vectorised, or the gemm) have plain scalar definitions in namespace ref, which tests
// compare them against (tests/engine/test_kernels.cpp) and benchmarks time (bench/).
#pragma once

#include "core/tensor.h"
#include "model/config.h"

#include <cstdint>

namespace attnscope {

// Matrix products run through gemm.h's batch-invariant kernel: each output element's reduction
// order is fixed, so a sequence's values do not depend on the batch, the thread count or the
// shard. OpenBLAS's sgemm (faster on some shapes, but its rounding depends on the matrix shapes
// and the threads) stays selectable for benchmarks that compare the two in one run, when the
// build found OpenBLAS (optional); selecting it otherwise throws, and available() says so first.
enum class MatmulBackend { invariant, openblas };
void set_matmul_backend(MatmulBackend b);
bool matmul_backend_available(MatmulBackend b);

// y[N,M] = x[N,K] @ w[K,M] (+ b[M] broadcast over rows when b is not null); rows of y are ldy
// apart (default M), so products can fill column ranges of one wider buffer.
void matmul(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t K, int64_t M,
            int64_t ldy = -1);
// y[N,M] = x[N,K] @ w[M,K]^T (+ b), the same for a weight stored [out, in] (nn.Linear).
void matmul_nt(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t K, int64_t M,
               int64_t ldy = -1);

// dst[r][c] = widened src[r * ld + c] for r < rows, c < cols: F16 or BF16 values as f32 (exact).
void widen_16bit(const void* src, DType dtype, int64_t ld, int64_t rows, int64_t cols, float* dst);

// RMS normalisation over the last dimension: x / sqrt(mean(x^2) + eps) * g (HF LlamaRMSNorm).
void rms_norm(const float* x, const float* gamma, float* y, int64_t N, int64_t D, float eps);
// silu(x) = x sigmoid(x), in place, vectorised, in double and rounded once; y *= x element-wise.
void silu(float* x, int64_t n);
void mul_inplace(float* y, const float* x, int64_t n);
// Rotary position embedding: tables [n_pos, r/2] of cos and sin of pos * inv_freq_i
// (inv_freq_i = theta^(-2i/r), r the rotary width) with the config's scaling, then x's heads
// rotated in place, row t of x (ld floats apart, n_heads heads of d) at position t: the first
// rotary_dim (= r) values of each head, in pairs (i, i + r/2) (HF's rotate_half) or (2i, 2i + 1).
void rope_tables(const RopeConfig& rope, int64_t d, int64_t n_pos, float* cos_t, float* sin_t);
void rope_apply(float* x, int64_t ld, int64_t T, int64_t n_heads, int64_t d, int64_t rotary_dim, RotaryPairs pairs,
                const float* cos_t, const float* sin_t);

// Layer normalisation over the last dimension (biased variance, as torch.nn.LayerNorm).
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t N, int64_t D, float eps);

// Activations, in place over n values.
// gelu_new: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as the identical
// x * sigmoid(2u) = x / (1 + exp(-2u)) with a vectorised exp (no tanh call per value), in double
// and rounded once (so are the norms and the softmax: each value within about half an ulp).
void gelu_tanh(float* x, int64_t n);
void gelu_erf(float* x, int64_t n); // 0.5 x (1 + erf(x / sqrt(2)))                      — "gelu"
void relu(float* x, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// y[i] = exp(x[i]) (may alias), vectorised: 2^k * e^r with r = x - k ln 2, |r| <= ln2 / 2, and a
// degree-7 polynomial for e^r; within 2 ulp of std::exp. exp(-inf) and anything below
// -87.3 (where the result would be subnormal) give exactly 0; x above 88.7 gives +inf.
void exp_inplace(float* x, int64_t n);

// log(sum_j exp(x[j])) over n > 0 values, without changing them: max + log of the sum of
// exp_lane(x - max), the sum in 16 fixed double lanes (as softmax_row). For a cross-entropy,
// logsumexp(logits) - logits[target], over a vocabulary per predicted token (intervene/).
double log_sum_exp(const float* x, int64_t n);

// Attention, in blocks of query rows. The forward runs every attention path (fused, with a
// pattern buffer, with statistics) through these three steps with the same blocks, so all
// paths give bit-identical results.
//   S[r, j] = scale * dot(q_r, k_j)    r < rows, j < n     (q_r = q + r ldq, k_j = k + j ldk)
//   softmax_row: p = exp(s - max) / sum over n values, in place; -inf scores become exactly 0;
//     exp and the division in double, each p rounded to float once.
//     The sum runs in 16 fixed lanes (lane = j mod 16), so a row gives the same bits wherever it
//     is stored and however the compiler aligns the loop.
//   Z[r, c] = sum_j P[r, j] v_j[c]      r < rows, j < n     (v_j = v + j ldv)
void attention_scores_block(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t rows, int64_t n,
                            int64_t d, float scale, float* s, int64_t lds);
void softmax_row(float* s, int64_t n);
void attention_values_block(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t rows, int64_t n,
                            int64_t d, float* z, int64_t ldz);

// Plain scalar definitions of the fast kernels, written as the maths: the tests' yardstick.
namespace ref {
void gelu_tanh(float* x, int64_t n);
void softmax_row(float* s, int64_t n);
double log_sum_exp(const float* x, int64_t n);
void scores_row(const float* q, const float* k, int64_t k_stride, int64_t n_keys, int64_t d, float scale, float* s);
void weighted_sum_row(const float* p, const float* v, int64_t v_stride, int64_t n_keys, int64_t d, float* out);
} // namespace ref

} // namespace attnscope
