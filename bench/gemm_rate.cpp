// The batch-invariant kernel's rate against OpenBLAS's sgemm, in one process: GPT-2 small's four
// layer products at 1024 rows (the shapes of an 8 x 128 or 1 x 1024 forward), each the best of
// 7 runs, on all threads. Prints one JSON object with both rates and their ratio (the "sgemm
// bound fraction" of the new kernel). bench/CMakeLists.txt builds it twice: for this machine
// (bench_gemm_rate: AVX-512 where there is one) and without AVX-512 (bench_gemm_rate_avx2), so
// both micro-kernels are measured on one machine.
//
//   build/bench/bench_gemm_rate; build/bench/bench_gemm_rate_avx2
#include "engine/gemm.h"

#include <algorithm>
#include <cblas.h>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

int main() {
    using namespace attnscope;
    const long N = 1024;
    const long shapes[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}}; // K, M
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    double flops = 0, t_gemm = 0, t_blas = 0;
    std::printf("{\"variant\": \"%s\", \"rows\": %ld, \"shapes\": [", gemm_variant(), N);
    for (const auto& s : shapes) {
        const long K = s[0], M = s[1];
        std::vector<float> x(size_t(N * K)), w(size_t(K * M)), y(size_t(N * M));
        for (auto& v : x)
            v = nd(rng);
        for (auto& v : w)
            v = nd(rng);
        auto best = [&](auto&& f) {
            double b = 1e30;
            for (int r = 0; r < 7; ++r) {
                const auto t0 = std::chrono::steady_clock::now();
                f();
                b = std::min(b, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
            return b;
        };
        const double g = best([&] { gemm(x.data(), K, w.data(), M, GemmB::k_by_m, nullptr, 1.0f, y.data(), M, N, K, M); });
        const double b = best([&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(N), int(M), int(K), 1.0f, x.data(), int(K),
                        w.data(), int(M), 0.0f, y.data(), int(M));
        });
        const double f = 2.0 * double(N * K * M);
        flops += f, t_gemm += g, t_blas += b;
        std::printf("%s{\"K\": %ld, \"M\": %ld, \"gemm_gflops\": %.1f, \"sgemm_gflops\": %.1f}", &s == shapes ? "" : ", ", K,
                    M, f / g / 1e9, f / b / 1e9);
    }
    std::printf("],\n \"gemm_gflops\": %.1f, \"sgemm_gflops\": %.1f, \"fraction_of_sgemm\": %.3f}\n", flops / t_gemm / 1e9,
                flops / t_blas / 1e9, t_blas / t_gemm);
    return 0;
}
