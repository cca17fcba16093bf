// attnscope run: runs texts through a model and captures every attention block into a directory (or, with --stats-only,
// writes the statistics and their sums).
#include "cli.h"

namespace attnscope::cli {

int cmd_run(const Args& args) {
    RunnerOptions opt = capture_options(args);
    opt.resume = args.has("--resume");
    opt.batch_size = int(args.integer("--batch-size", 1, 100000000));
    const std::string output = args.require("--output");
    std::vector<std::string> texts = texts_of(args, "run");
    ShardInfo shard;
    if (args.has("--shard")) { // this task's slice of the corpus; the manifest records it
        shard = shard_of(args.get("--shard"), int64_t(texts.size()));
        const int64_t last = shard.end();
        texts = std::vector<std::string>(texts.begin() + shard.first, texts.begin() + last);
    }
    Runner runner(model_arg(args), opt);
    PreparedData data = runner.prepare_data(std::move(texts), args.integer("--max-length", 1, 100000000, 0));
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
    if (args.has("--loss"))
        throw Error("run: --loss goes with --stats-only", "capture logits (--capture logits) to compute it from a capture");
    const CaptureSummary s = runner.run_with_hooks(data, output);
    std::fprintf(stderr, "attnscope: wrote %s: %lld texts, %lld tokens, %lld tensors, %.1f MB in %.1f s\n",
                 s.dir.c_str(), (long long)s.n_sequences, (long long)s.n_tokens, (long long)s.n_tensors,
                 double(s.bytes) / 1e6, s.seconds);
    return 0;
}

extern const Verb verb_run{
    "run",
    "--model M (--text T ... | --input FILE) --output DIR [options]",
    "run texts through a model and capture every attention block",
    "Runs the texts through the model in batches and captures what happens in every attention block into DIR "
    "(manifest.json and safetensors files; docs/capture-format.md). With --stats-only nothing is stored but the "
    "statistics, computed while the forward pass runs. Progress goes to stderr; Ctrl-C stops between batches and "
    "--resume continues.",
    join({{model_option(), revision_option()},
          text_options(),
          {{"--output", "DIR", "", "the capture directory (made when missing; must be empty unless --force)"},
           {"--max-length", "N", "", "truncate texts to N tokens; default the model's context"},
           {"--batch-size", "N", "8", "texts per forward pass"}},
          capture_option_list(),
          {{"--resume", "", "",
            "continue an interrupted run (the same command) after its last recorded batch; the result is "
            "byte-identical to an uninterrupted run"},
           {"--shard", "I/N", "",
            "only the I-th (from 0) of N contiguous, nearly equal slices of the texts (one Slurm array task "
            "each); analyze on all N shards gives the whole run's summary"},
           {"--stats-only", "", "",
            "store no tensors: compute the per-head statistics from each attention row during the forward pass "
            "(memory O(layers x heads x T)) and write the report, the summary and statistics.safetensors (the "
            "sums: shards merge with analyze); --resume continues from the last checkpoint of the sums"},
           {"--covariance", "", "",
            "with --stats-only: also keep the hidden states' covariances, for the effective dimensionality (3 x "
            "layers x width^2 numbers: 85 MB for GPT-2 small)"},
           {"--loss", "", "",
            "with --stats-only: also measure the model's next-token loss on the texts (mean cross-entropy per "
            "predicted token, in the report and the summary; computes every row's logits)"}}}),
    cmd_run};

} // namespace attnscope::cli
