// Head ablation on the built-in model: its induction head L1H0 is what predicts the second copy
// of a repeated block of random tokens (ablating it raises that loss by several nats, and so does
// ablating the previous-token head L0H0 that feeds it); the
// clean loss equals the cross-entropy computed from logits captured through the capture
// writer (another path); mean and resample ablation run; bad targets are refused clearly.
#include "api/analyzer_api.h"
#include "api/runner.h"
#include "intervene/ablate.h"
#include "test_util.h"

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
