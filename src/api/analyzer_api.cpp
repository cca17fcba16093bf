// AttentionDataAnalyzer (capture directories -> AnalysisResult -> report files) and the parts
// of Runner that analyse: analyze_attention_patterns(dir) and probe_heads(), which runs the
// model on repeated random-token blocks and feeds the patterns straight to an Analyzer.
#include "api/analyzer_api.h"

#include "api/runner.h"
#include "core/error.h"
#include "report/report.h"

#include <algorithm>

namespace attnscope {

AttentionDataAnalyzer::AttentionDataAnalyzer(const std::string& dir, AnalysisOptions options)
    : AttentionDataAnalyzer(std::vector<std::string>{dir}, options) {}

AttentionDataAnalyzer::AttentionDataAnalyzer(const std::vector<std::string>& dirs, AnalysisOptions options)
    : dirs_(dirs), options_(options) {
    if (dirs_.empty()) throw Error("no capture directory given", "pass the directory written by attnscope run");
    for (const auto& d : dirs_)
        readers_.push_back(std::make_unique<CaptureReader>(d));
}

AttentionDataAnalyzer::~AttentionDataAnalyzer() = default;

const AnalysisResult& AttentionDataAnalyzer::analyze(const std::function<void(int64_t, int64_t)>& progress) {
    if (!result_) {
        std::vector<const CaptureReader*> rs;
        for (const auto& r : readers_)
            rs.push_back(r.get());
        result_ = std::make_unique<AnalysisResult>(analyze_captures(rs, options_, progress));
    }
    return *result_;
}

std::vector<std::string> AttentionDataAnalyzer::create_comprehensive_report(const std::string& out_dir) {
    return write_report(analyze(), out_dir.empty() ? dirs_[0] : out_dir);
}

// splitmix64: a portable generator, so a seed gives the same probe everywhere.
static uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::vector<std::vector<int32_t>> probe_sequences(int32_t V, const std::vector<int32_t>& exclude,
                                                  const ProbeOptions& o) {
    if (o.n_sequences < 1 || o.n_sequences > 100000)
        throw Error(cat("probe: ", o.n_sequences, " sequences is outside 1..100000"));
    if (o.block < 2) throw Error(cat("probe: block length ", o.block, " is below 2"));
    std::vector<int32_t> pool;
    const int32_t lo = V > 1024 ? 256 : 0;
    for (int32_t id = lo; id < V; ++id)
        if (std::find(exclude.begin(), exclude.end(), id) == exclude.end()) pool.push_back(id);
    if (pool.size() < 2) throw Error(cat("probe: the vocabulary (", V, " ids) leaves no tokens to draw from"));
    uint64_t state = o.seed;
    std::vector<std::vector<int32_t>> out;
    for (int s = 0; s < o.n_sequences; ++s) {
        std::vector<int32_t> seq(size_t(2 * o.block));
        for (int k = 0; k < o.block; ++k)
            seq[size_t(k)] = seq[size_t(k + o.block)] = pool[size_t(splitmix(state) % pool.size())];
        out.push_back(std::move(seq));
    }
    return out;
}

AnalysisResult Runner::analyze_attention_patterns(const std::string& dir) const {
    AttentionDataAnalyzer an(dir);
    return an.analyze();
}

AnalysisResult Runner::probe_heads(const ProbeOptions& options, AnalysisOptions analysis) const {
    const ModelConfig& cfg = model_->config();
    if (2 * int64_t(options.block) > cfg.n_positions)
        throw Error(cat("probe: 2 x block = ", 2 * options.block,
                        " tokens is more than the model's n_positions = ", cfg.n_positions),
                    cat("use --block ", cfg.n_positions / 2, " or less"));
    std::vector<int32_t> exclude;
    for (const char* special : {"<|endoftext|>", "<|startoftext|>", "<pad>", "<s>", "</s>", "<unk>"})
        if (auto id = tokenizer_->token_id(special)) exclude.push_back(*id);
    const auto seqs = probe_sequences(int32_t(cfg.vocab_size), exclude, options);
    Analyzer an(cfg, analysis);
    HookSet hooks;
    hooks.add(HookFilter::parse("blocks.*.attn.hook_pattern", "", ""),
              [&](const HookContext& ctx, TensorView pattern) { an.add_pattern(ctx.layer, pattern); });
    RunState state;
    for (const auto& s : seqs) {
        an.begin_sequence(s, tokenizer_->display(s));
        forward(*model_, Batch::from_sequences({s}), hooks, state);
        an.end_sequence();
    }
    AnalysisResult r = an.finish();
    r.model = resolved_.name;
    r.notes.push_back(cat("probe: ", options.n_sequences, " sequences of a random ", options.block,
                          "-token block repeated twice (seed ", options.seed, ")"));
    return r;
}

} // namespace attnscope
