// The attention analysis of docs/design.md §6 as mergeable accumulators: feed patterns (one layer of
// one sequence at a time) and hidden states, from a capture directory or straight from a
// forward pass, then finish() into plain numbers.
//
//   Analyzer an(cfg, {});                           // cfg: the model's ModelConfig
//   for (each sequence s) {
//       an.begin_sequence(tokens_s);
//       for (each layer il) an.add_pattern(il, pattern_il, heads);   // F32 [H', T, T]
//       an.end_sequence();
//   }
//   an.add_hidden(il, input, output, resid_pre);    // F32 [T, D] each (resid_pre may be empty)
//   AnalysisResult r = an.finish();                 // metrics, labels, similarity, rollout, ...
//
//   // or, for the whole thing from capture directories (shards merge exactly):
//   AnalysisResult r = analyze_captures({&reader1, &reader2}, {});
//
// Every statistic is a sum (counts, sums, sums of squares, histograms) kept in double, so shards
// fed to one Analyzer give the numbers of one big run up to rounding; Analyzer::merge() joins
// two accumulators that saw different texts.
#pragma once

#include "analysis/head_metrics.h"
#include "capture/capture.h"
#include "intervene/ablate.h"
#include "model/config.h"

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace attnscope {

struct AnalysisOptions {
    double redundant_js = 0.05;   // two heads of a layer are redundant below this mean JS (nats, max ln 2)
    int max_offset = 32;          // relative offsets 0..max_offset tracked one by one, the rest pooled
    double uniform_entropy = 0.9; // collapse: mean normalized entropy at or above this
    double sink_only = 0.9;       // collapse: mean first-token mass at or above this
    double collapse_cosine = 0.9; // representation collapse: mean pairwise cosine at or above this
    double label_score = 0.4;     // a detector score at or above this names a head's label
    int rollout_sequences = 8;    // sequences whose final rollout row is kept for the report
    bool covariance = true;       // effective dimensionality: keeps a D x D sum per layer and tensor
};

// Number of query-position buckets: bucket b holds positions 2^b .. 2^(b+1)-1 (i >= 1).
constexpr int kPositionBuckets = 16;
int position_bucket(int64_t i);

// Everything about one head that can be computed one attention row at a time, so also inside
// the forward pass (run --stats-only) where no [H, T, T] tensor exists.
struct HeadAccum {
    HeadStats metrics;
    // TransformerLens scores (previous, duplicate, induction): per sequence
    // sum(a * template) / sum(a); summed here over sequences.
    std::array<double, 3> score_sum{};
    double score_sequences = 0;
    // The same templates, averaged over the rows whose template has at least one cell
    // (the model card's definition: "mean attention on the template, where there is one").
    std::array<double, 3> template_sum{}, template_rows{};
    // Mass by relative offset d = i - j: sum over rows of a_{i,i-d}, and rows where d <= i.
    // Index max_offset + 1 pools every d > max_offset.
    std::vector<double> offset_mass, offset_rows;
    // By query position bucket: sums of entropy and sink mass, and rows.
    std::array<double, kPositionBuckets> pos_entropy{}, pos_sink{}, pos_rows{};

    // The current sequence's TransformerLens sums: total, previous, duplicate, induction.
    std::array<double, 4> seq_sums{};

    explicit HeadAccum(int max_offset = 32);
    // Row i of a causal pattern: a[0..n) over keys 0..n-1 (n = i + 1); tokens: the sequence's ids.
    // Returns the row's sums (head similarity reuses its sum of a ln a).
    RowSums add_row(const float* a, int64_t i, int64_t n, const int32_t* tokens);
    // Close the current sequence's TransformerLens score.
    void end_sequence();
    void merge(const HeadAccum& other);
};

// Hidden-state statistics of one layer's captured tensors, as sums.
// c[i, j] += sum over t of x[t, i] x[t, j] for i <= j < D: the upper triangle (row-major, D x D) of
// X^T X for X [T, D]. Each element sums its products in order of t, whatever the vector width,
// blocking or threads (analyzer.cpp). The covariance sums of the hidden states.
void gram_upper_add(const double* x, int64_t T, int64_t D, double* c);

struct HiddenAccum {
    bool track_covariance = true; // sum_outer (and so effective_dim) only when set
    int64_t dim = 0;
    double count = 0, sum = 0, sum_sq = 0; // over all elements
    std::vector<double> sum_vec;           // [D]  sum over tokens of x
    std::vector<double> sum_outer;         // [D*D] sum over tokens of x x^T (upper triangle used)
    double tokens = 0;
    // mean pairwise cosine of the token states within each sequence: sum of cosines and pairs
    double cos_sum = 0, cos_pairs = 0;

    void add(const float* x, int64_t T, int64_t D); // x: [T, D]
    void merge(const HiddenAccum& o);
    double mean() const { return count > 0 ? sum / count : 0; }
    double std() const;
    double effective_dim() const; // participation ratio (tr C)^2 / tr(C^2) of the covariance C; -1 if not tracked
    double mean_cosine() const { return cos_pairs > 0 ? cos_sum / cos_pairs : 0; }
    // Reduce the covariance to its participation ratio and free it (no add/merge afterwards).
    void seal();
    bool sealed = false;
    double sealed_effective_dim = 0;
};

// Joint statistics of a layer's attention input x (ln1 output) and output y (attn_out).
struct FlowAccum {
    double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0; // Pearson over all element pairs
    double ratio_sum = 0, ratio_tokens = 0;                  // sum over tokens of ||y_t|| / ||x_t||
    double resid_ratio_sum = 0, resid_tokens = 0;            // sum over tokens of ||y_t|| / ||resid_pre_t||
    void merge(const FlowAccum& o);
};

struct HeadResult {
    int layer = 0, head = 0;
    double rows = 0;
    std::array<double, HeadStats::n_metrics> metrics{}; // means, HeadStats::Metric order
    DetectorScores scores;                              // TransformerLens definition
    DetectorScores template_scores;                     // mean over rows with a template cell
    std::array<double, 3> template_rows{};
    std::string label;                  // previous_token, induction, duplicate_token, self, sink, local, broad, mixed
    std::vector<double> offset_profile; // mean mass at offset d (last: d > max_offset)
    std::array<double, kPositionBuckets> entropy_by_position{}, sink_by_position{};
    std::array<double, kPositionBuckets> rows_by_position{};
    double metric(HeadStats::Metric m) const { return metrics[size_t(m)]; }
};

struct HiddenResult {
    bool present = false;
    double mean = 0, std = 0, effective_dim = -1, mean_cosine = 0, tokens = 0; // effective_dim -1: not tracked
};

struct LayerResult {
    int layer = 0;
    std::vector<HeadResult> heads; // captured heads, in head order
    std::vector<double> js;        // [H' * H'] mean JS divergence between heads (nats)
    double diversity = 0;          // mean pairwise JS
    // evolution through depth: means over heads, and JS from the previous layer's mean pattern
    double entropy = 0, entropy_normalized = 0, mean_distance = 0, sink_mass = 0;
    double js_from_previous = -1; // -1 when the previous layer is not analysed
    HiddenResult input, output, resid_pre;
    bool has_flow = false;
    double transform_magnitude = 0; // mean over tokens of ||attn_out|| / ||ln1 output||
    double resid_update = -1;       // mean over tokens of ||attn_out|| / ||resid_pre|| (-1: not captured)
    double io_correlation = 0;      // Pearson correlation of input and output elements
    double rollout_sink = -1, rollout_distance = -1; // rollout after this layer (-1: not computed)
};

struct RedundantPair {
    int layer, head_a, head_b;
    double js;
};

struct RolloutRow {
    int sequence;
    std::vector<std::string> tokens;
    std::vector<double> last_row; // rollout weight of each token for the last token
};

// Measured head importance behind the pruning suggestions (attach_importance): for each head a
// recommendation suggests pruning or calls redundant, its Δloss when ablated alone, and the Δloss
// of ablating every kept candidate together. Without an importance file, present is false and
// the recommendations say their suggestions are unmeasured.
struct PruneCandidate {
    std::string head;           // "L3H1"
    int layer = 0, index = 0;   // layer and head
    std::string reason;         // "redundant with L3H2", "sink", "uniform"
    bool measured = false;
    double delta = 0, se = 0;   // nats per predicted token, ablated - clean
    bool withdrawn = false;     // measured delta above max_delta: the model needs the head
};
struct ImportanceEvidence {
    bool present = false;
    std::string source;          // the head_importance.json it came from
    std::string method;          // zero, mean or resample
    double clean_loss = 0;
    int64_t tokens = 0;
    double max_delta = 0.05;     // a suggestion whose head costs more (nats/token) is withdrawn
    std::vector<PruneCandidate> candidates;
    std::string group;           // the kept candidates joined by '+' ("" if none)
    bool group_measured = false;
    double group_delta = 0, group_se = 0;
    struct Top {
        std::string name;
        double delta = 0, se = 0;
    };
    std::vector<Top> top;        // the heads (single targets) that cost most, up to 8
};

struct AnalysisResult {
    ModelConfig config;
    std::string model;                // model id from the manifest
    std::vector<std::string> sources; // capture directories
    std::string fingerprint;          // capture_fingerprint() of the sources ("" when not from captures)
    int64_t n_sequences = 0, n_tokens = 0;
    AnalysisOptions options;
    std::vector<LayerResult> layers;
    std::vector<RedundantPair> redundant;
    bool rollout_complete = false; // every layer from 0 and every head was captured
    std::vector<RolloutRow> rollout;
    std::vector<std::string> uniform_heads, sink_heads; // "L3H1" names
    std::vector<int> collapsed_layers;                  // mean cosine >= collapse_cosine
    std::vector<std::string> recommendations;
    ImportanceEvidence importance;  // see attach_importance
    std::vector<std::string> notes; // what could not be computed, and why
    bool stats_only = false;
    // The model's mean next-token loss on the texts (nats per prediction, token-weighted), when the
    // run measured it (run --stats-only --loss); loss_predictions = 0 otherwise.
    double loss = 0;
    int64_t loss_predictions = 0;
};

class Analyzer {
  public:
    Analyzer(const ModelConfig& cfg, AnalysisOptions options = {});

    // Patterns of one sequence: begin, then its layers in increasing order, then end.
    void begin_sequence(const std::vector<int32_t>& tokens, const std::vector<std::string>& token_strings = {});
    // pattern: F32 [H', T, T] for heads `heads` (empty = all n_head).
    void add_pattern(int il, const TensorView& pattern, const std::vector<int>& heads = {});
    void end_sequence();

    // Row-wise path (forward-pass statistics): one head's rows of one sequence.
    HeadAccum& head(int il, int h);
    void mark_layer(int il, const std::vector<int>& heads); // record which heads a layer has
    void count_sequence(int64_t n_tokens) { n_sequences_ += 1, n_tokens_ += n_tokens; }
    // One prediction's next-token cross-entropy (nats), for the loss on the texts. Summed in
    // fixed point (units of 2^-32 nats, each prediction rounded once), so the sum is exact and
    // shards merge to the bits of one run in any order.
    void add_prediction_loss(double nats);

    // Hidden states of one sequence at layer il: [T, D] each; pass empty views for missing ones.
    void add_hidden(int il, const TensorView& input, const TensorView& output, const TensorView& resid_pre);

    // Freeze layer il's hidden-state statistics, freeing its D x D covariances.
    void seal_hidden(int il);

    void merge(const Analyzer& other);
    // The model's name: finish() puts it in the result, and the recommendations' commands name it.
    void set_model(const std::string& name) { model_ = name; }
    AnalysisResult finish() const;

    // Sums made one attention row at a time (run --stats-only), or merged with such: similarity,
    // evolution and rollout need whole patterns, so finish() leaves them out and says why.
    void set_rows_only() { rows_only_ = true; }
    bool rows_only() const { return rows_only_; }
    // "" when `other` tracks what this one does (layers and their heads, which hidden states,
    // covariances, offsets); otherwise what differs, for an error that names the two sources.
    std::string tracking_difference(const Analyzer& other) const;

    const ModelConfig& config() const { return cfg_; }

  private:
    friend struct StatisticsAccess; // the statistics file (statistics.h) reads and writes the sums
    struct Layer {
        bool seen = false;
        std::vector<int> heads;     // captured head ids
        std::vector<HeadAccum> acc; // [n_head], only `heads` used
        std::vector<double> js_sum; // [H' * H']
        double js_rows = 0;
        double evo_js_sum = 0, evo_rows = 0;
        HiddenAccum input, output, resid;
        FlowAccum flow;
        double rollout_sink_sum = 0, rollout_dist_sum = 0, rollout_rows = 0;
    };
    ModelConfig cfg_;
    AnalysisOptions opt_;
    std::vector<Layer> layers_;
    int64_t n_sequences_ = 0, n_tokens_ = 0;
    __int128 loss_fixed_ = 0;    // sum of the predictions' losses, in units of 2^-32 nats
    int64_t loss_predictions_ = 0;
    bool rollout_broken_ = false;
    bool rows_only_ = false;
    std::string model_;
    std::vector<RolloutRow> rollout_rows_;

    // current sequence
    std::vector<int32_t> tokens_;
    std::vector<std::string> token_strings_;
    int last_layer_ = -1;
    std::vector<double> prev_mean_; // [T, T] previous layer's head-mean pattern
    std::vector<double> rollout_;   // [T, T] rollout so far
    bool rollout_ok_ = false;
};

// Jensen–Shannon divergence (nats) from two rows' sums: sum p ln p, sum q ln q, sum s ln s of
// s = p + q (plogp_sum_of_sums), and their totals; one logarithm per cell beyond the rows' own.
double js_from_sums(double plogp_p, double plogp_q, double slogs, double total_p, double total_q);
// Jensen–Shannon divergence (nats) between two distributions of n entries.
double js_divergence(const float* p, const float* q, int64_t n);
double js_divergence(const double* p, const double* q, int64_t n);

// A capture's part of an analysis, for callers that merge parts themselves (analyze_parts):
// every sequence's patterns (after_sequence is called after each), or layer il's hidden states
// (unsealed). Each returns whether the capture holds any.
bool feed_capture_patterns(Analyzer& an, const CaptureReader& reader, const std::function<void()>& after_sequence = {});
bool feed_capture_hidden(Analyzer& an, const CaptureReader& reader, int il);
// Everything, from one or more capture directories (shards of one corpus analyse to the numbers
// of one run). Reads one tensor at a time. `on_progress(done, total)` after each sequence/layer.
AnalysisResult analyze_captures(const std::vector<const CaptureReader*>& readers, const AnalysisOptions& options = {},
                                const std::function<void(int64_t, int64_t)>& on_progress = {});

// A note for the analysis of one shard given alone (run --shard): which texts of the corpus it
// holds (nothing when `shard` is not a shard).
void note_lone_shard(AnalysisResult& r, const ShardInfo& shard);

// The fingerprint of a set of capture directories (CaptureReader::fingerprint, combined in order):
// what an analysis stored next to its summary is checked against before it is reused.
std::string capture_fingerprint(const std::vector<const CaptureReader*>& readers);

// Head labels, collapse and recommendations from the finished numbers (called by finish()).
void label_heads(AnalysisResult& r);
void find_collapse_and_recommend(AnalysisResult& r);
// The recommendations again, from the result's numbers and its importance evidence.
void recommend(AnalysisResult& r);
// Attach measured head importance (attnscope ablate's head_importance.json, `source` its path):
// each pruning suggestion then states its heads' Δloss and is withdrawn when a head costs more
// than max_delta nats per predicted token, and the Δloss of ablating the kept candidates
// together is stated when `imp` holds that group. Throws when the file's layers or heads are not
// the model's; another model name is noted (r.notes).
void attach_importance(AnalysisResult& r, const HeadImportance& imp, const std::string& source,
                       double max_delta = 0.05);
// The heads the recommendations suggest pruning or call redundant, with the reason, in order.
std::vector<PruneCandidate> prune_candidates(const AnalysisResult& r);

// "L3H1"
std::string head_name(int layer, int head);

} // namespace attnscope
