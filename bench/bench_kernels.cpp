// Google Benchmark timings of the forward pass's kernels at GPT-2-small shapes, each fast kernel
// beside its plain scalar definition (namespace ref) or its alternative, and (when
// ATTNSCOPE_BENCH_MODEL names a model directory) whole forward passes with and without the
// attention patterns materialised. Never run by the tests.
//
//   build/bench/bench_kernels                                   # every kernel
//   build/bench/bench_kernels --benchmark_filter=Attention      # a subset
//   ATTNSCOPE_BENCH_MODEL=/tmp/gpt2-small build/bench/bench_kernels --benchmark_filter=Forward
//
// Matrix products report GFLOP/s as the counter "flops" (2 N K M per product).
#include "core/threads.h"
#include "engine/forward.h"
#include "engine/kernels.h"
#include "random_data.h"

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

using namespace attnscope;

namespace {

using test::random_vector;

void set_flops(benchmark::State& state, double flops_per_iteration) {
    state.counters["flops"] = benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// Selects the products' backend from a benchmark argument (0 the batch-invariant gemm, 1
// OpenBLAS); false, the benchmark skipped with the reason, when the build has no OpenBLAS.
bool select_backend(benchmark::State& state, int64_t arg) {
    const MatmulBackend b = arg ? MatmulBackend::openblas : MatmulBackend::invariant;
    if (!matmul_backend_available(b)) {
        state.SkipWithError("OpenBLAS is not built in (scripts/setup-debian.sh --bench, then rebuild)");
        return false;
    }
    set_matmul_backend(b);
    return true;
}

// y[N, M] = x[N, K] @ w[K, M] + b: the four products of a GPT-2 layer (qkv, attention output,
// MLP in, MLP out) at 128 and 1024 rows, and a decode step's one row; last argument: 0 the
// batch-invariant gemm (gemm.h), 1 OpenBLAS's sgemm, in the same run.
void BM_Matmul(benchmark::State& state) {
    const int64_t N = state.range(0), K = state.range(1), M = state.range(2);
    if (!select_backend(state, state.range(3))) return;
    auto x = random_vector(size_t(N * K), 1), w = random_vector(size_t(K * M), 2), b = random_vector(size_t(M), 3);
    std::vector<float> y(size_t(N * M));
    for (auto _ : state) {
        matmul(x.data(), w.data(), b.data(), y.data(), N, K, M);
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, 2.0 * double(N * K * M));
    set_matmul_backend(MatmulBackend::invariant);
}
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{1, 128, 1024}, {768}, {2304, 768, 3072}, {0, 1}})
    ->ArgsProduct({{128, 1024}, {3072}, {768}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// The tied LM head of GPT-2 small (x @ wte^T, vocab 50,257) at 1024 rows and one row.
void BM_MatmulLmHead(benchmark::State& state) {
    const int64_t N = state.range(0), K = 768, M = 50257;
    if (!select_backend(state, state.range(1))) return;
    auto x = random_vector(size_t(N * K), 1), w = random_vector(size_t(K * M), 2);
    std::vector<float> y(size_t(N * M));
    for (auto _ : state) {
        matmul_nt(x.data(), w.data(), nullptr, y.data(), N, K, M);
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, 2.0 * double(N * K * M));
    set_matmul_backend(MatmulBackend::invariant);
}
BENCHMARK(BM_MatmulLmHead)->ArgsProduct({{1, 1024}, {0, 1}})->Unit(benchmark::kMicrosecond)->UseRealTime();

// The four products of each of GPT-2 small's 12 layers in order, every layer with its own
// weights (340 MB: read from memory, as in a forward pass, not from cache), at 1024 rows;
// last argument: 0 the batch-invariant gemm, 1 OpenBLAS.
void BM_MatmulLayers(benchmark::State& state) {
    const int64_t N = state.range(0), D = 768, F = 3072, L = 12;
    if (!select_backend(state, state.range(1))) return;
    std::vector<std::vector<float>> w;
    for (int64_t il = 0; il < L; ++il)
        for (auto [k, m] : {std::pair{D, 3 * D}, std::pair{D, D}, std::pair{D, F}, std::pair{F, D}})
            w.push_back(random_vector(size_t(k * m), unsigned(il * 4 + 1)));
    auto x = random_vector(size_t(N * F), 1);
    std::vector<float> y(size_t(N * F));
    for (auto _ : state) {
        for (int64_t il = 0; il < L; ++il) {
            matmul(x.data(), w[size_t(il * 4)].data(), nullptr, y.data(), N, D, 3 * D);
            matmul(x.data(), w[size_t(il * 4 + 1)].data(), nullptr, y.data(), N, D, D);
            matmul(x.data(), w[size_t(il * 4 + 2)].data(), nullptr, y.data(), N, D, F);
            matmul(x.data(), w[size_t(il * 4 + 3)].data(), nullptr, y.data(), N, F, D);
        }
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, 2.0 * double(N) * double(L) * double(D * 3 * D + D * D + 2 * D * F));
    set_matmul_backend(MatmulBackend::invariant);
}
BENCHMARK(BM_MatmulLayers)->ArgsProduct({{1024}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// The same 1024 x 768 x 3072 product as 8 products of 128 rows (one per sequence of a batch)
// against one product of 1024 rows: what multiplying sequence by sequence costs.
void BM_MatmulPerSequence(benchmark::State& state) {
    const int64_t n_seq = state.range(0), T = 1024 / n_seq, K = 768, M = 3072;
    auto x = random_vector(size_t(1024 * K), 1), w = random_vector(size_t(K * M), 2), b = random_vector(size_t(M), 3);
    std::vector<float> y(size_t(1024 * M));
    for (auto _ : state) {
        for (int64_t s = 0; s < n_seq; ++s)
            matmul(x.data() + s * T * K, w.data(), b.data(), y.data() + s * T * M, T, K, M);
        benchmark::DoNotOptimize(y.data());
    }
    set_flops(state, 2.0 * double(1024 * K * M));
}
BENCHMARK(BM_MatmulPerSequence)->Arg(1)->Arg(8)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_LayerNorm(benchmark::State& state) {
    const int64_t N = state.range(0), D = 768;
    auto x = random_vector(size_t(N * D), 1), g = random_vector(size_t(D), 2), b = random_vector(size_t(D), 3);
    std::vector<float> y(size_t(N * D));
    for (auto _ : state) {
        layer_norm(x.data(), g.data(), b.data(), y.data(), N, D, 1e-5f);
        benchmark::DoNotOptimize(y.data());
    }
    state.SetItemsProcessed(state.iterations() * N * D);
}
BENCHMARK(BM_LayerNorm)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();

// GELU over one layer's MLP activations (1024 x 3072): the vectorised kernel and std::tanh.
template <void (*Gelu)(float*, int64_t)> void BM_Gelu(benchmark::State& state) {
    const auto x0 = random_vector(size_t(1024 * 3072), 1, 2.0f);
    auto x = x0;
    for (auto _ : state) {
        state.PauseTiming();
        x = x0;
        state.ResumeTiming();
        Gelu(x.data(), int64_t(x.size()));
        benchmark::DoNotOptimize(x.data());
    }
    state.SetItemsProcessed(state.iterations() * int64_t(x.size()));
}
BENCHMARK(BM_Gelu<gelu_tanh>)->Name("BM_Gelu/fast")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Gelu<ref::gelu_tanh>)->Name("BM_Gelu/ref")->Unit(benchmark::kMicrosecond)->UseRealTime();

// Softmax of causal rows of a T x T pattern (row i sees i + 1 keys), one thread.
template <void (*Softmax)(float*, int64_t)> void BM_Softmax(benchmark::State& state) {
    const int64_t T = state.range(0);
    const auto s0 = random_vector(size_t(T * T), 1, 3.0f);
    auto s = s0;
    for (auto _ : state) {
        state.PauseTiming();
        s = s0;
        state.ResumeTiming();
        for (int64_t i = 0; i < T; ++i)
            Softmax(s.data() + i * T, i + 1);
        benchmark::DoNotOptimize(s.data());
    }
    state.SetItemsProcessed(state.iterations() * T * (T + 1) / 2);
}
BENCHMARK(BM_Softmax<softmax_row>)->Name("BM_Softmax/fast")->Arg(128)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Softmax<ref::softmax_row>)->Name("BM_Softmax/ref")->Arg(128)->Arg(1024)->Unit(benchmark::kMicrosecond);

// One head of causal attention over T tokens (d = 64, q/k/v rows 2304 floats apart as in the
// forward's qkv buffer), one thread: blocks of 64 query rows through sgemm (as the forward
// runs it) against the scalar row-by-row definition. Arg 1 = 1 also writes the pattern into a
// [T, T] buffer (the capture path) instead of a [64, T] scratch.
void BM_AttentionHead(benchmark::State& state) {
    const int64_t T = state.range(0), d = 64, ld = 2304, B = 64;
    const bool pattern = state.range(1) != 0;
    if (!select_backend(state, state.range(2))) return;
    auto qkv = random_vector(size_t(T * ld), 1);
    const float *q = qkv.data(), *k = q + 768, *v = q + 1536;
    std::vector<float> buf(size_t(pattern ? T * T : B * T)), z(size_t(T * d));
    const float scale = 0.125f;
    const int threads = num_threads();
    set_num_threads(1); // as in the forward, where each thread runs its own heads
    for (auto _ : state) {
        for (int64_t i0 = 0; i0 < T; i0 += B) {
            const int64_t rows = std::min(B, T - i0), nb = i0 + rows;
            float* s = pattern ? buf.data() + i0 * T : buf.data();
            const int64_t ls = pattern ? T : nb;
            attention_scores_block(q + i0 * ld, ld, k, ld, rows, nb, d, scale, s, ls);
            for (int64_t r = 0; r < rows; ++r) {
                softmax_row(s + r * ls, i0 + r + 1);
                std::fill(s + r * ls + i0 + r + 1, s + r * ls + nb, 0.0f);
            }
            attention_values_block(s, ls, v, ld, rows, nb, d, z.data() + i0 * d, d);
        }
        benchmark::DoNotOptimize(z.data());
    }
    set_num_threads(threads);
    set_matmul_backend(MatmulBackend::invariant);
    set_flops(state, 4.0 * double(T * T * d)); // the full square, as the sgemm bound counts it
}
// last argument: 0 the batch-invariant gemm, 1 OpenBLAS
BENCHMARK(BM_AttentionHead)->ArgsProduct({{128, 1024}, {0, 1}, {0, 1}})->Unit(benchmark::kMicrosecond);

void BM_AttentionHeadRef(benchmark::State& state) {
    const int64_t T = state.range(0), d = 64, ld = 2304;
    auto qkv = random_vector(size_t(T * ld), 1);
    const float *q = qkv.data(), *k = q + 768, *v = q + 1536;
    std::vector<float> row(static_cast<size_t>(T)), z(static_cast<size_t>(T * d));
    for (auto _ : state) {
        for (int64_t i = 0; i < T; ++i) {
            ref::scores_row(q + i * ld, k, ld, i + 1, d, 0.125f, row.data());
            ref::softmax_row(row.data(), i + 1);
            ref::weighted_sum_row(row.data(), v, ld, i + 1, d, z.data() + i * d);
        }
        benchmark::DoNotOptimize(z.data());
    }
    set_flops(state, 4.0 * double(T * T * d));
}
BENCHMARK(BM_AttentionHeadRef)->Arg(128)->Arg(1024)->Unit(benchmark::kMicrosecond);

// Whole forward passes of the model in $ATTNSCOPE_BENCH_MODEL (skipped without it): 8 x 128
// and 1 x 1024 tokens; third argument: 0 no hook (fused attention), 1 a read-only pattern hook on
// every layer (the streamed path, an [H, T, T] buffer), 2 whole heads handed to
// ForwardOptions::attention_heads (what a capture does); the callbacks only touch the data.
const Model* bench_model() {
    static std::shared_ptr<const Model> model = [] {
        // ATTNSCOPE_BENCH_WEIGHTS=f32 widens 16-bit weights at load (as --weights f32)
        const char* dir = std::getenv("ATTNSCOPE_BENCH_MODEL");
        const char* w = std::getenv("ATTNSCOPE_BENCH_WEIGHTS");
        LoadOptions lo;
        lo.weights_f32 = w && std::string(w) == "f32";
        return dir ? Model::load(dir, lo) : nullptr;
    }();
    return model.get();
}

void BM_Forward(benchmark::State& state) {
    const Model* model = bench_model();
    if (!model) {
        state.SkipWithError("set ATTNSCOPE_BENCH_MODEL to a model directory");
        return;
    }
    const int64_t n_seq = state.range(0), T = state.range(1);
    std::mt19937 rng(1);
    std::uniform_int_distribution<int32_t> tok(0, int32_t(model->config().vocab_size - 1));
    std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(n_seq), std::vector<int32_t>(static_cast<size_t>(T)));
    for (auto& s : seqs)
        for (auto& t : s)
            t = tok(rng);
    const Batch batch = Batch::from_sequences(seqs);
    HookSet hooks;
    ForwardOptions fo;
    if (state.range(2) == 1)
        hooks.add(HookFilter::parse("blocks.*.attn.hook_pattern", "", ""),
                  [](const HookContext&, TensorView v) { benchmark::DoNotOptimize(v.data); });
    if (state.range(2) == 2)
        fo.attention_heads = [](int, int, int, const float* p, int64_t) { benchmark::DoNotOptimize(p); };
    if (!select_backend(state, state.range(3))) return;
    RunState run;
    forward(*model, batch, hooks, run, fo); // grow the buffers once
    for (auto _ : state)
        forward(*model, batch, hooks, run, fo);
    state.SetItemsProcessed(state.iterations() * n_seq * T);
    set_matmul_backend(MatmulBackend::invariant);
}
// last argument: 0 the batch-invariant products (gemm.h), 1 OpenBLAS (the path before issue #24)
BENCHMARK(BM_Forward)
    ->Args({8, 128, 0, 0})
    ->Args({8, 128, 0, 1})
    ->Args({8, 128, 1, 0})
    ->Args({8, 128, 1, 1})
    ->Args({8, 128, 2, 0})
    ->Args({8, 128, 2, 1})
    ->Args({1, 512, 0, 0})
    ->Args({1, 512, 2, 0})
    ->Args({1, 1024, 0, 0})
    ->Args({1, 1024, 0, 1})
    ->Args({1, 1024, 1, 0})
    ->Args({1, 1024, 2, 0})
    ->Args({1, 1024, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

} // namespace

BENCHMARK_MAIN();
