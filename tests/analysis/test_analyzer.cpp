// The Analyzer on hand-made patterns and hidden states with known answers: labels, similarity,
// evolution, offsets, rollout, layer statistics, collapse, recommendations, merging.
#include "analysis/analyzer.h"
#include "analysis/patterns.h"
#include "report/report.h"
#include "core/threads.h"
#include "test_util.h"

#include <bit>
#include <cmath>
#include <functional>
#include <random>

using namespace attnscope;

namespace {

using attnscope::test::RowFn;
std::vector<float> build(int64_t H, int64_t T, const RowFn& fn) {
    return attnscope::test::build_pattern(H, T, fn);
}
// Row i (i + 1 keys) all on `at`.
std::vector<double> one_hot(int64_t i, int64_t at) {
    return attnscope::test::one_hot(i + 1, at);
}
std::vector<double> uniform(int64_t i) {
    return std::vector<double>(size_t(i + 1), 1.0 / double(i + 1));
}

ModelConfig config(int n_layer, int n_head, int n_embd = 8) {
    ModelConfig c;
    c.model_type = "gpt2";
    c.n_layer = n_layer, c.n_head = n_head, c.n_embd = n_embd, c.d_head = n_embd / n_head;
    c.n_positions = 1024, c.vocab_size = 100;
    return c;
}

// A block of B distinct tokens repeated twice.
std::vector<int32_t> repeated(int64_t B, int32_t first = 10) {
    std::vector<int32_t> t;
    for (int k = 0; k < 2; ++k)
        for (int64_t j = 0; j < B; ++j)
            t.push_back(first + int32_t(j));
    return t;
}

// Head h of a layer with 8 heads: 0 previous-token, 1 induction, 2 duplicate, 3 self, 4 sink,
// 5 uniform, 6 identical to 0, 7 local (a third each on itself and the two tokens before).
RowFn zoo(int64_t B) {
    return [B](int64_t h, int64_t i) -> std::vector<double> {
        const bool second = i >= B;
        switch (h) {
        case 0:
        case 6: return one_hot(i, i == 0 ? 0 : i - 1);
        case 1: return one_hot(i, second ? i - B + 1 : 0);
        case 2: return one_hot(i, second ? i - B : 0);
        case 3: return one_hot(i, i);
        case 4: return one_hot(i, 0);
        case 5: return uniform(i);
        default: {
            if (i == 0) return one_hot(0, 0);
            auto r = std::vector<double>(size_t(i + 1), 0.0);
            const int64_t k = std::min<int64_t>(i, 2);
            for (int64_t j = i - k; j <= i; ++j)
                r[size_t(j)] = 1.0 / double(k + 1);
            return r;
        }
        }
    };
}

// One layer of the zoo on one repeated sequence.
AnalysisResult analyze_zoo(int64_t B) {
    const int64_t T = 2 * B;
    auto p = build(8, T, zoo(B));
    Analyzer an(config(1, 8));
    an.begin_sequence(repeated(B));
    an.add_pattern(0, TensorView::contiguous(p.data(), {8, T, T}));
    an.end_sequence();
    return an.finish();
}

const HeadResult& head(const AnalysisResult& r, int il, int h) {
    for (const auto& x : r.layers[size_t(il)].heads)
        if (x.head == h) return x;
    throw Error("no such head");
}

} // namespace

TEST(Analyzer, LabelsEveryKindOfHead) {
    const int64_t B = 12, T = 2 * B;
    const AnalysisResult r = analyze_zoo(B);
    const char* expected[] = {"previous_token", "induction", "duplicate_token", "self",
                              "sink",           "broad",     "previous_token",  "local"};
    for (int h = 0; h < 8; ++h)
        EXPECT_EQ(head(r, 0, h).label, expected[h]) << "head " << h;

    // template scores: exact templates score 1 on the rows that have a template
    EXPECT_NEAR(head(r, 0, 0).template_scores.previous_token, 1.0, 1e-9);
    EXPECT_NEAR(head(r, 0, 1).template_scores.induction, 1.0, 1e-9);
    EXPECT_EQ(head(r, 0, 1).template_rows[2], double(B));
    EXPECT_NEAR(head(r, 0, 2).template_scores.duplicate_token, 1.0, 1e-9);
    // TransformerLens's share of the whole pattern: the first copy's B rows hold no template cell
    EXPECT_NEAR(head(r, 0, 1).scores.induction, double(B) / double(T), 1e-6);
    EXPECT_NEAR(head(r, 0, 0).scores.previous_token, double(T - 1) / double(T), 1e-6);
    // offsets: previous-token head puts everything at d = 1, self at d = 0
    EXPECT_NEAR(head(r, 0, 0).offset_profile[1], 1.0, 1e-9);
    EXPECT_NEAR(head(r, 0, 3).offset_profile[0], 1.0, 1e-9);
    EXPECT_NEAR(head(r, 0, 7).offset_profile[0], (0.5 + 1.0 / 3.0 * double(T - 2)) / double(T - 1), 1e-7);
    // position profile: a uniform head's entropy in bucket 0 (i = 1) is ln 2
    EXPECT_NEAR(head(r, 0, 5).entropy_by_position[0], std::log(2.0), 1e-6);
    EXPECT_NEAR(head(r, 0, 4).sink_by_position[3], 1.0, 1e-9);
}

TEST(Analyzer, SimilarityFindsIdenticalAndDisjointHeads) {
    const int64_t B = 10, T = 2 * B;
    const AnalysisResult r = analyze_zoo(B);
    const auto& js = r.layers[0].js;
    ASSERT_EQ(js.size(), 64u);
    EXPECT_NEAR(js[0 * 8 + 6], 0.0, 1e-12);          // two identical heads
    EXPECT_NEAR(js[3 * 8 + 4], std::log(2.0), 1e-9); // self vs sink: disjoint on every row i >= 1
    EXPECT_NEAR(js[0 * 8 + 3], std::log(2.0), 1e-9); // previous vs self: disjoint
    // previous vs local, JS = H(M) - (H(P) + H(Q)) / 2 with M = (P + Q) / 2: row 1 has
    // P = (1, 0), Q = (1/2, 1/2); rows i >= 2 have P = (0, 1, 0), Q = (1/3, 1/3, 1/3) on i-2..i
    auto H = [](std::vector<double> v) {
        double h = 0;
        for (double x : v)
            h -= x > 0 ? x * std::log(x) : 0;
        return h;
    };
    const double row1 = H({0.75, 0.25}) - 0.5 * std::log(2.0);
    const double rown = H({1.0 / 6, 2.0 / 3, 1.0 / 6}) - 0.5 * std::log(3.0);
    EXPECT_NEAR(js[0 * 8 + 7], (row1 + double(T - 2) * rown) / double(T - 1), 1e-7);
    ASSERT_EQ(r.redundant.size(), 1u);
    EXPECT_EQ(r.redundant[0].head_a, 0);
    EXPECT_EQ(r.redundant[0].head_b, 6);
    // the recommendation names the pair and its number
    bool named = false;
    for (const auto& s : r.recommendations)
        named = named || (s.find("L0H0 and L0H6 are redundant (JS divergence 0.000") != std::string::npos);
    EXPECT_TRUE(named);
}

TEST(Analyzer, CollapseAndSinkFindings) {
    const int64_t T = 16;
    // head 0 sinks, head 1 uniform
    auto p = build(2, T, [](int64_t h, int64_t i) { return h == 0 ? one_hot(i, 0) : uniform(i); });
    std::vector<int32_t> tok(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i)
        tok[size_t(i)] = int32_t(i);
    Analyzer an(config(1, 2));
    an.begin_sequence(tok);
    an.add_pattern(0, TensorView::contiguous(p.data(), {2, T, T}));
    an.end_sequence();
    const AnalysisResult r = an.finish();
    EXPECT_EQ(r.sink_heads, std::vector<std::string>{"L0H0"});
    EXPECT_EQ(r.uniform_heads, std::vector<std::string>{"L0H1"});
    int found = 0;
    for (const auto& s : r.recommendations) {
        if (s.find("L0H0 (1.00)") != std::string::npos) ++found; // sink
        if (s.find("L0H1 (1.00)") != std::string::npos) ++found; // uniform
        if (s.find("No induction head found") != std::string::npos) ++found;
    }
    EXPECT_EQ(found, 3);
}

TEST(Analyzer, RolloutAndEvolution) {
    const int64_t T = 6;
    std::vector<int32_t> tok = {1, 2, 3, 4, 5, 6};
    // two layers whose every head attends only to the first token:
    // A' = 0.5 e_0 + 0.5 I, so R_1[i, 0] = 0.5 and R_2[i, 0] = 0.5 + 0.5 * 0.5 = 0.75 for i >= 1
    auto sink = build(2, T, [](int64_t, int64_t i) { return one_hot(i, 0); });
    Analyzer an(config(2, 2));
    an.begin_sequence(tok, {"a", "b", "c", "d", "e", "f"});
    an.add_pattern(0, TensorView::contiguous(sink.data(), {2, T, T}));
    an.add_pattern(1, TensorView::contiguous(sink.data(), {2, T, T}));
    an.end_sequence();
    const AnalysisResult r = an.finish();
    ASSERT_TRUE(r.rollout_complete);
    EXPECT_NEAR(r.layers[0].rollout_sink, 0.5, 1e-12);
    EXPECT_NEAR(r.layers[1].rollout_sink, 0.75, 1e-12);
    ASSERT_EQ(r.rollout.size(), 1u);
    EXPECT_NEAR(r.rollout[0].last_row[0], 0.75, 1e-12);
    EXPECT_NEAR(r.rollout[0].last_row[5], 0.25, 1e-12);
    EXPECT_EQ(r.rollout[0].tokens.back(), "f");
    // identical consecutive layers: no change through depth
    EXPECT_LT(r.layers[0].js_from_previous, 0); // nothing before layer 0
    EXPECT_NEAR(r.layers[1].js_from_previous, 0.0, 1e-12);

    // a head subset cannot be rolled out, and the report says so
    Analyzer sub(config(2, 2));
    sub.begin_sequence(tok);
    sub.add_pattern(0, TensorView::contiguous(sink.data(), {1, T, T}), {1});
    sub.add_pattern(1, TensorView::contiguous(sink.data(), {1, T, T}), {1});
    sub.end_sequence();
    const AnalysisResult rs = sub.finish();
    EXPECT_FALSE(rs.rollout_complete);
    EXPECT_NE(report_text(rs).find("Not computed: rollout needs every head"), std::string::npos);
}

TEST(Analyzer, HiddenStatistics) {
    const int64_t T = 4, D = 8;
    // inputs: +-e0 and +-e1 -> covariance diag(1/2, 1/2, 0, ...) -> participation ratio 2;
    // outputs = 3 * inputs -> correlation 1, magnitude 3
    std::vector<float> in(size_t(T * D), 0.0f), out(size_t(T * D), 0.0f), resid(size_t(T * D), 0.0f);
    in[0 * D + 0] = 1, in[1 * D + 0] = -1, in[2 * D + 1] = 1, in[3 * D + 1] = -1;
    for (size_t k = 0; k < in.size(); ++k)
        out[k] = 3 * in[k];
    for (int64_t t = 0; t < T; ++t) // identical token states: collapse
        resid[size_t(t * D + 2)] = 5;
    Analyzer an(config(1, 2, int(D)));
    an.add_hidden(0, TensorView::contiguous(in.data(), {T, D}), TensorView::contiguous(out.data(), {T, D}),
                  TensorView::contiguous(resid.data(), {T, D}));
    const AnalysisResult r = an.finish();
    const LayerResult& L = r.layers[0];
    EXPECT_NEAR(L.input.effective_dim, 2.0, 1e-9);
    EXPECT_NEAR(L.input.mean, 0.0, 1e-12);
    EXPECT_NEAR(L.input.std, std::sqrt(4.0 / 32.0), 1e-12);
    EXPECT_NEAR(L.io_correlation, 1.0, 1e-9);
    EXPECT_NEAR(L.transform_magnitude, 3.0, 1e-9);
    EXPECT_NEAR(L.resid_update, 3.0 / 5.0, 1e-9);
    EXPECT_NEAR(L.input.mean_cosine, -1.0 / 3.0, 1e-9); // (||sum u||^2 - 4) / 12 = -4 / 12
    EXPECT_NEAR(L.resid_pre.mean_cosine, 1.0, 1e-9);
    EXPECT_EQ(r.collapsed_layers, std::vector<int>{0});
    // a wrong width is refused with the shape in the message
    attnscope::test::expect_error(
        [&] {
            an.add_hidden(0, TensorView::contiguous(in.data(), {D, T}), {}, {});
        },
        {"layer 0 input has shape [8, 4]"});
}

// The covariance sums: X^T X's upper triangle, each element its T products in order of t, with
// sizes that cross the kernel's panels, blocks and chunks of T; the same bits on 1 and 2 threads;
// the lower triangle untouched; and what was in c kept (the sums go on from it).
TEST(Analyzer, GramUpperTriangleInOrderOfT) {
    for (auto [T, D] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {300, 45}, {129, 72}}) {
        std::mt19937 rng(unsigned(T * 1000 + D));
        std::normal_distribution<double> nd;
        std::vector<double> x(size_t(T * D)), start(size_t(D * D));
        for (double& v : x)
            v = nd(rng);
        for (double& v : start)
            v = nd(rng);
        auto run = [&](int threads) {
            const int before = num_threads();
            set_num_threads(threads);
            std::vector<double> c = start;
            gram_upper_add(x.data(), T, D, c.data());
            set_num_threads(before);
            return c;
        };
        const std::vector<double> one = run(1), two = run(2);
        for (int64_t i = 0; i < D; ++i)
            for (int64_t j = 0; j < D; ++j) {
                const size_t k = size_t(i * D + j);
                if (j < i) {
                    EXPECT_EQ(one[k], start[k]);
                    continue;
                }
                double want = start[k];
                for (int64_t t = 0; t < T; ++t)
                    want += x[size_t(t * D + i)] * x[size_t(t * D + j)];
                EXPECT_NEAR(one[k], want, 1e-12 * (1 + std::abs(want))) << T << "x" << D << " at " << i << "," << j;
                EXPECT_EQ(std::bit_cast<uint64_t>(one[k]), std::bit_cast<uint64_t>(two[k]));
            }
    }
}

TEST(Analyzer, MergingEqualsOneRun) {
    // three "shards" of two sequences each, fed to one analyzer vs three merged
    auto make = [](int64_t T, int seed) {
        return build(2, T, [seed](int64_t h, int64_t i) {
            std::vector<double> r(size_t(i + 1));
            double z = 0;
            for (int64_t j = 0; j <= i; ++j)
                z += (r[size_t(j)] = std::exp(std::sin(double(seed * 7 + h * 3 + i * 5 + j))));
            for (auto& x : r)
                x /= z;
            return r;
        });
    };
    const std::vector<int64_t> lengths = {5, 9, 3, 12, 7, 8};
    Analyzer all(config(2, 2)), merged(config(2, 2));
    for (int shard = 0; shard < 3; ++shard) {
        Analyzer part(config(2, 2));
        for (int k = 0; k < 2; ++k) {
            const int s = shard * 2 + k;
            const int64_t T = lengths[size_t(s)];
            std::vector<int32_t> tok(static_cast<size_t>(T));
            for (int64_t i = 0; i < T; ++i)
                tok[size_t(i)] = int32_t((i * 3 + s) % 4);
            auto p0 = make(T, s), p1 = make(T, s + 10);
            for (Analyzer* a : {&all, &part}) {
                a->begin_sequence(tok);
                a->add_pattern(0, TensorView::contiguous(p0.data(), {2, T, T}));
                a->add_pattern(1, TensorView::contiguous(p1.data(), {2, T, T}));
                a->end_sequence();
            }
        }
        merged.merge(part);
    }
    const auto a = summary_json(all.finish()).dump(), b = summary_json(merged.finish()).dump();
    const auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
    std::function<void(const nlohmann::json&, const nlohmann::json&, const std::string&)> same =
        [&](const nlohmann::json& x, const nlohmann::json& y, const std::string& at) {
            ASSERT_EQ(x.type(), y.type()) << at;
            if (x.is_number_float())
                EXPECT_NEAR(x.get<double>(), y.get<double>(), 1e-12 * (1 + std::fabs(x.get<double>()))) << at;
            else if (x.is_object())
                for (auto it = x.begin(); it != x.end(); ++it)
                    same(it.value(), y.at(it.key()), at + "." + it.key());
            else if (x.is_array()) {
                ASSERT_EQ(x.size(), y.size()) << at;
                for (size_t k = 0; k < x.size(); ++k)
                    same(x[k], y[k], at + "[" + std::to_string(k) + "]");
            } else
                EXPECT_EQ(x, y) << at;
        };
    same(ja, jb, "");
    EXPECT_EQ(ja["n_sequences"], 6);
}

TEST(Analyzer, RejectsMismatchedInput) {
    Analyzer an(config(2, 2));
    std::vector<float> p(2 * 3 * 3, 0.0f);
    an.begin_sequence({1, 2, 3, 4});
    attnscope::test::expect_error(
        [&] {
            an.add_pattern(0, TensorView::contiguous(p.data(), {2, 3, 3}));
        },
        {"layer 0 pattern has shape [2, 3, 3], expected [2, 4, 4]"});
    attnscope::test::expect_error(
        [&] {
            an.add_pattern(5, TensorView::contiguous(p.data(), {2, 3, 3}));
        },
        {"layer 5 out of range"});
}

TEST(Report, SectionsInOrderAndSchema) {
    const int64_t B = 8, T = 2 * B;
    const AnalysisResult r = analyze_zoo(B);
    const std::string text = report_text(r);
    size_t at = 0;
    for (const char* s : {"1. Per-head", "2. Head taxonomy", "3. Head comparison", "4. Evolution", "5. Position",
                          "6. Attention rollout", "7. Layer statistics", "8. Collapse", "9. Recommendations"}) {
        const size_t k = text.find(s);
        ASSERT_NE(k, std::string::npos) << s;
        EXPECT_GT(k, at) << s;
        at = k;
    }
    const auto j = summary_json(r);
    EXPECT_EQ(j["schema"], "attnscope.summary/1");
    const auto& h1 = j["layers"][0]["heads"][1];
    for (const char* key : {"entropy", "entropy_normalized", "confidence", "sparsity", "mean_distance", "sink_mass",
                            "self_mass", "prev_token_mass", "label", "scores"})
        EXPECT_TRUE(h1.contains(key)) << key;
    EXPECT_EQ(h1["label"], "induction");
    EXPECT_DOUBLE_EQ(h1["scores"]["induction"].get<double>(), double(B) / double(T));
    for (const char* key : {"similarity", "rollout", "collapse", "recommendations"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j["layers"][0].contains("stats"));
}
