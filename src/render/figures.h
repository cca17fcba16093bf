// The figures of the original module and more, drawn on a Canvas (PNG or SVG):
//
//   AnalysisResult r = AttentionDataAnalyzer("results").analyze();
//   CaptureReader cap("results");
//   render_flow(r, "results/attention_flow_visualization.png");
//   render_dashboard(r, "results/comprehensive_attention_analysis.png");
//   render_attention_weights(cap, /*seq*/ 0, /*layer*/ 2, /*head*/ 1, &r,
//                            "results/attention_weights_L2_H1.png");
//   render_heads_grid(cap, /*seq*/ 0, &r, "results/attention_heads_grid.png");
//
// The format follows the file name's extension (.png or .svg). Each function returns the number
// of text labels that fell outside the canvas (0 for a good figure; the tests check it).
#pragma once

#include "analysis/analyzer.h"
#include "analysis/compare.h"
#include "analysis/evolve.h"
#include "intervene/ablate.h"
#include "intervene/patch.h"
#include "capture/capture.h"
#include "render/canvas.h"

#include <string>

namespace attnscope {

// The format a path's extension asks for (.png or .svg); throws Error otherwise.
ImageFormat format_of(const std::string& path);

// One head's pattern of one sequence as a heatmap with token labels, a colour bar and the head's
// label and metrics in the title. Past 256 tokens cells are averaged in blocks (said in the
// figure); labels are thinned to stay legible.
int render_attention_weights(const CaptureReader& capture, int64_t seq, int layer, int head,
                             const AnalysisResult* analysis, const std::string& path);
// The same from a pattern in memory: F32 [T, T] of one head.
int render_attention_weights(const TensorView& pattern, const std::vector<std::string>& tokens,
                             const std::string& title, const std::string& subtitle, const std::string& path);

// How the signal moves through depth: mean activation, std, transformation magnitude and
// input/output correlation per layer (four panels, as the original module).
int render_flow(const AnalysisResult& r, const std::string& path);

// The dashboard: entropy, sink mass and distance heatmaps (layer x head), head redundancy,
// activation distributions, dimensionality, evolution through depth, position profile, taxonomy.
int render_dashboard(const AnalysisResult& r, const std::string& path);

// Every captured head of every layer as a thumbnail of sequence `seq` (BertViz's model view).
int render_heads_grid(const CaptureReader& capture, int64_t seq, const AnalysisResult* analysis,
                      const std::string& path);

// A [T, T] pattern averaged in B x B blocks: [n, n], n = ceil(T / B); edge blocks average over
// the cells they have (masked cells count as 0). What figures and the viewer draw past their
// resolution.
std::vector<double> block_average(const TensorView& pattern, int64_t B);

// The colour of a head label in every figure and the viewer (Okabe–Ito), and its legend order.
const std::vector<std::string>& label_order();
Color label_color(const std::string& label);

// Ablation: each head's change of loss, layer x head, diverging colours around 0.
int render_head_importance(const HeadImportance& r, const std::string& path);
// Patching: the normalised logit difference per (layer, head) or (layer, position).
int render_patching(const PatchResult& r, const std::vector<std::string>& tokens, const std::string& path);

// A comparison of two captures (pair `pair` of compare_captures): the A x B JS matrix with the
// matching boxed, and per head of A (layer x head) its match's JS and the changes of its induction,
// previous-token and sink scores.
int render_comparison(const Comparison& c, size_t pair, const std::string& path);
// Three captures or more: the induction and previous-token scores of the heads that move most,
// along the checkpoints.
int render_trajectories(const Comparison& c, const std::string& path);
// evolve: induction score per head against the step (log axis) beside the loss on the texts.
int render_evolution(const Evolution& e, const std::string& path);

} // namespace attnscope
