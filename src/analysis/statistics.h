// The statistics file: an Analyzer's sufficient statistics (counts, sums, sums of squares,
// histograms: everything every number of the summary is made from) as one small file, so the
// analyses of parts of a corpus merge into the analysis of the whole (docs/design.md §6: "statistics
// are mergeable ... in shards and merged exactly").
//
//   // attnscope run --stats-only [--shard I/N] writes it beside the report:
//   write_statistics(analyzer, "out/statistics.safetensors", manifest, /*durable=*/true);
//
//   StatisticsFile f("shard-3");                       // a directory or the file; header checked
//   f.shard();                                         // the corpus slice it holds
//   Analyzer part = f.load();                          // the sums, every one validated
//
//   // any mix of capture directories and statistics files, in any order:
//   AnalysisResult r = analyze_parts({&reader0, &reader1}, {&f, &g}, {});
//
// Format: safetensors (so `safetensors.numpy.load_file` reads it in Python), every tensor F64,
// with __metadata__ {"schema": "attnscope.statistics/1", "manifest": JSON text}. The manifest
// is a capture manifest without sequences (model, tokenizer, capture options, shard) plus
// "statistics": what the sums track (layers and heads, max_offset, covariance) and their counts.
// Tensors, L layers, H heads, M = max_offset + 2 offsets, B = 16 position buckets, D width:
//   heads.metric_sum, heads.metric_count      [L, H, 13]  HeadStats sums and row counts
//   heads.score_sum [L, H, 3], heads.score_sequences [L, H]  TransformerLens scores per sequence
//   heads.template_sum, heads.template_rows   [L, H, 3]   the model card's template means
//   heads.offset_mass, heads.offset_rows      [L, H, M]   mass by relative offset
//   heads.position_entropy, heads.position_sink, heads.position_rows   [L, H, B]
//   layers.js_sum [L, H * H], layers.sums [L, 6]   similarity, evolution, rollout (whole patterns)
//   hidden.{input,output,resid}.moments [L, 7]  dim, elements, sum, sum of squares, tokens,
//                                               sum of cosines, cosine pairs
//   hidden.{input,output,resid}.sum [L, D], and with covariances .outer [L, D (D + 1) / 2]
//   flow [L, 10]                               input/output correlation and norm ratios
// Heads a layer does not track, and layers not tracked, hold zeros.
#pragma once

#include "analysis/analyzer.h"
#include "capture/capture.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

constexpr const char* kStatisticsSchema = "attnscope.statistics/1";
// kStatisticsFile ("statistics.safetensors") is declared with the capture directory (capture.h).

// Write `an`'s sums to `path` (under a temporary name, renamed when complete). `manifest`: the
// run's manifest (Runner), to which "statistics" is added. Sealed hidden-state sums cannot be
// written (their covariances are gone): throws.
void write_statistics(const Analyzer& an, const std::string& path, nlohmann::json manifest, bool durable = true);

class StatisticsFile {
  public:
    // `path`: a statistics file, or a directory holding statistics.safetensors. Reads and checks
    // the header only (schema, manifest, shard, tensor names and shapes); the file is not kept
    // open, so thousands of shards can be listed at once.
    explicit StatisticsFile(const std::string& path);

    const std::string& path() const { return path_; }
    const std::string& dir() const { return dir_; } // as given, for messages
    // {"model": {"name"}, "capture": {...}}: what shards are compared by, kept as text (a merge of
    // thousands of shards keeps little per shard)
    const std::string& manifest_text() const { return manifest_; }
    const ModelConfig& config() const { return config_; }
    const ShardInfo& shard() const { return shard_; }
    int64_t n_sequences() const { return n_sequences_; }
    const AnalysisOptions& options() const { return options_; } // max_offset and covariance as stored
    // The sums, every value checked (finite, counts not negative); throws naming the file.
    Analyzer load() const;

  private:
    std::string path_, dir_;
    std::string manifest_;
    ModelConfig config_;
    ShardInfo shard_;
    int64_t n_sequences_ = 0;
    AnalysisOptions options_;
};

// Is `dir` (or file) a statistics file rather than a capture directory?
bool is_statistics(const std::string& path);

// The analysis of a corpus whose parts are capture directories and statistics files, in any
// order: shards are put in corpus order and checked to be one corpus (order_shard_sources), and
// every part must track the same layers, heads and hidden states (else the pair is named). With
// no statistics file this is analyze_captures. A part from a statistics file has no whole
// patterns, so the result is a --stats-only analysis (no similarity, evolution, rollout); its
// numbers equal one stats-only run over the whole corpus up to the rounding of the sums' order.
AnalysisResult analyze_parts(const std::vector<const CaptureReader*>& captures,
                             const std::vector<const StatisticsFile*>& statistics, AnalysisOptions options = {},
                             const std::function<void(int64_t, int64_t)>& on_progress = {});

} // namespace attnscope
