// The original module's analysis API: AttentionDataAnalyzer over capture directories, and the
// head probe of `attnscope heads --model`.
//
//   AttentionDataAnalyzer an("results");                 // or {"shard0", "shard1", "shard2"}
//   const AnalysisResult& r = an.analyze();              // computed once, then kept
//   printf("L0H1 is %s\n", r.layers[0].heads[1].label.c_str());
//   an.create_comprehensive_report();                    // results/attention_analysis_report.txt + summary JSON
//
//   Runner runner("tiny");
//   AnalysisResult probe = runner.probe_heads();         // repeated random tokens: induction heads show
//
// Directories are validated when the analyzer is made (manifest schema, files); tensors are read
// one at a time during analyze().
#pragma once

#include "analysis/analyzer.h"
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
    // attention_view.html: the self-contained interactive viewer of the first sequences.
    std::string create_viewer(const std::string& out_dir = "", int max_sequences = 8);
    // The heads create_comprehensive_report draws one by one: (layer, head) pairs.
    std::vector<std::pair<int, int>> heads_to_plot();

    const std::vector<std::string>& dirs() const { return dirs_; }

  private:
    std::string out(const std::string& out_dir) const;
    std::vector<std::string> dirs_;
    AnalysisOptions options_;
    std::vector<std::unique_ptr<CaptureReader>> readers_;
    std::unique_ptr<AnalysisResult> result_;
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
