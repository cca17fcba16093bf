// AttentionDataAnalyzer (capture directories -> AnalysisResult -> report files) and the parts
// of Runner that analyse: analyze_attention_patterns(dir) and probe_heads(), which runs the
// model on repeated random-token blocks and feeds the patterns straight to an Analyzer.
#include "api/analyzer_api.h"

#include "analysis/statistics.h"
#include "api/runner.h"
#include "core/error.h"
#include "io/json.h"
#include "render/figures.h"
#include "render/viewer.h"
#include "report/report.h"

#include <filesystem>

#include <algorithm>

namespace attnscope {

AttentionDataAnalyzer::AttentionDataAnalyzer(const std::string& dir, AnalysisOptions options)
    : AttentionDataAnalyzer(std::vector<std::string>{dir}, options) {}

AttentionDataAnalyzer::AttentionDataAnalyzer(const std::vector<std::string>& dirs, AnalysisOptions options)
    : dirs_(dirs), options_(options) {
    if (dirs_.empty()) throw Error("no capture directory given", "pass the directory written by attnscope run");
    for (const auto& d : dirs_) {
        if (is_statistics(d))
            statistics_.push_back(std::make_unique<StatisticsFile>(d));
        else
            readers_.push_back(std::make_unique<CaptureReader>(d));
    }
}

const CaptureReader& AttentionDataAnalyzer::patterns_reader(const char* what) const {
    if (readers_.empty())
        throw Error(cat(dirs_[0], ": a stats-only directory holds sums, not the attention patterns ", what, " draws"),
                    "capture with attnscope run (without --stats-only) for heatmaps and the viewer");
    return *readers_[0];
}

AttentionDataAnalyzer::~AttentionDataAnalyzer() = default;

static bool same_options(const AnalysisOptions& a, const AnalysisOptions& b) {
    return a.redundant_js == b.redundant_js && a.max_offset == b.max_offset && a.uniform_entropy == b.uniform_entropy &&
           a.sink_only == b.sink_only && a.collapse_cosine == b.collapse_cosine && a.label_score == b.label_score &&
           a.rollout_sequences == b.rollout_sequences && a.covariance == b.covariance;
}

std::unique_ptr<AnalysisResult> AttentionDataAnalyzer::load_stored(const std::vector<const CaptureReader*>& rs) {
    std::vector<std::string> candidates = summary_dirs_;
    candidates.push_back(dirs_[0]);
    std::string fingerprint;
    for (const auto& dir : candidates) {
        const std::string path = (std::filesystem::path(dir) / kSummaryFile).string();
        if (!std::filesystem::exists(path)) continue;
        if (fingerprint.empty()) fingerprint = capture_fingerprint(rs);
        auto say = [&](const std::string& why) {
            if (notice_) notice_(cat(path, " ", why, ": analysing the capture again"));
        };
        try {
            const nlohmann::json j = read_json_file(path);
            if (!j.is_object() || j.value("capture_fingerprint", std::string()) != fingerprint) {
                say("is not the analysis of the capture as it is now (it changed after analyze, or is another one)");
                continue;
            }
            auto r = std::make_unique<AnalysisResult>(analysis_from_summary(j, rs[0]->config()));
            if (!same_options(r->options, options_)) {
                say("was made with other analysis options");
                continue;
            }
            return r;
        } catch (const Error& e) {
            say(cat("cannot be reused (", e.what(), ")"));
        }
    }
    return nullptr;
}

const AnalysisResult& AttentionDataAnalyzer::analyze(const std::function<void(int64_t, int64_t)>& progress) {
    if (!result_) {
        std::vector<const CaptureReader*> rs;
        for (const auto& r : readers_)
            rs.push_back(r.get());
        if (!statistics_.empty()) { // sums of parts: merged each time (cheap), never stored
            std::vector<const StatisticsFile*> ss;
            for (const auto& f : statistics_)
                ss.push_back(f.get());
            result_ = std::make_unique<AnalysisResult>(analyze_parts(rs, ss, options_, progress));
        }
        if (!result_ && reuse_stored_) result_ = load_stored(rs);
        reused_ = result_ != nullptr && statistics_.empty();
        if (!result_) result_ = std::make_unique<AnalysisResult>(analyze_captures(rs, options_, progress));
        std::string imp = importance_;
        if (imp.empty()) {
            std::vector<std::string> where = {dirs_[0]};
            where.insert(where.end(), summary_dirs_.begin(), summary_dirs_.end());
            for (const auto& d : where)
                if (imp.empty() && std::filesystem::is_regular_file(std::filesystem::path(d) / "head_importance.json"))
                    imp = (std::filesystem::path(d) / "head_importance.json").string();
        }
        // a stored summary may already carry this file's evidence; attaching again is cheap and
        // makes the recommendations follow the file as it is now
        if (!imp.empty()) attach_importance(*result_, read_head_importance(imp), imp, max_delta_);
    }
    return *result_;
}

void AttentionDataAnalyzer::set_importance(const std::string& path, double max_delta) {
    if (!(max_delta >= 0)) throw Error(cat("--prune-max-delta: ", max_delta, " is not a cost in nats/token >= 0"));
    importance_ = path, max_delta_ = max_delta;
    if (result_ && !path.empty()) attach_importance(*result_, read_head_importance(path), path, max_delta);
}

std::string AttentionDataAnalyzer::out(const std::string& out_dir) const {
    const std::string d = out_dir.empty() ? dirs_[0] : out_dir;
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    if (ec) throw Error(cat(d, ": cannot create the output directory: ", ec.message()));
    return d;
}

static std::string join(const std::string& dir, const std::string& name) {
    return (std::filesystem::path(dir) / name).string();
}

std::string AttentionDataAnalyzer::visualize_attention_flow(const std::string& out_dir, ImageFormat f) {
    const std::string path = join(out(out_dir), cat("attention_flow_visualization", extension(f)));
    render_flow(analyze(), path);
    return path;
}

std::string AttentionDataAnalyzer::visualize_dashboard(const std::string& out_dir, ImageFormat f) {
    const std::string path = join(out(out_dir), cat("comprehensive_attention_analysis", extension(f)));
    render_dashboard(analyze(), path);
    return path;
}

std::string AttentionDataAnalyzer::visualize_attention_weights(int layer, int head, int64_t seq,
                                                               const std::string& out_dir, ImageFormat f) {
    const std::string path = join(out(out_dir), cat("attention_weights_L", layer, "_H", head, extension(f)));
    render_attention_weights(patterns_reader("a heatmap"), seq, layer, head, &analyze(), path);
    return path;
}

std::string AttentionDataAnalyzer::visualize_heads_grid(int64_t seq, const std::string& out_dir, ImageFormat f) {
    const std::string path = join(out(out_dir), cat("attention_heads_grid", extension(f)));
    render_heads_grid(patterns_reader("the heads grid"), seq, &analyze(), path);
    return path;
}

std::string AttentionDataAnalyzer::create_viewer(const std::string& out_dir, int max_sequences, double max_mb) {
    const std::string path = join(out(out_dir), "attention_view.html");
    ViewerOptions vo;
    vo.max_sequences = max_sequences;
    vo.max_bytes = int64_t(max_mb * 1024 * 1024);
    write_viewer(patterns_reader("the viewer"), &analyze(), path, vo);
    return path;
}

std::vector<std::pair<int, int>> AttentionDataAnalyzer::heads_to_plot() {
    const AnalysisResult& r = analyze();
    std::vector<std::pair<int, int>> all;
    for (const auto& L : r.layers)
        for (const auto& h : L.heads)
            all.push_back({h.layer, h.head});
    if (all.size() <= 16) return all;
    // the strongest two heads of each label, by the score that gave the label
    auto strength = [](const HeadResult& h) {
        if (h.label == "induction") return h.template_scores.induction;
        if (h.label == "previous_token") return h.template_scores.previous_token;
        if (h.label == "duplicate_token") return h.template_scores.duplicate_token;
        if (h.label == "self") return h.metric(HeadStats::self_mass);
        if (h.label == "sink") return h.metric(HeadStats::sink_mass);
        if (h.label == "local") return -h.metric(HeadStats::mean_distance_nofirst);
        return h.metric(HeadStats::entropy_normalized);
    };
    std::vector<std::pair<int, int>> out;
    for (const char* label :
         {"induction", "previous_token", "duplicate_token", "self", "sink", "local", "broad", "mixed"}) {
        std::vector<const HeadResult*> hs;
        for (const auto& L : r.layers)
            for (const auto& h : L.heads)
                if (h.label == label) hs.push_back(&h);
        std::sort(hs.begin(), hs.end(),
                  [&](const HeadResult* a, const HeadResult* b) { return strength(*a) > strength(*b); });
        for (size_t k = 0; k < hs.size() && k < 2; ++k)
            out.push_back({hs[k]->layer, hs[k]->head});
    }
    return out;
}

std::vector<std::string> AttentionDataAnalyzer::create_comprehensive_report(const std::string& out_dir, ImageFormat f) {
    const std::string d = out(out_dir);
    std::vector<std::string> paths = write_report(analyze(), d);
    paths.push_back(visualize_attention_flow(d, f));
    paths.push_back(visualize_dashboard(d, f));
    const bool has_weights = !readers_.empty() && readers_[0]->n_sequences() > 0 && !analyze().layers.empty() &&
                             std::any_of(analyze().layers.begin(), analyze().layers.end(),
                                         [](const LayerResult& L) { return !L.heads.empty(); });
    if (has_weights && !analyze().stats_only) {
        paths.push_back(create_viewer(d));
        paths.push_back(visualize_heads_grid(0, d, f));
        for (const auto& [il, h] : heads_to_plot())
            paths.push_back(visualize_attention_weights(il, h, 0, d, f));
    }
    return paths;
}

std::string visualize_attention_flow(const std::string& dir) {
    return AttentionDataAnalyzer(dir).visualize_attention_flow();
}

std::string visualize_attention_weights(const std::string& dir, int layer, int head) {
    return AttentionDataAnalyzer(dir).visualize_attention_weights(layer, head);
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
    hooks.add(
        HookFilter::parse("blocks.*.attn.hook_pattern", "", ""),
        [&](const HookContext& ctx, TensorView pattern) { an.add_pattern(ctx.layer, pattern); }, HookAccess::read_only);
    RunState state;
    for (const auto& s : seqs) {
        an.begin_sequence(s, tokenizer_->display(s));
        forward(*model_, Batch::from_sequences({s}), hooks, state);
        an.end_sequence();
    }
    an.set_model(resolved_.name);
    AnalysisResult r = an.finish();
    r.notes.push_back(cat("probe: ", options.n_sequences, " sequences of a random ", options.block,
                          "-token block repeated twice (seed ", options.seed, ")"));
    return r;
}

} // namespace attnscope
