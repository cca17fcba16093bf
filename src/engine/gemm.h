// Matrix products whose every output element has one fixed reduction order, whatever the number
// of rows, the thread count or how the work is split: so a sequence's values are bit-identical
// alone or in any batch, with any --threads, in any shard (issue #24).
//
//   // y[N, M] = x[N, K] @ w[K, M] + b     (w as stored by GPT-2's Conv1D)
//   gemm(x, K, w, M, GemmB::k_by_m, b, 1.0f, y, M, N, K, M);
//   // y[N, M] = scale * x[N, K] @ w[M, K]^T (nn.Linear, attention scores Q K^T)
//   gemm(q, ldq, k, ldk, GemmB::m_by_k, nullptr, scale, s, lds, rows, d, n);
//
// The contract, per element: acc = 0; for k = 0, 1, ..., K-1: acc = fma(x[n][k], w(k, m), acc);
// then y[n][m] = acc * scale (when scale != 1) + b[m] (when b is given). Every code path — the
// AVX-512 and AVX2 micro-kernels, a tile's edge, the scalar fallback — performs exactly this chain
// of single-rounding fused multiply-adds, so the bits depend on nothing but the operands. Threads
// split the output's columns, never K, and blocking of K only pauses a chain (the partial sum is
// stored as the float it is and resumed).
#pragma once

#include <cstdint>

namespace attnscope {

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
// The contract written as three loops with std::fma: the tests' yardstick (bit equality).
void gemm(const float* x, int64_t ldx, const float* w, int64_t ldw, GemmB layout, const float* bias, float scale,
          float* y, int64_t ldy, int64_t N, int64_t K, int64_t M);
} // namespace ref

} // namespace attnscope
