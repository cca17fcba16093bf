// attention_view.html: one self-contained file (script, styles and data inline; a
// Content-Security-Policy that forbids any network request) with linked views: the grid of all
// heads, a head's heatmap with hover read-out, BertViz's head view (lines between tokens,
// weight as opacity, hover a token to isolate it), the token list, and the head's metrics and label.
//
//   CaptureReader cap("results");
//   ViewerStats s = write_viewer(cap, &analysis, "results/attention_view.html");
//   printf("%.1f MB\n", s.bytes / 1e6);
//
// Patterns are stored as their lower triangles, 8 bits per weight (q = round(255 sqrt(a)), so
// small weights keep precision), base64. The file stays within max_bytes whatever the capture:
// when every cell would not fit, each sequence's patterns are averaged in B x B token blocks
// (the smallest B that fits, the same rule for every sequence; said in the page), as the
// figures do past 256 tokens. Every string from the data is JSON-escaped with <, > and & as \u
// escapes inside the page, and put into the page with textContent only.
#pragma once

#include "analysis/analyzer.h"
#include "capture/capture.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

struct ViewerOptions {
    int max_sequences = 8;               // the first N sequences of the capture
    int64_t max_bytes = int64_t(64) << 20; // the page's size limit (64 MiB)
};

struct ViewerStats {
    int64_t bytes = 0, sequences = 0, heads = 0;
    int64_t max_block = 1; // the largest block side used (1: every cell as captured)
};

ViewerStats write_viewer(const CaptureReader& capture, const AnalysisResult* analysis, const std::string& path,
                         const ViewerOptions& options = {});

// Base64 of bytes (the page's pattern data), and JSON text made safe inside a <script> element
// (<, > and & as \u escapes; U+2028/U+2029 escaped).
std::string base64(const std::vector<uint8_t>& in);
std::string script_safe(const std::string& json);

// The template with the data in place: `data` is the JSON text. `served`: the page may fetch
// from its own origin (attnscope serve); otherwise its Content-Security-Policy forbids any request.
std::string viewer_html(const std::string& data_json, bool served = false);

// The pieces the page and the server (src/serve) share.
struct ViewerLayout {
    std::vector<int> layers, heads; // captured layers and heads, in order
};
ViewerLayout viewer_layout(const CaptureReader& capture); // throws when no pattern was captured
// The page's data without patterns: model, layers, heads, label colours, each head's analysis.
nlohmann::ordered_json viewer_meta(const CaptureReader& capture, const AnalysisResult* analysis,
                                   const ViewerLayout& layout);
// The block side B for a sequence of T tokens drawn on at most `cells` x `cells`.
int64_t viewer_block(int64_t T, int64_t cells);
// Every head of sequence s (layer after layer, head after head) as the lower triangle of its
// pattern averaged in B x B blocks, one byte per cell: q = round(255 sqrt(a)).
std::vector<uint8_t> quantised_patterns(const CaptureReader& capture, int64_t s, const ViewerLayout& layout,
                                        int64_t B);

} // namespace attnscope
