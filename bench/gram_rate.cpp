// The hidden states' covariance sums (analysis: gram_upper_add, the upper triangle of X^T X in
// double, each element in a fixed order) against OpenBLAS's cblas_dsyrk on the same shapes, in one
// run, all threads: what analysing a capture's inputs and outputs costs per layer and sequence.
//   build/bench/bench_gram_rate [T D ...]     (default: 128 768, 512 768, 512 1600)
#include "analysis/analyzer.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

namespace {

double seconds_of(const std::function<void()>& fn) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::pair<int64_t, int64_t>> shapes = {{128, 768}, {512, 768}, {512, 1600}};
    if (argc > 2) {
        shapes.clear();
        for (int i = 1; i + 1 < argc; i += 2)
            shapes.push_back({std::atoll(argv[i]), std::atoll(argv[i + 1])});
    }
    std::printf("| T | D | gram_upper_add | cblas_dsyrk | ratio | max rel. difference |\n| --- | --- | --- | --- | --- | --- |\n");
    for (auto [T, D] : shapes) {
        std::mt19937 rng(1);
        std::normal_distribution<double> nd;
        std::vector<double> x(size_t(T * D));
        for (double& v : x)
            v = nd(rng);
        std::vector<double> a(size_t(D * D)), b(size_t(D * D));
        const double ours = seconds_of([&] {
            std::fill(a.begin(), a.end(), 0.0);
            attnscope::gram_upper_add(x.data(), T, D, a.data());
        });
        const double blas = seconds_of([&] {
            std::fill(b.begin(), b.end(), 0.0);
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(D), int(T), 1.0, x.data(), int(D), 1.0, b.data(),
                        int(D));
        });
        double worst = 0;
        for (int64_t i = 0; i < D; ++i)
            for (int64_t j = i; j < D; ++j)
                worst = std::max(worst, std::abs(a[size_t(i * D + j)] - b[size_t(i * D + j)]) /
                                            std::max(1e-300, std::abs(b[size_t(i * D + j)])));
        const double gflop = double(T) * double(D) * double(D + 1) / 1e9; // D(D+1)/2 sums of T products
        std::printf("| %lld | %lld | %.2f ms (%.1f GFLOP/s) | %.2f ms (%.1f GFLOP/s) | %.2fx | %.1e |\n", (long long)T,
                    (long long)D, ours * 1e3, gflop / ours, blas * 1e3, gflop / blas, ours / blas, worst);
    }
}
