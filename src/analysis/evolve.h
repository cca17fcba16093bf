// Head formation over training: the analyses of one model's checkpoints on the same texts, in
// step order — each head's template scores against the step, the step at which each label first
// holds, the loss on the texts — and the phase change of Olsson et al. (2022): the interval in
// which an induction head forms, beside the interval in which the loss falls fastest.
//
//   std::vector<EvolutionPoint> points = ...;        // {label, step, analysis} per checkpoint
//   Evolution e = evolve(points);
//   if (e.formation) printf("%s becomes an induction head at step %lld\n", ...);
//   nlohmann::ordered_json j = evolution_json(e);   // what evolution.json holds
//   std::string text = evolution_report(e);          // evolution_report.txt
#pragma once

#include "analysis/analyzer.h"

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace attnscope {

struct EvolutionPoint {
    std::string label;       // "step1000", or the directory's name
    int64_t step = 0;        // the training step (from the revision or the name), else its index
    std::string dir;         // the capture or statistics directory analysed
    std::string commit;      // the snapshot it was made from, when the manifest names one
    AnalysisResult analysis; // of the same texts as every other point
};

// The scores a head is followed by, in this order (kEvolutionScoreNames).
constexpr int kEvolutionScores = 4;
extern const char* const kEvolutionScoreNames[kEvolutionScores]; // previous_token, induction, duplicate_token, sink
std::array<double, kEvolutionScores> evolution_scores(const HeadResult& h);

struct HeadEvolution {
    int layer = 0, head = 0;
    std::vector<std::array<double, kEvolutionScores>> scores; // per point; NaN when not analysed there
    std::vector<std::string> labels;                          // per point ("" when not analysed)
    // each label the head takes, with the first point at which it holds, in order of arrival
    std::vector<std::pair<std::string, int>> first_point;
    std::string name() const; // "L1H2"
};

// The interval (points k-1 .. k) in which something happened.
struct Interval {
    int from = 0, to = 0; // point indices, to = from + 1
};

struct Formation {
    int layer = 0, head = 0;
    int point = 0;             // the first point at which its label is induction, for good
    double score_before = 0;   // its induction template score at point - 1
    double score_at = 0;       // and at point
    Interval steepest_rise;    // the interval of its induction score's fastest rise (per step)
};

struct Evolution {
    std::vector<EvolutionPoint> points;
    std::vector<HeadEvolution> heads;      // every head analysed at any point, layer then head order
    std::vector<double> loss;              // per point; NaN where the run did not measure it
    std::optional<Formation> formation;    // the first head to become an induction head (earliest point,
                                           // then the largest rise)
    std::optional<Interval> loss_drop;     // the interval of the loss's fastest fall (per step)
    bool coincide = false;                 // loss_drop is formation's point - 1 .. point, or its steepest rise
};

// points: in any order; sorted by step. Throws Error when they are not analyses of the same
// model shape or the same texts (their sequence and token counts differ).
Evolution evolve(std::vector<EvolutionPoint> points);

nlohmann::ordered_json evolution_json(const Evolution& e);
std::string evolution_report(const Evolution& e);

// The step a revision or directory name stands for: the digits after "step" ("step1000",
// "run-step-400"), else the name's last run of digits; -1 when it has none.
int64_t step_of(const std::string& name);

} // namespace attnscope
