// Activation patching, as TransformerLens' patching module defines it: run a corrupted input with
// one activation taken from the clean run, and score how much of the clean behaviour comes back
// by the normalised logit difference (m - m_corrupt) / (m_clean - m_corrupt), m = logit(answer) -
// logit(wrong) at the last position (1: fully restored, 0: no effect). With PatchMetric::loss, m
// is minus the mean next-token cross-entropy of the clean text's tokens over every predicted
// position (T - 1), so the score is (L_corrupt - L) / (L_corrupt - L_clean): the share of the
// clean text's predictability the patch brings back.
//
//   PatchOptions o;  o.what = PatchWhat::z;  o.answer = 318;  o.wrong = 290;
//   PatchResult r = patch_activations(model, clean_ids, corrupt_ids, o);
//   r.scores[il * r.n_cols + h];            // z and pattern: per (layer, head)
//                                           // attn_out and resid_pre: per (layer, position)
//
// Clean and corrupted inputs must have the same length in tokens.
#pragma once

#include "engine/forward.h"
#include "model/model.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

enum class PatchWhat { z, attn_out, resid_pre, pattern };
enum class PatchMetric { logit_diff, loss };
const char* patch_what_name(PatchWhat w);
PatchWhat parse_patch_what(const std::string& s); // throws naming the argument

struct PatchOptions {
    PatchWhat what = PatchWhat::z;
    PatchMetric metric = PatchMetric::logit_diff;
    int32_t answer = -1, wrong = -1; // token ids (logit_diff only)
    std::function<void(int64_t done, int64_t total)> on_progress;
};

struct PatchResult {
    PatchWhat what = PatchWhat::z;
    PatchMetric metric = PatchMetric::logit_diff;
    int32_t answer = -1, wrong = -1;
    double m_clean = 0, m_corrupt = 0; // the metric m of the clean and the corrupted run
    int n_layer = 0, n_cols = 0;       // rows: layers; columns: heads (z, pattern) or positions
    std::vector<double> scores;        // [n_layer * n_cols] normalised logit difference
};

PatchResult patch_activations(const Model& model, const std::vector<int32_t>& clean,
                              const std::vector<int32_t>& corrupt, const PatchOptions& options);

// What the scores of a metric are, in one sentence (JSON, figures, reports).
const char* patch_metric_description(PatchMetric m);

nlohmann::ordered_json patch_json(const PatchResult& r, const std::vector<std::string>& tokens = {});

} // namespace attnscope
