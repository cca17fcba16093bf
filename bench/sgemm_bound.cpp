// The sgemm bound of a GPT-2 forward pass: how long its matrix products would take at the best
// rate cblas_sgemm reaches on this machine. Prints one JSON object.
//
//   build/bench/bench_sgemm_bound --seqs 8 --tokens 128          # GPT-2 small shapes
//   build/bench/bench_sgemm_bound --seqs 1 --tokens 1024 --layers 12 --embd 768 --heads 12
//
// Matrix FLOPs per forward, without the LM head (a capture run computes no logits), counting
// attention as the full T x T square (as the usual 2 N params + 4 T d H L per token estimate does):
//   per token and layer: 2 (D 3D + D D + D F + F D)  +  4 T D   (Q K^T and P V over all T keys)
// The rate is the best of 20 products of 1024 x 768 x 3072 (the MLP's first product at 8 x 128
// tokens), measured in this process, on all threads of OpenBLAS's OpenMP build.
#include <algorithm>
#include <cblas.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    long seqs = 8, tokens = 128, layers = 12, embd = 768, heads = 12;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const long v = std::strtol(argv[i + 1], nullptr, 10);
        if (v <= 0) {
            std::fprintf(stderr, "bench_sgemm_bound: %s needs a positive integer, found '%s'\n", a.c_str(),
                         argv[i + 1]);
            return 2;
        }
        if (a == "--seqs")
            seqs = v;
        else if (a == "--tokens")
            tokens = v;
        else if (a == "--layers")
            layers = v;
        else if (a == "--embd")
            embd = v;
        else if (a == "--heads")
            heads = v;
        else {
            std::fprintf(stderr, "bench_sgemm_bound: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    const int M = 1024, K = 768, N = 3072;
    std::vector<float> a(size_t(M) * K), b(size_t(K) * N), c(size_t(M) * N);
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& x : a)
        x = dist(rng);
    for (auto& x : b)
        x = dist(rng);
    double best = 1e30;
    for (int r = 0; r < 20; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(),
                    N);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double rate = 2.0 * M * N * K / best; // FLOP/s
    const double D = double(embd), F = 4.0 * D, T = double(tokens);
    const double per_token = double(layers) * (2.0 * (D * 3 * D + D * D + D * F + F * D) + 4.0 * T * D);
    const double flops = per_token * T * double(seqs);
    std::printf("{\"sgemm_gflops\": %.1f, \"forward_gflop\": %.2f, \"mflop_per_token\": %.1f, \"bound_seconds\": %.4f, "
                "\"tokens\": %ld}\n",
                rate / 1e9, flops / 1e9, per_token / 1e6, flops / rate, seqs * tokens);
    (void)heads;
    return 0;
}
