// Ablation and patching against the PyTorch reference (tools/reference/intervene_reference.py,
// whose values are committed in tests/fixtures/intervene/expected.json): on the random-weight
// GPT-2 and grouped-query Llama fixtures, every head's zero, mean and resample ablation (and one
// group) gives the reference's clean loss, ablated loss, Δloss and standard error, and patching
// z, pattern, attn_out and resid_pre (logit difference and loss metrics) its scores, within 1e-4.
#include "intervene/ablate.h"
#include "intervene/patch.h"
#include "io/json.h"
#include "test_util.h"

#include <cmath>

using namespace attnscope;
using namespace attnscope::test;

namespace {

constexpr double kTol = 1e-4;

std::vector<std::vector<int32_t>> sequences(const nlohmann::json& j) {
    std::vector<std::vector<int32_t>> out;
    for (const auto& s : j)
        out.push_back(s.get<std::vector<int32_t>>());
    return out;
}

void check_fixture(const std::string& name) {
    SCOPED_TRACE(name);
    const nlohmann::json all = read_json_file(fixture("intervene") + "/expected.json");
    const nlohmann::json& e = all.at(name);
    const auto model = Model::load(fixture(name));
    const Batch batch = Batch::from_sequences(sequences(e.at("seqs")));
    double worst = 0;
    for (const auto& [method, want] : e.at("ablation").items()) {
        AblateOptions o;
        o.method = parse_ablation_method(method);
        std::string spec;
        for (const auto& t : want.at("targets"))
            spec += (spec.empty() ? "" : ",") + t.at("name").get<std::string>();
        o.targets = parse_ablation_targets(spec, model->config());
        const HeadImportance got = ablate_heads(*model, batch, o);
        EXPECT_NEAR(got.clean_loss, want.at("clean_loss").get<double>(), kTol) << method;
        EXPECT_EQ(got.tokens, want.at("tokens").get<int64_t>());
        ASSERT_EQ(got.results.size(), want.at("targets").size());
        for (size_t k = 0; k < got.results.size(); ++k) {
            const auto& w = want.at("targets")[k];
            const AblationResult& g = got.results[k];
            EXPECT_EQ(g.target.name, w.at("name").get<std::string>());
            for (const auto& [field, value] : {std::pair{"loss", g.loss}, std::pair{"delta", g.delta}, std::pair{"se", g.se}}) {
                EXPECT_NEAR(value, w.at(field).get<double>(), kTol) << method << " " << g.target.name << " " << field;
                worst = std::max(worst, std::fabs(value - w.at(field).get<double>()));
            }
        }
    }
    const nlohmann::json& p = e.at("patching");
    const auto clean = p.at("clean").get<std::vector<int32_t>>(), corrupt = p.at("corrupt").get<std::vector<int32_t>>();
    double worst_patch = 0;
    for (const auto& run : p.at("runs")) {
        PatchOptions o;
        o.what = parse_patch_what(run.at("what").get<std::string>());
        o.metric = run.at("metric") == "loss" ? PatchMetric::loss : PatchMetric::logit_diff;
        o.answer = p.at("answer").get<int32_t>();
        o.wrong = p.at("wrong").get<int32_t>();
        const PatchResult got = patch_activations(*model, clean, corrupt, o);
        const std::string label = run.at("what").get<std::string>() + "/" + run.at("metric").get<std::string>();
        EXPECT_NEAR(got.m_clean, run.at("m_clean").get<double>(), kTol) << label;
        EXPECT_NEAR(got.m_corrupt, run.at("m_corrupt").get<double>(), kTol) << label;
        const auto& rows = run.at("scores");
        ASSERT_EQ(size_t(got.n_layer), rows.size()) << label;
        for (int il = 0; il < got.n_layer; ++il) {
            ASSERT_EQ(size_t(got.n_cols), rows[size_t(il)].size()) << label;
            for (int c = 0; c < got.n_cols; ++c) {
                const double w = rows[size_t(il)][size_t(c)].get<double>(), g = got.scores[size_t(il * got.n_cols + c)];
                EXPECT_NEAR(g, w, kTol) << label << " L" << il << " col " << c;
                worst_patch = std::max(worst_patch, std::fabs(g - w));
            }
        }
    }
    std::printf("[ reference ] %s: ablation max |error| %.2e, patching %.2e\n", name.c_str(), worst, worst_patch);
}

} // namespace

TEST(InterveneReference, Gpt2Tiny) { check_fixture("gpt2-tiny"); }
TEST(InterveneReference, LlamaGroupedQuery) { check_fixture("llama-gqa"); }
