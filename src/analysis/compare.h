// Comparing captures of the same texts taken from different models or checkpoints, head by head.
//
//   CompareOptions o;  o.labels = {"gpt2", "distilgpt2"};
//   Comparison c = compare_captures({"run-gpt2", "run-distilgpt2"}, o);
//   const HeadMatch& m = c.pairs[0].matches[0];   // a head of A, its match in B, JS (nats), changes
//   nlohmann::ordered_json j = comparison_json(c); // what comparison.json holds
//   std::string text = comparison_report(c);
//
// For each consecutive pair of directories, the Jensen–Shannon divergence between every head of A
// and every head of B — the mean over every row i >= 1 of every text (row 0 sees one key and is the
// same for every head) — and the one-to-one assignment that minimises the total (Hungarian
// algorithm), the smaller set matched into the larger; heads may match across layers unless
// `same_layer`. A match above `unmatched_js` is no good match: the head is listed as gone (A) or
// new (B). With more than two directories (checkpoints in order), each head of the first is
// followed through the matchings, with its metrics and label at every step.
// Memory holds one text's patterns of each model at a time (read through the mapping).
#pragma once

#include "analysis/analyzer.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace attnscope {

struct CompareOptions {
    std::vector<std::string> labels; // one per directory; default: each capture's model name
    bool same_layer = false;         // match heads within their own layer only
    double unmatched_js = 0.15;      // nats; a match above this is no good match
    AnalysisOptions analysis;        // for each capture's metrics and labels
};

struct HeadRef {
    int layer = 0, head = 0;
    std::string name() const; // "L3H1"
    bool operator==(const HeadRef& o) const { return layer == o.layer && head == o.head; }
};

// The metrics a comparison follows, in this order (names in kCompareMetrics).
constexpr int kCompareMetrics = 6;
extern const char* const kCompareMetricNames[kCompareMetrics]; // entropy, sink, distance, prev, dup, induction
std::array<double, kCompareMetrics> compare_metrics(const HeadResult& h);

struct HeadMatch {
    HeadRef a, b;
    double js = 0; // nats
    std::string label_a, label_b;
    std::array<double, kCompareMetrics> metrics_a{}, metrics_b{};
    bool good = true; // js <= unmatched_js
};

struct PairComparison {
    int a = 0, b = 1;                    // indices into Comparison::dirs
    std::vector<HeadRef> heads_a, heads_b;
    std::vector<double> js;              // [heads_a.size() x heads_b.size()]; -1 where not compared
    std::vector<HeadMatch> matches;      // one per head of the smaller side, in its order
    std::vector<HeadRef> gone, added;    // heads of A / of B without a good match
    double mean_match_js = 0;
};

struct Trajectory {
    std::vector<HeadRef> path;                                // the head at each step
    std::vector<std::string> labels;                          // its label at each step
    std::vector<std::array<double, kCompareMetrics>> metrics; // its metrics at each step
    std::vector<double> js;                                   // JS of each step's match (size steps - 1)
    std::vector<std::pair<std::string, int>> first_step;      // each label and the step it first appears
};

struct Comparison {
    std::vector<std::string> dirs, labels;
    std::vector<AnalysisResult> analyses;
    std::vector<PairComparison> pairs;     // (0, 1), (1, 2), ...
    std::vector<Trajectory> trajectories;  // one per head of the first capture, with >= 3 directories
    int64_t n_sequences = 0, n_rows = 0;   // texts, and rows per head pair
    CompareOptions options;
};

Comparison compare_captures(const std::vector<std::string>& dirs, const CompareOptions& options = {});
// The Hungarian algorithm: for a rows x cols cost matrix (rows <= cols), the column of each row
// minimising the total cost.
std::vector<int> assign_min_cost(const std::vector<double>& cost, int rows, int cols);

nlohmann::ordered_json comparison_json(const Comparison& c);
std::string comparison_report(const Comparison& c);

} // namespace attnscope
