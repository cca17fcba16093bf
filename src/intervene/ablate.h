// Head ablation: the model's next-token loss on some texts with a head's output (hook_z, the
// head's pattern times its values, before the output projection) replaced, against the clean
// loss. Patterns say what a head looks at; ablation measures whether the model needs it.
//
//   AblateOptions o;
//   o.targets = parse_ablation_targets("all", model.config());      // or "1.0,0.3" or "L0H1+L2H3"
//   o.method = AblationMethod::mean;
//   HeadImportance r = ablate_heads(model, Batch::from_sequences(ids), o);
//   r.results[0].delta;                 // nats per predicted token, ablated - clean
//   write_file_atomic("head_importance.json", head_importance_json(r).dump(1));
//
// Loss: the mean next-token cross-entropy over every predicted token of every text (each text
// of T tokens predicts T - 1), weighted by tokens; `count` may restrict which predictions count
// (e.g. the second copy of a repeated block). Methods: zero (the head's z set to 0, far off the
// model's distribution for some heads), mean (its mean over every token of every text, a first
// clean pass), resample (its value at the same position in the next text, cyclically; positions
// that text lacks take the mean). A target may be several heads ablated together.
#pragma once

#include "engine/forward.h"
#include "model/model.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

enum class AblationMethod { zero, mean, resample };
const char* ablation_method_name(AblationMethod m);
AblationMethod parse_ablation_method(const std::string& s); // throws naming the argument

struct AblationTarget {
    std::string name;                        // "L1H0", or "L0H1+L2H3" for a group
    std::vector<std::pair<int, int>> heads;  // (layer, head)
};
// "all" (every head alone), or comma-separated heads ("1.0", "L1H0") and groups joined by '+'.
std::vector<AblationTarget> parse_ablation_targets(const std::string& spec, const ModelConfig& cfg);

struct AblateOptions {
    std::vector<AblationTarget> targets;
    AblationMethod method = AblationMethod::zero;
    // count[s][t]: whether the prediction of token t + 1 of text s counts (empty: every one)
    std::vector<std::vector<uint8_t>> count;
    std::function<void(int64_t done, int64_t total)> on_progress;
};

struct AblationResult {
    AblationTarget target;
    double loss = 0;  // token-weighted mean over the counted predictions
    double delta = 0; // loss - clean loss
    double se = 0;    // standard error over texts of each text's delta (0 with one text)
    std::vector<double> per_text; // each text's mean loss
};

struct HeadImportance {
    std::string model; // the model's id as the manifest records it ("" when not known)
    AblationMethod method = AblationMethod::zero;
    int n_layer = 0, n_head = 0;
    double clean_loss = 0;
    int64_t tokens = 0; // counted predictions
    std::vector<double> clean_per_text;
    std::vector<AblationResult> results; // one per target, in order
};

HeadImportance ablate_heads(const Model& model, const Batch& batch, const AblateOptions& options);

nlohmann::ordered_json head_importance_json(const HeadImportance& r);
// Read a head_importance.json back, validated (schema, sizes, every head in range, finite
// numbers); throws naming the file and what is wrong.
HeadImportance read_head_importance(const std::string& path);
// The same from a parsed document; `label` names it in errors.
HeadImportance head_importance_from_json(const nlohmann::json& j, const std::string& label);
// The result whose target is exactly this set of heads (in any order), or nullptr.
const AblationResult* find_ablation(const HeadImportance& r, std::vector<std::pair<int, int>> heads);
std::string head_importance_report(const HeadImportance& r);

} // namespace attnscope
