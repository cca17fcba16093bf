// Kernels: the numerical building blocks of a forward pass, written as the maths.
//
//   matmul(x, w, b, y, N, K, M);              // y[N,M] = x[N,K] @ w[K,M] + b      (OpenBLAS sgemm)
//   matmul_nt(x, w, y, N, K, M);              // y[N,M] = x[N,K] @ w[M,K]^T        (tied LM head)
//   layer_norm(x, g, b, y, N, D, eps);        // per row: (x - mean) / sqrt(var + eps) * g + b
//   gelu_tanh(x, n);                          // in place
//
// Every kernel is a plain function over flat row-major arrays; shapes are arguments. Each has
// a scalar definition that tests compare against (tests/engine/test_kernels.cpp).
#pragma once

#include <cstdint>

namespace attnscope {

// y[N,M] = x[N,K] @ w[K,M] (+ b[M] broadcast over rows when b is not null).
void matmul(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t K, int64_t M);
// y[N,M] = x[N,K] @ w[M,K]^T.
void matmul_nt(const float* x, const float* w, float* y, int64_t N, int64_t K, int64_t M);

// Layer normalisation over the last dimension (biased variance, as torch.nn.LayerNorm).
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t N, int64_t D, float eps);

// Activations, in place over n values.
void gelu_tanh(float* x, int64_t n); // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  — "gelu_new"
void gelu_erf(float* x, int64_t n);  // 0.5 x (1 + erf(x / sqrt(2)))                      — "gelu"
void relu(float* x, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// One attention row, the three steps shared by every attention path so that they all give
// bit-identical results:
//   scores_row[j] = scale * dot(q, k_j) for j < n_keys        (k_j = k + j * k_stride)
//   softmax_row: p = exp(s - max) / sum, in place; -inf scores become exactly 0
//   weighted_sum_row: out[c] = sum_j p[j] * v_j[c]            (v_j = v + j * v_stride)
void scores_row(const float* q, const float* k, int64_t k_stride, int64_t n_keys, int64_t d, float scale, float* s);
void softmax_row(float* s, int64_t n);
void weighted_sum_row(const float* p, const float* v, int64_t v_stride, int64_t n_keys, int64_t d, float* out);

} // namespace attnscope
