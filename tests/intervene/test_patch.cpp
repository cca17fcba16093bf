// Activation patching on the built-in model. Clean: a block X of random tokens, then X's first k
// tokens again, so its induction head L1H0 predicts X[k]; corrupted: another block Y, then the
// same k tokens, where nothing predicts X[k]. Patching L1H0's z from the clean run into the
// corrupted one restores most of the logit difference logit(X[k]) - logit(Y[k]); a head that is
// not part of the circuit restores little; patching a position where both inputs hold the same
// token changes nothing, exactly; bad input is refused.
#include "api/runner.h"
#include "intervene/patch.h"
#include "render/figures.h"
#include "test_util.h"

#include <cmath>
#include <random>

using namespace attnscope;
using namespace attnscope::test;

namespace {
const std::string kTiny = std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";
}

TEST(Patch, InductionHeadZRestoresTheAnswer) {
    const auto model = Model::load(kTiny);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> tok(256, 4094);
    const int B = 24, k = 12;
    double restored = 0, other = 0;
    const int trials = 4;
    for (int trial = 0; trial < trials; ++trial) {
        std::vector<int32_t> X(B), Y(B);
        for (int i = 0; i < B; ++i)
            X[size_t(i)] = tok(rng), Y[size_t(i)] = tok(rng);
        std::vector<int32_t> clean = X, corrupt = Y;
        clean.insert(clean.end(), X.begin(), X.begin() + k);
        corrupt.insert(corrupt.end(), X.begin(), X.begin() + k);
        PatchOptions o;
        o.answer = X[size_t(k)];
        o.wrong = Y[size_t(k)];
        const PatchResult r = patch_activations(*model, clean, corrupt, o);
        EXPECT_GT(r.m_clean, r.m_corrupt + 2.0); // the clean run copies X[k]
        restored += r.scores[1 * 4 + 0] / trials; // L1H0
        other += r.scores[3 * 4 + 3] / trials;    // L3H3
        if (trial == 0) {
            // layer 0's resid_pre is the token and position embedding: where clean and corrupted
            // hold the same token, patching it changes nothing, exactly (one token of X alone in the
            // first block matches nothing: the induction head needs X[k - 1] before it too)
            o.what = PatchWhat::resid_pre;
            const PatchResult p = patch_activations(*model, clean, corrupt, o);
            EXPECT_EQ(p.n_cols, int(clean.size()));
            EXPECT_EQ(p.scores[size_t(p.n_cols - 1)], 0.0);
            std::printf("[ patch ] resid_pre, layer 0: last position %.3f, the place of X[k] %.3f\n",
                        p.scores[size_t(p.n_cols - 1)], p.scores[size_t(k)]);
        }
    }
    std::printf("[ patch ] z of L1H0 restores %.2f of the logit difference (mean of %d), L3H3 %.2f\n", restored,
                trials, other);
    EXPECT_GT(restored, 0.5);
    EXPECT_LT(std::fabs(other), restored / 2);
}

TEST(PatchBad, ClearErrors) {
    Runner runner(kTiny);
    expect_error([&] { runner.patch("The cat sat", "The cat sat on the mat", " on", " the"); },
                 {"clean input has", "same length"});
    expect_error([&] { runner.patch("The cat sat", "The dog sat", " on the", " the"); }, {"--answer", "not one"});
    expect_error([&] { runner.patch("The cat sat", "The dog sat", " on", " on"); }, {"same token"});
    expect_error([&] { parse_patch_what("q"); }, {"'q'", "z, attn_out, resid_pre or pattern"});
    // the loss metric (no answer and wrong): scores are shares of the clean text's loss recovered;
    // patching resid_pre at layer 0 where the texts agree changes nothing, exactly
    const PatchResult loss = runner.patch("The cat sat on the mat", "The dog sat on the mat", "", "", PatchWhat::resid_pre);
    EXPECT_EQ(loss.metric, PatchMetric::loss);
    EXPECT_GT(loss.m_clean, loss.m_corrupt); // the clean text is the one its own tokens predict best
    EXPECT_EQ(loss.scores[0], 0.0);          // "T": the same token in both
    EXPECT_NE(loss.scores[2], 0.0);          // " c" / " do" (the built-in tokenizer's pieces)
    EXPECT_NE(patch_json(loss)["metric"].get<std::string>().find("loss"), std::string::npos);
    EXPECT_FALSE(patch_json(loss).contains("answer"));
    expect_error([&] { runner.patch("H", "Y", "", ""); }, {"2 tokens or more"});
    const PatchResult r = runner.patch("The cat sat on the", "The dog sat on the", " the", " a", PatchWhat::attn_out);
    EXPECT_EQ(r.n_layer, 4);
    EXPECT_EQ(r.scores.size(), size_t(4 * r.n_cols));
    EXPECT_EQ(patch_json(r)["columns"], "positions");
    TempDir dir;
    EXPECT_EQ(render_patching(r, runner.tokenizer().display(runner.tokenizer().encode("The dog sat on the")),
                              dir.file("patching.png")),
              0);
}
