// Merging stats-only shards (issue #23): the time and peak memory of `analyze` over N statistics
// files of GPT-2-small-shaped sums (12 layers x 12 heads, width 768, no covariances), for N = 10,
// 100 and 1,000. The shards are made here (random attention rows and hidden states through the
// Analyzer's public API, then write_statistics), each merge runs in a fresh process (this program
// again, with --merge) so its peak resident memory is its own, and beside each merge the time to
// read the same files' bytes (the bound a merge cannot beat). Prints one JSON line per N.
// The issue asks for 1,000 shards in under 5 s, with memory independent of the shard count.
//
//   build/bench/bench_merge_shards build/bench-merge          # makes build/bench-merge/shard-*/
#include "analysis/statistics.h"
#include "core/error.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace attnscope;
namespace fs = std::filesystem;

static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

static ModelConfig gpt2_small() {
    ModelConfig c;
    c.model_type = "gpt2";
    c.n_layer = 12, c.n_head = 12, c.n_embd = 768, c.d_head = 64, c.n_kv_head = 12, c.n_inner = 3072;
    c.vocab_size = 50257, c.n_positions = 1024;
    return c;
}

// The manifest a stats-only run of shard `index` of `count` (one text each) would carry.
static nlohmann::json manifest_of(const ModelConfig& c, int64_t index, int64_t count) {
    nlohmann::json layers = nlohmann::json::array();
    for (int il = 0; il < c.n_layer; ++il)
        layers.push_back(il);
    return {{"schema", kStatisticsSchema},
            {"model",
             {{"name", "gpt2-small-shaped (synthetic)"},
              {"model_type", c.model_type},
              {"dims", nlohmann::json(manifest_dims(c))}}},
            {"capture",
             {{"layers", layers},
              {"heads", nullptr},
              {"dtype", "F32"},
              {"max_length", 1024},
              {"batch_size", 8},
              {"statistics", {{"covariance", false}, {"max_offset", 32}}}}},
            {"shard", {{"index", index}, {"count", count}, {"first", index}, {"total", count}}}};
}

// One shard's sums: a text of T tokens, random causal attention rows and hidden states.
static void make_shard(const ModelConfig& c, int64_t index, int64_t count, const std::string& dir, std::mt19937& rng) {
    AnalysisOptions o;
    o.covariance = false;
    Analyzer an(c, o);
    an.set_rows_only();
    const int64_t T = 32, D = c.n_embd;
    std::vector<int32_t> tokens(static_cast<size_t>(T));
    for (auto& t : tokens)
        t = int32_t(rng() % 1000);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(T)), x(static_cast<size_t>(T * D)), y(x), r(x);
    for (int il = 0; il < c.n_layer; ++il) {
        an.mark_layer(il, {});
        for (int h = 0; h < c.n_head; ++h) {
            HeadAccum& a = an.head(il, h);
            for (int64_t i = 0; i < T; ++i) {
                float s = 0;
                for (int64_t j = 0; j <= i; ++j)
                    s += (row[size_t(j)] = u(rng) * u(rng));
                for (int64_t j = 0; j <= i; ++j)
                    row[size_t(j)] /= s;
                a.add_row(row.data(), i, i + 1, tokens.data());
            }
            a.end_sequence();
        }
        for (size_t k = 0; k < x.size(); ++k)
            x[k] = u(rng) - 0.5f, y[k] = u(rng) - 0.5f, r[k] = 4 * u(rng) - 2;
        an.add_hidden(il, TensorView::contiguous(x.data(), {T, D}), TensorView::contiguous(y.data(), {T, D}),
                      TensorView::contiguous(r.data(), {T, D}));
    }
    an.count_sequence(T);
    fs::create_directories(dir);
    write_statistics(an, (fs::path(dir) / kStatisticsFile).string(), manifest_of(c, index, count), false);
}

static std::string shard_dir(const std::string& root, int64_t n, int64_t i) {
    return (fs::path(root) / ("n" + std::to_string(n)) / ("shard-" + std::to_string(i))).string();
}

// The child: list and merge N shards, print seconds.
static int merge(const std::string& root, int64_t n) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<StatisticsFile>> files;
    std::vector<const StatisticsFile*> ptrs;
    for (int64_t i = n - 1; i >= 0; --i) // given in reverse: the merge puts them in order
        files.push_back(std::make_unique<StatisticsFile>(shard_dir(root, n, i))), ptrs.push_back(files.back().get());
    const AnalysisResult r = analyze_parts({}, ptrs, {});
    const double s = seconds_since(t0);
    if (r.n_sequences != n) throw Error(cat("merged ", r.n_sequences, " sequences, expected ", n));
    std::printf("%.6f\n", s);
    return 0;
}

// The bound: read every file's bytes once (from the page cache, as the merge does after it).
static double read_bytes(const std::string& root, int64_t n, int64_t& bytes) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<char> buf(1 << 20);
    bytes = 0;
    for (int64_t i = 0; i < n; ++i) {
        std::ifstream f((fs::path(shard_dir(root, n, i)) / kStatisticsFile).string(), std::ios::binary);
        while (f.read(buf.data(), std::streamsize(buf.size())) || f.gcount() > 0)
            bytes += f.gcount();
    }
    return seconds_since(t0);
}

int main(int argc, char** argv) try {
    if (argc == 4 && std::string(argv[1]) == "--merge") return merge(argv[2], std::atoll(argv[3]));
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench_merge_shards WORK_DIR\n");
        return 2;
    }
    const std::string root = argv[1];
    const ModelConfig c = gpt2_small();
    std::mt19937 rng(23);
    for (int64_t n : {10, 100, 1000}) {
        for (int64_t i = 0; i < n; ++i)
            if (!fs::exists(fs::path(shard_dir(root, n, i)) / kStatisticsFile)) make_shard(c, i, n, shard_dir(root, n, i), rng);
        int64_t bytes = 0;
        read_bytes(root, n, bytes); // warm the page cache, as a merge right after the array job finds it
        const double read_s = read_bytes(root, n, bytes);
        // the merge in a fresh process: its peak resident memory is its own
        int pipefd[2];
        if (::pipe(pipefd) != 0) throw Error("pipe failed");
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::dup2(pipefd[1], 1);
            ::execl("/proc/self/exe", argv[0], "--merge", root.c_str(), std::to_string(n).c_str(), (char*)nullptr);
            ::_exit(127);
        }
        ::close(pipefd[1]);
        char out[64] = {0};
        const ssize_t got = ::read(pipefd[0], out, sizeof(out) - 1);
        ::close(pipefd[0]);
        int status = 0;
        struct rusage ru {};
        ::wait4(pid, &status, 0, &ru);
        if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            throw Error(cat("the merge of ", n, " shards failed (status ", status, ")"));
        const double merge_s = std::atof(out);
        std::printf("{\"shards\": %lld, \"bytes_per_shard\": %lld, \"merge_s\": %.3f, \"read_bytes_s\": %.3f, "
                    "\"merge_over_read\": %.2f, \"peak_rss_mb\": %.1f, \"bound_s\": 5}\n",
                    (long long)n, (long long)(bytes / n), merge_s, read_s, merge_s / read_s, double(ru.ru_maxrss) / 1024);
        std::fflush(stdout);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_merge_shards: %s\n", e.what());
    return 1;
}
