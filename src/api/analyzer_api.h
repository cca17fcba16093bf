// The original module's analysis API: AttentionDataAnalyzer over capture directories, and the
// head probe of `attnscope heads --model`.
//
//   AttentionDataAnalyzer an("results");                 // or {"shard0", "shard1", "shard2"}
//                                                        // (captures and/or run --stats-only dirs)
//   const AnalysisResult& r = an.analyze();              // computed once, then kept
//   printf("L0H1 is %s\n", r.layers[0].heads[1].label.c_str());
//   an.create_comprehensive_report();                    // results/attention_analysis_report.txt + summary JSON
//
//   Runner runner("tiny");
//   AnalysisResult probe = runner.probe_heads();         // repeated random tokens: induction heads show
//
// Directories are validated when the analyzer is made (manifest schema, files); tensors are read
// one at a time during analyze(). An analysis is made once: analyze() first looks for the
// summary a previous analysis wrote (in the first directory, or where look_for_summary_in says)
// and reuses it when its capture_fingerprint and options match the directories now; a capture
// changed since is analysed again, and the notice callback says so in one line.
#pragma once

#include "analysis/analyzer.h"
#include "analysis/statistics.h"
#include "render/canvas.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

class AttentionDataAnalyzer {
  public:
    explicit AttentionDataAnalyzer(const std::string& dir, AnalysisOptions options = {});
    explicit AttentionDataAnalyzer(const std::vector<std::string>& dirs, AnalysisOptions options = {});
    ~AttentionDataAnalyzer();

    // progress(done, total) is called as sequences and layers are read.
    const AnalysisResult& analyze(const std::function<void(int64_t, int64_t)>& progress = {});
    // Reuse a stored analysis when it matches (default true; `attnscope analyze` sets false).
    void set_reuse_stored(bool reuse) { reuse_stored_ = reuse; }
    // Another directory that may hold the stored summary (the --output of an earlier analyze).
    void look_for_summary_in(const std::string& dir) { summary_dirs_.push_back(dir); }
    // Measured head importance (attnscope ablate's head_importance.json) for the recommendations
    // to state and act on (attach_importance); without it, analyze() uses a head_importance.json
    // in the first capture directory or a summary directory when there is one. After analyze(),
    // the kept result takes the new file's evidence at once.
    void set_importance(const std::string& path, double max_delta = 0.05);
    // Called with one line when a stored summary is there but cannot be used, and why.
    void set_notice(std::function<void(const std::string&)> notice) { notice_ = std::move(notice); }
    // Whether analyze() took its result from a stored summary.
    bool reused_stored() const { return reused_; }
    // Everything into out_dir (default: the first capture directory): the report and summary,
    // attention_view.html, attention_flow_visualization, comprehensive_attention_analysis,
    // attention_heads_grid and
    // attention_weights_L{L}_H{H} for the heads that matter most (all when there are at most 16;
    // else the strongest two of each label), in `format`. Returns the paths written.
    std::vector<std::string> create_comprehensive_report(const std::string& out_dir = "",
                                                         ImageFormat format = ImageFormat::png);

    // The figures one at a time (into out_dir, default the first capture directory); each
    // returns the path written.
    std::string visualize_attention_flow(const std::string& out_dir = "", ImageFormat format = ImageFormat::png);
    std::string visualize_attention_weights(int layer, int head, int64_t seq = 0, const std::string& out_dir = "",
                                            ImageFormat format = ImageFormat::png);
    std::string visualize_dashboard(const std::string& out_dir = "", ImageFormat format = ImageFormat::png);
    std::string visualize_heads_grid(int64_t seq = 0, const std::string& out_dir = "",
                                     ImageFormat format = ImageFormat::png);
    // attention_view.html: the self-contained interactive viewer of the first sequences, at most
    // max_mb megabytes (MiB): patterns are block-averaged as needed to fit.
    std::string create_viewer(const std::string& out_dir = "", int max_sequences = 8, double max_mb = 64);
    // The heads create_comprehensive_report draws one by one: (layer, head) pairs.
    std::vector<std::pair<int, int>> heads_to_plot();

    const std::vector<std::string>& dirs() const { return dirs_; }

  private:
    std::string out(const std::string& out_dir) const;
    std::vector<std::string> dirs_;
    AnalysisOptions options_;
    std::unique_ptr<AnalysisResult> load_stored(const std::vector<const CaptureReader*>& readers);
    std::vector<std::unique_ptr<CaptureReader>> readers_;
    std::vector<std::unique_ptr<StatisticsFile>> statistics_; // stats-only parts (run --stats-only)
    const CaptureReader& patterns_reader(const char* what) const; // the first capture, or a clear error
    std::unique_ptr<AnalysisResult> result_;
    bool reuse_stored_ = true, reused_ = false;
    std::vector<std::string> summary_dirs_;
    std::string importance_;
    double max_delta_ = 0.05;
    std::function<void(const std::string&)> notice_;
};

// The original module's free functions: the figure from a capture directory, written into it.
std::string visualize_attention_flow(const std::string& dir);
std::string visualize_attention_weights(const std::string& dir, int layer, int head);

// The probe of Olsson et al. (2022): n_sequences random blocks of `block` tokens, each repeated
// twice, drawn (fixed seed) from the vocabulary without its first 256 ids when it is larger than
// 1024 (single bytes, often untrained in small models) and without special tokens.
struct ProbeOptions {
    int n_sequences = 32;
    int block = 50;
    uint64_t seed = 2;
};
std::vector<std::vector<int32_t>> probe_sequences(int32_t vocab_size, const std::vector<int32_t>& exclude,
                                                  const ProbeOptions& options);

} // namespace attnscope
