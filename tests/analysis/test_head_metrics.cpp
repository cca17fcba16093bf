// Per-head metrics and detectors on hand-made patterns whose answers are known exactly.
#include "analysis/head_metrics.h"
#include "analysis/patterns.h"
#include "test_util.h"

#include <cmath>

using namespace attnscope;

namespace {

using attnscope::test::one_hot;
std::vector<float> build(int64_t H, int64_t T, const attnscope::test::RowFn& fn) {
    return attnscope::test::build_pattern(H, T, fn);
}

} // namespace

TEST(HeadMetrics, UniformRows) {
    const int64_t T = 6;
    auto p = build(1, T, [](int64_t, int64_t i) { return std::vector<double>(size_t(i + 1), 1.0 / double(i + 1)); });
    std::vector<HeadStats> s;
    accumulate_pattern(TensorView::contiguous(p.data(), {1, T, T}), true, s);
    double H = 0, dist = 0, sink = 0, conf = 0, span = 0;
    for (int64_t i = 1; i < T; ++i) {
        H += std::log(double(i + 1));
        dist += double(i) / 2.0; // mean of 0..i
        sink += 1.0 / double(i + 1);
        conf += 1.0 / double(i + 1);
        span += double(i + 1);
    }
    const double rows = double(T - 1);
    EXPECT_EQ(s[0].rows(), rows);
    EXPECT_NEAR(s[0].mean(HeadStats::entropy), H / rows, 1e-6);
    EXPECT_NEAR(s[0].mean(HeadStats::entropy_normalized), 1.0, 1e-6);
    EXPECT_NEAR(s[0].mean(HeadStats::sparsity), 0.0, 1e-6);
    EXPECT_NEAR(s[0].mean(HeadStats::effective_span), span / rows, 1e-5);
    EXPECT_NEAR(s[0].mean(HeadStats::mean_distance), dist / rows, 1e-6);
    EXPECT_NEAR(s[0].mean(HeadStats::sink_mass), sink / rows, 1e-6);
    EXPECT_NEAR(s[0].mean(HeadStats::confidence), conf / rows, 1e-6);
    // without the first token the rows stay uniform (over i keys)
    EXPECT_NEAR(s[0].mean(HeadStats::entropy_normalized_nofirst), 1.0, 1e-6);
}

TEST(HeadMetrics, OneHotRows) {
    const int64_t T = 5;
    // head 0: all on token 0 (a sink); head 1: on itself; head 2: on the previous token
    auto p = build(3, T, [](int64_t h, int64_t i) {
        return one_hot(i + 1, h == 0 ? 0 : h == 1 ? i : std::max<int64_t>(i - 1, 0));
    });
    std::vector<HeadStats> s;
    accumulate_pattern(TensorView::contiguous(p.data(), {3, T, T}), true, s);
    for (int h = 0; h < 3; ++h) {
        EXPECT_NEAR(s[size_t(h)].mean(HeadStats::entropy), 0.0, 1e-9);
        EXPECT_NEAR(s[size_t(h)].mean(HeadStats::confidence), 1.0, 1e-9);
        EXPECT_NEAR(s[size_t(h)].mean(HeadStats::effective_span), 1.0, 1e-9);
    }
    EXPECT_NEAR(s[0].mean(HeadStats::sink_mass), 1.0, 1e-9);
    EXPECT_NEAR(s[0].mean(HeadStats::mean_distance), (1 + 2 + 3 + 4) / 4.0, 1e-9);
    EXPECT_NEAR(s[1].mean(HeadStats::self_mass), 1.0, 1e-9);
    EXPECT_NEAR(s[1].mean(HeadStats::mean_distance), 0.0, 1e-9);
    EXPECT_NEAR(s[2].mean(HeadStats::prev_token_mass), 1.0, 1e-9);
    EXPECT_NEAR(s[2].mean(HeadStats::mean_distance), 1.0, 1e-9);
    // a pure sink has nothing left once the first token is excluded: the metric is undefined there
    EXPECT_EQ(s[0].count[HeadStats::entropy_nofirst], 0.0);
    EXPECT_GT(s[2].count[HeadStats::entropy_nofirst], 0.0);
}

TEST(HeadMetrics, MergingShardsEqualsOneRun) {
    const int64_t T = 7;
    auto p1 = build(2, T, [](int64_t h, int64_t i) {
        std::vector<double> r(size_t(i + 1));
        double z = 0;
        for (int64_t j = 0; j <= i; ++j)
            z += (r[size_t(j)] = std::exp(0.3 * double(h + 1) * double(j)));
        for (auto& x : r)
            x /= z;
        return r;
    });
    auto p2 = build(2, T, [](int64_t, int64_t i) { return one_hot(i + 1, i / 2); });
    std::vector<HeadStats> all, a, b;
    accumulate_pattern(TensorView::contiguous(p1.data(), {2, T, T}), true, all);
    accumulate_pattern(TensorView::contiguous(p2.data(), {2, T, T}), true, all);
    accumulate_pattern(TensorView::contiguous(p1.data(), {2, T, T}), true, a);
    accumulate_pattern(TensorView::contiguous(p2.data(), {2, T, T}), true, b);
    for (int h = 0; h < 2; ++h) {
        a[size_t(h)].merge(b[size_t(h)]);
        for (int m = 0; m < HeadStats::n_metrics; ++m)
            EXPECT_NEAR(a[size_t(h)].mean(HeadStats::Metric(m)), all[size_t(h)].mean(HeadStats::Metric(m)),
                        1e-12 * (1 + std::fabs(all[size_t(h)].mean(HeadStats::Metric(m)))))
                << metric_name(HeadStats::Metric(m));
    }
}

TEST(HeadDetectors, ExactTemplatesScoreOne) {
    // tokens: a random block of 4 repeated twice
    const std::vector<int32_t> tok = {7, 3, 9, 5, 7, 3, 9, 5};
    const int64_t T = 8, B = 4;
    // head 0: previous token (row 0 on itself); head 1: duplicate token in the second half;
    // head 2: induction (the token after the earlier copy); head 3: uniform
    auto p = build(4, T, [&](int64_t h, int64_t i) {
        if (h == 0) return one_hot(i + 1, i == 0 ? 0 : i - 1);
        if (h == 1) return one_hot(i + 1, i >= B ? i - B : i);
        if (h == 2) return one_hot(i + 1, i >= B ? i - B + 1 : i);
        return std::vector<double>(size_t(i + 1), 1.0 / double(i + 1));
    });
    const auto s = detector_scores(TensorView::contiguous(p.data(), {4, T, T}), tok);
    EXPECT_NEAR(s[0].previous_token, 7.0 / 8.0, 1e-6);  // row 0 cannot attend to a previous token
    EXPECT_NEAR(s[1].duplicate_token, 4.0 / 8.0, 1e-6); // the first copy has no earlier duplicate
    EXPECT_NEAR(s[2].induction, 4.0 / 8.0, 1e-6);
    EXPECT_NEAR(s[2].previous_token, 0.0, 1e-6);
    EXPECT_LT(s[3].induction, 0.2);
    // excluding the current token removes the rows that could only look at themselves
    const auto x = detector_scores(TensorView::contiguous(p.data(), {4, T, T}), tok, {.exclude_current_token = true});
    EXPECT_NEAR(x[1].duplicate_token, 1.0, 1e-6);
    EXPECT_NEAR(x[2].induction, 1.0, 1e-6);
    attnscope::test::expect_error(
        [&] {
            detector_scores(TensorView::contiguous(p.data(), {4, T, T}), {1, 2});
        },
        {"does not match 2 tokens"});
}
