// Matrix products whose every output element has one fixed reduction order, whatever the number
// of rows, the thread count or how the work is split: so a sequence's values are bit-identical
// alone or in any batch, with any --threads, in any shard (issue #24).
//
//   // y[N, M] = x[N, K] @ w[K, M] + b     (w as stored by GPT-2's Conv1D)
//   gemm(x, K, w, M, GemmB::k_by_m, b, 1.0f, y, M, N, K, M);
//   // y[N, M] = scale * x[N, K] @ w[M, K]^T (nn.Linear, attention scores Q K^T)
//   gemm(q, ldq, k, ldk, GemmB::m_by_k, nullptr, scale, s, lds, rows, d, n);
//
// The contract, per element: K is cut into slices of kGemmSlice consecutive values of k, starting
// at k = 0; each slice is one chain of single-rounding fused multiply-adds from zero,
//   s_j = 0; for k in slice j, in increasing order: s_j = fma(x[n][k], w(k, m), s_j);
// the slices are added in order, acc = ((s_0 + s_1) + s_2) + ...; then y[n][m] = acc * scale (when
// scale != 1) + b[m] (when b is given). Every code path — the AVX-512 and AVX2 micro-kernels, a
// tile's edge, the scalar fallback — performs exactly these operations, so the bits depend on
// nothing but the operands. Threads split the output's columns, never K; blocking of K only
// pauses the sum of the slices (the running total is stored as the float it is and resumed).
//
// Why slices (issue #31): one chain over all of K accumulates rounding error in proportion to K
// (768 to 3072 for GPT-2's products), more than PyTorch's fp32, whose BLAS adds K blocks too. With
// slices of 128 it grows with 128 + K / 128 instead, and the order is still fixed per element.
// Measured (tools/reference/accuracy.py, with the norms and activations rounded once): errors
// against a float64 forward 0.50-0.96 of PyTorch's (one chain: 1.1-2.7); slices of 64 were a
// little more accurate (0.57-0.83) and cost about 5% more in the large products.
#pragma once

#include <cstdint>

namespace attnscope {

// Values of k per fused multiply-add chain (the contract above).
inline constexpr int64_t kGemmSlice = 128;

enum class GemmB {
    k_by_m, // w[k * ldw + m]: [K, M] row-major
    m_by_k, // w[m * ldw + k]: [M, K] row-major (the transpose is used)
};

void gemm(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* bias, float scale,
          float* y, int64_t ldy, int64_t N, int64_t K, int64_t M);

// The micro-kernel this build uses ("avx512", "avx2" or "scalar"): captures record it (two
// builds with the same variant give the same bits; the contract makes the others agree too
// unless the compiler contracts elementwise code differently).
const char* gemm_variant();

namespace ref {
// The contract written as plain loops with std::fma: the tests' yardstick (bit equality).
void gemm(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* bias, float scale,
          float* y, int64_t ldy, int64_t N, int64_t K, int64_t M);
} // namespace ref

} // namespace attnscope
