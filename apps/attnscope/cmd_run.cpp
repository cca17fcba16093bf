// attnscope run: runs texts through a model and captures every attention block into a directory (or, with --stats-only,
// writes the statistics and their sums).
#include "cli.h"

namespace attnscope::cli {

namespace fs = std::filesystem;

int cmd_run(const Args& args) {
    RunnerOptions opt = capture_options(args);
    opt.resume = args.has("--resume");
    auto number = [&](const char* flag, long fallback) {
        const std::string v = args.get(flag);
        if (v.empty()) return fallback;
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (*end || n < 1 || n > 100000000) throw Error(cat(flag, ": expected a positive number, found '", v, "'"));
        return n;
    };
    opt.batch_size = int(number("--batch-size", 8));
    const std::string output = args.require("--output", "run");
    std::vector<std::string> texts = texts_of(args, "run");
    ShardInfo shard;
    if (args.has("--shard")) { // this task's slice of the corpus; the manifest records it
        const auto [index, count] = parse_shard(args.get("--shard"));
        shard = shard_of(index, count, int64_t(texts.size()));
        const int64_t last = shard.end();
        texts = std::vector<std::string>(texts.begin() + shard.first, texts.begin() + last);
    }
    Runner runner(args.require("--model", "run"), opt);
    PreparedData data = runner.prepare_data(std::move(texts), number("--max-length", 0));
    data.shard = shard;
    std::signal(SIGINT, on_sigint);
    std::signal(SIGTERM, on_sigint);
    if (args.has("--stats-only")) {
        const AnalysisResult r = runner.run_stats_only(data, output);
        std::fprintf(stderr, "attnscope: wrote %s/%s (%.2f MB), %s and %s: %lld texts, %lld tokens\n", output.c_str(),
                     kStatisticsFile,
                     double(std::filesystem::file_size(std::filesystem::path(output) / kStatisticsFile)) / 1e6,
                     kReportFile, kSummaryFile, (long long)r.n_sequences, (long long)r.n_tokens);
        return 0;
    }
    if (args.has("--covariance"))
        throw Error("run: --covariance goes with --stats-only",
                    "a capture keeps the hidden states themselves; analyze computes their covariances");
    const CaptureSummary s = runner.run_with_hooks(data, output);
    std::fprintf(stderr, "attnscope: wrote %s: %lld texts, %lld tokens, %lld tensors, %.1f MB in %.1f s\n",
                 s.dir.c_str(), (long long)s.n_sequences, (long long)s.n_tokens, (long long)s.n_tensors,
                 double(s.bytes) / 1e6, s.seconds);
    return 0;
}

} // namespace attnscope::cli
