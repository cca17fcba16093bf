// attnscope evolve's logic (analysis/evolve.h) on analyses made up for the purpose: the formation
// step, the steepest rise, the loss's largest fall and whether they coincide, the first step of
// each label, steps read from names, and refusals; then the verb end to end on the committed
// training checkpoints of tools/train/train_induction.py (tests/data/induction).
#include "analysis/evolve.h"
#include "test_util.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

using namespace attnscope;
using namespace attnscope::test;

namespace {

// One checkpoint: 1 layer x 2 heads; head 1's induction score and label as given, head 0 a
// previous-token head throughout.
EvolutionPoint point(const std::string& label, double induction, const std::string& h1_label, double loss) {
    EvolutionPoint p;
    p.label = label;
    p.step = step_of(label);
    AnalysisResult& a = p.analysis;
    a.config.n_layer = 1, a.config.n_head = 2;
    a.n_sequences = 4, a.n_tokens = 100;
    a.loss = loss, a.loss_predictions = 96;
    LayerResult l;
    for (int h = 0; h < 2; ++h) {
        HeadResult r;
        r.layer = 0, r.head = h;
        r.template_scores.previous_token = h == 0 ? 0.9 : 0.1;
        r.template_scores.induction = h == 1 ? induction : 0.02;
        r.label = h == 0 ? "previous_token" : h1_label;
        l.heads.push_back(r);
    }
    a.layers.push_back(l);
    return p;
}

} // namespace

TEST(Evolve, FormationAndLossDropCoincide) {
    // given out of order: evolve sorts by step
    std::vector<EvolutionPoint> pts = {point("step300", 0.70, "induction", 3.6), point("step0", 0.03, "broad", 5.5),
                                       point("step100", 0.05, "broad", 5.4), point("step200", 0.45, "induction", 4.0),
                                       point("step250", 0.60, "mixed", 3.9), point("step400", 0.80, "induction", 3.5)};
    const Evolution e = evolve(pts);
    ASSERT_EQ(e.points.size(), 6u);
    EXPECT_EQ(e.points[0].step, 0);
    EXPECT_EQ(e.points[5].step, 400);
    ASSERT_TRUE(e.formation.has_value());
    // induction at 200, lost at 250, for good from 300: the formation is 300
    EXPECT_EQ(e.formation->head, 1);
    EXPECT_EQ(e.points[size_t(e.formation->point)].step, 300);
    EXPECT_DOUBLE_EQ(e.formation->score_before, 0.60);
    EXPECT_DOUBLE_EQ(e.formation->score_at, 0.70);
    // the fastest rise per step (0.05 -> 0.45 in 100 steps) is 100 -> 200; the loss falls fastest
    // (5.4 -> 4.0) there too
    EXPECT_EQ(e.points[size_t(e.formation->steepest_rise.from)].step, 100);
    ASSERT_TRUE(e.loss_drop.has_value());
    EXPECT_EQ(e.points[size_t(e.loss_drop->from)].step, 100);
    EXPECT_EQ(e.points[size_t(e.loss_drop->to)].step, 200);
    EXPECT_TRUE(e.coincide);
    // the first step of each label
    const HeadEvolution& h1 = e.heads[1];
    ASSERT_EQ(h1.first_point.size(), 3u);
    EXPECT_EQ(h1.first_point[0], (std::pair<std::string, int>{"broad", 0}));
    EXPECT_EQ(h1.first_point[1], (std::pair<std::string, int>{"induction", 2}));
    EXPECT_EQ(h1.first_point[2], (std::pair<std::string, int>{"mixed", 3}));
    const nlohmann::ordered_json j = evolution_json(e);
    EXPECT_EQ(j["formation"]["head"], "L0H1");
    EXPECT_EQ(j["formation"]["step"], 300);
    EXPECT_EQ(j["heads"][1]["first_step"]["induction"], 200);
    EXPECT_EQ(j["loss_drop"]["from_step"], 100);
    EXPECT_NE(evolution_report(e).find("L0H1 becomes an induction head at step 300"), std::string::npos)
        << evolution_report(e);
}

TEST(Evolve, NoFormationAndNoLoss) {
    std::vector<EvolutionPoint> pts = {point("a-1", 0.9, "induction", NAN), point("a-2", 0.9, "induction", NAN)};
    for (auto& p : pts)
        p.analysis.loss_predictions = 0;
    const Evolution e = evolve(pts);
    EXPECT_FALSE(e.formation.has_value()); // induction from the first checkpoint: nothing formed
    EXPECT_FALSE(e.loss_drop.has_value());
    EXPECT_TRUE(std::isnan(e.loss[0]));
    EXPECT_NE(evolution_report(e).find("loss: not measured"), std::string::npos);
}

TEST(Evolve, StepsFromNames) {
    EXPECT_EQ(step_of("step1000"), 1000);
    EXPECT_EQ(step_of("run-step-400"), 400);
    EXPECT_EQ(step_of("ckpt_12"), 12);
    EXPECT_EQ(step_of("step_7-final"), 7);
    EXPECT_EQ(step_of("main"), -1);
}

TEST(EvolveBad, DifferentTextsOrModelsAreRefusedByName) {
    std::vector<EvolutionPoint> pts = {point("step0", 0.1, "broad", 5), point("step10", 0.1, "broad", 5)};
    pts[1].analysis.n_tokens = 99;
    expect_error([&] { evolve(pts); }, {"step10 analysed 4 texts (99 tokens)", "step0 4 (100)", "same texts"});
    pts[1].analysis.n_tokens = 100;
    pts[1].analysis.config.n_head = 3;
    expect_error([&] { evolve(pts); }, {"step10 is a model of 1 x 3 heads"});
    expect_error([&] { evolve({pts[0]}); }, {"give two or more"});
}

// The verb on the committed checkpoints of a real training run (tests/data/induction: steps 0,
// 500, 550, 600 and 1000 of tools/train/train_induction.py --shape neox, a Hugging Face cache
// entry with one branch per step): the induction head forms at step 550, where the loss on the
// repeated texts falls; a second evolve reuses the runs; --shard runs one slice.
TEST(EvolveE2E, TrainedCheckpointsShowThePhaseChange) {
    TempDir dir;
    const std::string data = std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/induction";
    const std::string env = "HF_HUB_CACHE=" + data + "/hub ";
    const std::string args = " evolve --model attnscope/induction-neox --revisions step1000,step0,step500,step550,step600 "
                             "--input " + data + "/texts.jsonl --output " + dir.file("evo");
    const ShellResult r = run_shell(env + ATTNSCOPE_CLI + args);
    ASSERT_EQ(r.code, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(read_file(dir.file("evo/evolution.json")));
    ASSERT_EQ(j["points"].size(), 5u);
    EXPECT_EQ(j["points"][0]["step"], 0); // sorted by step
    EXPECT_EQ(j["points"][4]["label"], "step1000");
    EXPECT_EQ(j["points"][2]["commit"].get<std::string>().size(), 40u);
    ASSERT_TRUE(j["formation"].is_object()) << r.output;
    EXPECT_EQ(j["formation"]["step"], 550);
    EXPECT_EQ(j["formation"]["head"].get<std::string>().substr(0, 2), "L1"); // the second layer's
    EXPECT_LT(j["formation"]["induction_before"].get<double>(), 0.2);
    EXPECT_GT(j["heads"][4]["scores"]["induction"][4].get<double>(), 0.8);
    // the loss falls from ~ln 257 (nothing learned: random bytes) once the copies are predicted
    const double loss0 = j["points"][0]["loss"], loss_end = j["points"][4]["loss"];
    EXPECT_NEAR(loss0, std::log(257.0), 0.1);
    EXPECT_LT(loss_end, loss0 - 1.5);
    EXPECT_EQ(j["loss_drop"]["from_step"], 550);
    EXPECT_TRUE(j["coincide"]);
    EXPECT_TRUE(std::filesystem::file_size(dir.file("evo/evolution.png")) > 10000);
    EXPECT_NE(r.output.find("becomes an induction head at step 550"), std::string::npos) << r.output;
    // again: every run is reused, the result the same
    const ShellResult again = run_shell(env + ATTNSCOPE_CLI + args);
    ASSERT_EQ(again.code, 0) << again.output;
    EXPECT_NE(again.output.find("[5/5] step600: reusing"), std::string::npos) << again.output;
    EXPECT_EQ(nlohmann::json::parse(read_file(dir.file("evo/evolution.json"))), j);
    // one Slurm task's slice: the second of three (texts' rule, I*N/3 ..) is step0 and step500, as given
    const std::string sharded = " evolve --model attnscope/induction-neox --revisions step1000,step0,step500,step550,"
                                "step600 --input " + data + "/texts.jsonl --output " + dir.file("evo2") + " --shard 1/3";
    const ShellResult s = run_shell(env + ATTNSCOPE_CLI + sharded);
    ASSERT_EQ(s.code, 0) << s.output;
    EXPECT_TRUE(std::filesystem::exists(dir.file("evo2/runs/step0/statistics.safetensors"))) << s.output;
    EXPECT_TRUE(std::filesystem::exists(dir.file("evo2/runs/step500/statistics.safetensors"))) << s.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("evo2/runs/step1000")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("evo2/runs/step550")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("evo2/evolution.json")));
}

TEST(EvolveE2E, BadInvocationsAreOneLine) {
    TempDir dir;
    const std::string data = std::string(ATTNSCOPE_SOURCE_DIR) + "/tests/data/induction";
    const std::string env = "HF_HUB_CACHE=" + data + "/hub ";
    auto fails = [&](const std::string& args, const std::string& part) {
        const ShellResult r = run_shell(env + ATTNSCOPE_CLI + " " + args);
        EXPECT_NE(r.code, 0) << args;
        EXPECT_NE(r.output.find(part), std::string::npos) << "expected '" << part << "' in: " << r.output;
    };
    fails("evolve --model attnscope/induction-neox --revisions step0,step7 --text 'a b a b' --output " + dir.file("o"),
          "has no revision 'step7'");
    fails("evolve --model attnscope/induction-neox --revisions step0 --text x --output " + dir.file("o"),
          "give two revisions or more");
    fails("evolve " + dir.str() + " --model attnscope/induction-neox --revisions step0,step500 --text x", "not both");
}
