// Head ablation on the built-in model: its induction head L1H0 is what predicts the second copy
// of a repeated block of random tokens (ablating it raises that loss by several nats, and so does
// ablating the previous-token head L0H0 that feeds it); the
// clean loss equals the cross-entropy computed from logits captured through the capture
// writer (another path); mean and resample ablation run; bad targets are refused clearly.
#include "api/analyzer_api.h"
#include "api/runner.h"
#include "core/files.h"
#include "intervene/ablate.h"
#include "report/report.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>

using namespace attnscope;
using namespace attnscope::test;

namespace {

const std::string kTiny = std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";

// Random 50-token blocks repeated twice; the counted predictions are those of the second copy
// after its first token (the ones an induction head can make).
struct Repeated {
    std::vector<std::vector<int32_t>> ids;
    std::vector<std::vector<uint8_t>> second, first;
};

Repeated repeated(const Model& m, int n) {
    ProbeOptions po;
    po.n_sequences = n;
    Repeated r;
    r.ids = probe_sequences(int32_t(m.config().vocab_size), {int32_t(m.config().vocab_size) - 1}, po);
    for (const auto& s : r.ids) {
        const size_t T = s.size(), B = size_t(po.block), lead = T - 2 * B; // tokens before the first copy
        std::vector<uint8_t> second(T - 1, 0), first(T - 1, 0);
        for (size_t t = 0; t + 1 < T; ++t) {
            second[t] = t >= lead + B; // predicting a token of the second copy past its first
            first[t] = t + 1 >= lead + 1 && t + 1 < lead + B;
        }
        r.second.push_back(second);
        r.first.push_back(first);
    }
    return r;
}

} // namespace

TEST(Ablate, InductionHeadCarriesTheSecondCopy) {
    const auto model = Model::load(kTiny);
    const Repeated rep = repeated(*model, 8);
    const Batch batch = Batch::from_sequences(rep.ids);
    AblateOptions o;
    o.targets = parse_ablation_targets("L1H0,L0H0,L2H1", model->config());
    o.count = rep.second;
    const HeadImportance second = ablate_heads(*model, batch, o);
    o.count = rep.first;
    const HeadImportance first = ablate_heads(*model, batch, o);
    o.count.clear();
    const HeadImportance whole = ablate_heads(*model, batch, o);
    std::printf("[ ablate ] second copy: clean %.2f nats/token; zero-ablated L1H0 %.2f, L0H0 %.2f, L2H1 %.2f\n",
                second.clean_loss, second.results[0].loss, second.results[1].loss, second.results[2].loss);
    std::printf("[ ablate ] first copy: clean %.2f; L1H0 %.2f, L0H0 %.2f; whole text: clean %.2f; L1H0 %.2f, L0H0 %.2f\n",
                first.clean_loss, first.results[0].loss, first.results[1].loss, whole.clean_loss, whole.results[0].loss,
                whole.results[1].loss);
    EXPECT_LT(second.clean_loss, 3.0);          // the model copies
    EXPECT_GT(second.results[0].delta, 3.0);     // and needs its induction head to
    EXPECT_GT(second.results[0].delta, 10 * second.results[0].se);
    EXPECT_GT(second.results[0].delta, second.results[2].delta + 2.0); // more than an unremarkable head
    // the previous-token head L0H0 feeds it (the circuit the model card describes): without it the
    // second copy is lost too (zero ablation of a layer-0 head is also far off-distribution)
    EXPECT_GT(second.results[1].delta, 3.0);
    // on the first copy (random, nothing to copy) the induction head makes the model confidently
    // wrong: without it the loss falls toward ln V
    EXPECT_LT(first.results[0].delta, 0.0);
}

TEST(Ablate, CleanLossEqualsTheCapturedLogits) {
    TempDir dir;
    RunnerOptions ro;
    ro.capture = "logits";
    Runner runner(kTiny, ro);
    const PreparedData data = runner.prepare_data({"The cat sat on the mat. The cat sat on the mat.",
                                                   "Peace and war, bread and salt, peace and war."});
    runner.run_with_hooks(data, dir.file("cap"));
    const CaptureReader cap(dir.file("cap"));
    double sum = 0;
    int64_t n = 0;
    for (int64_t s = 0; s < cap.n_sequences(); ++s) {
        const Captured lg = cap.read(s, "logits");
        const auto& ids = cap.sequence(s).token_ids;
        const int64_t V = lg.shape[1];
        for (size_t t = 0; t + 1 < ids.size(); ++t, ++n) {
            double mx = -1e300, z = 0;
            for (int64_t v = 0; v < V; ++v)
                mx = std::max(mx, double(lg.data[t * size_t(V) + size_t(v)]));
            for (int64_t v = 0; v < V; ++v)
                z += std::exp(double(lg.data[t * size_t(V) + size_t(v)]) - mx);
            sum += mx + std::log(z) - double(lg.data[t * size_t(V) + size_t(ids[t + 1])]);
        }
    }
    AblateOptions o;
    o.targets = parse_ablation_targets("L3H3", runner.model().config());
    for (AblationMethod m : {AblationMethod::zero, AblationMethod::mean, AblationMethod::resample}) {
        o.method = m;
        const HeadImportance r = runner.ablate(data, o);
        EXPECT_EQ(r.tokens, n);
        EXPECT_NEAR(r.clean_loss, sum / double(n), 1e-6) << ablation_method_name(m);
        EXPECT_TRUE(std::isfinite(r.results[0].loss));
        EXPECT_NE(r.results[0].delta, 0.0) << ablation_method_name(m); // the head does something
    }
    const auto j = head_importance_json(runner.ablate(data, o));
    EXPECT_EQ(j["schema"], "attnscope.head_importance/1");
    EXPECT_EQ(j["heads"][0]["name"], "L3H3");
}

TEST(AblateBad, ClearErrors) {
    const auto model = Model::load(kTiny);
    const ModelConfig& c = model->config();
    expect_error([&] { parse_ablation_targets("L9H0", c); }, {"L9H0", "layer 9 is out of range", "4 layers"});
    expect_error([&] { parse_ablation_targets("1.7", c); }, {"'1.7'", "head 7 is out of range"});
    expect_error([&] { parse_ablation_targets("head3", c); }, {"'head3' is not a head"});
    expect_error([&] { parse_ablation_method("ablate"); }, {"'ablate'", "zero, mean or resample"});
    const auto groups = parse_ablation_targets("L0H1+L2H3, 1.0", c);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].name, "L0H1+L2H3");
    EXPECT_EQ(groups[0].heads.size(), 2u);
    AblateOptions o;
    o.targets = groups;
    expect_error([&] { ablate_heads(*model, Batch::from_sequences({{5}}), o); }, {"text 0 has 1 token"});
    o.method = AblationMethod::resample;
    expect_error([&] { ablate_heads(*model, Batch::from_sequences({{5, 6, 7}}), o); }, {"resample", "2 texts"});
}

// Recommendations with evidence: on the built-in model with a loose redundancy threshold (so
// that pruning is suggested), the suggestions first say they are unmeasured; with a measured
// head_importance.json each suggested head states its Δloss and those above max_delta are
// withdrawn; the kept heads' group, once measured, is stated too; the evidence survives the
// summary JSON; a file of another shape is refused naming it.
TEST(Ablate, RecommendationsCarryTheirMeasuredCost) {
    TempDir dir;
    Runner runner(kTiny);
    const PreparedData data = runner.prepare_data(
        {"The State of the Union is strong, and the people of this nation have built it with their own hands.",
         "liberty treaty harbor railroad tariff revenue frontier liberty treaty harbor railroad tariff revenue",
         "Peace, prosperity and liberty: these are the ends of government, and the measure of our work."});
    runner.run_with_hooks(data, dir.file("cap"));
    AnalysisOptions ao;
    ao.redundant_js = 0.5; // loose: every similar pair is called redundant
    AttentionDataAnalyzer an(dir.file("cap"), ao);
    AnalysisResult r = an.analyze();
    ASSERT_FALSE(r.redundant.empty());
    auto joined = [](const AnalysisResult& x) {
        std::string s;
        for (const auto& t : x.recommendations)
            s += t + "\n";
        return s;
    };
    EXPECT_NE(joined(r).find("Unmeasured"), std::string::npos) << joined(r);
    EXPECT_NE(joined(r).find("attnscope ablate --model " + runner.resolved().name), std::string::npos) << joined(r);

    AblateOptions o;
    o.targets = parse_ablation_targets("all", runner.model().config());
    o.method = AblationMethod::mean;
    HeadImportance imp = runner.ablate(data, o);
    EXPECT_EQ(imp.model, runner.resolved().name);
    const std::string path = dir.file("head_importance.json");
    write_file_atomic(path, head_importance_json(imp).dump(1));
    const HeadImportance back = read_head_importance(path);
    ASSERT_EQ(back.results.size(), imp.results.size());
    EXPECT_EQ(back.results[5].delta, imp.results[5].delta);

    // a threshold between the smallest and largest cost: some suggestions kept, some withdrawn
    const auto cands = prune_candidates(r);
    ASSERT_GE(cands.size(), 2u);
    std::vector<double> costs;
    for (const auto& c : cands)
        costs.push_back(find_ablation(imp, {{c.layer, c.index}})->delta);
    std::sort(costs.begin(), costs.end());
    ASSERT_LT(costs.front(), costs.back());
    const double max_delta = (costs.front() + costs.back()) / 2;
    attach_importance(r, back, path, max_delta);
    const std::string text = joined(r);
    EXPECT_EQ(text.find("Unmeasured"), std::string::npos) << text;
    EXPECT_NE(text.find("Measured (mean ablation"), std::string::npos) << text;
    int withdrawn = 0, kept = 0;
    for (const auto& c : r.importance.candidates) {
        ASSERT_TRUE(c.measured);
        EXPECT_EQ(c.delta, find_ablation(imp, {{c.layer, c.index}})->delta);
        EXPECT_EQ(c.withdrawn, c.delta > max_delta) << c.head;
        (c.withdrawn ? withdrawn : kept) += 1;
    }
    EXPECT_GT(withdrawn, 0);
    EXPECT_GT(kept, 0);
    std::printf("[ evidence ] %s\n", r.recommendations[0].c_str());
    if (kept >= 2) {
        EXPECT_NE(text.find("was not measured: `attnscope ablate"), std::string::npos) << text;
        // measure the group, then it is stated
        o.targets = parse_ablation_targets(r.importance.group, runner.model().config());
        imp.results.push_back(runner.ablate(data, o).results.at(0));
        attach_importance(r, imp, path, max_delta);
        ASSERT_TRUE(r.importance.group_measured);
        EXPECT_EQ(r.importance.group_delta, imp.results.back().delta);
        EXPECT_NE(joined(r).find("Pruning the suggested heads together (" + r.importance.group + ") costs"),
                  std::string::npos)
            << joined(r);
    }
    // the summary keeps the evidence, and the report shows it
    const AnalysisResult again = analysis_from_summary(nlohmann::json::parse(summary_json(r).dump()), r.config);
    EXPECT_EQ(again.recommendations, r.recommendations);
    ASSERT_TRUE(again.importance.present);
    EXPECT_EQ(again.importance.candidates.size(), r.importance.candidates.size());
    EXPECT_EQ(again.importance.group, r.importance.group);
    EXPECT_NE(report_text(again).find("10. Head importance (measured)"), std::string::npos);

    // the analyzer finds head_importance.json in the capture directory by itself
    write_file_atomic(dir.file("cap/head_importance.json"), head_importance_json(imp).dump(1));
    AttentionDataAnalyzer found(dir.file("cap"), ao);
    EXPECT_TRUE(found.analyze().importance.present);

    // bad files: another shape, another schema, a head out of range
    HeadImportance other = imp;
    other.n_head = 8;
    expect_error([&] { attach_importance(r, other, "x.json", 0.05); }, {"x.json", "4 layers x 8 heads", "4 x 4"});
    write_file_atomic(dir.file("bad1.json"), R"({"schema": "attnscope.summary/1"})");
    expect_error([&] { read_head_importance(dir.file("bad1.json")); }, {"bad1.json", "not a head importance file"});
    auto j = head_importance_json(imp);
    j["heads"][0]["heads"][0] = {9, 0};
    write_file_atomic(dir.file("bad2.json"), j.dump());
    expect_error([&] { read_head_importance(dir.file("bad2.json")); }, {"bad2.json", "[9,0]", "outside"});
}
