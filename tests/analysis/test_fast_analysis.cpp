// The vectorised analysis kernels against their scalar definitions: log_lane against libm, the
// one-pass row sums and every per-head metric against the row-by-row formulas of docs/design.md §6,
// Jensen–Shannon against its definition, and the threaded Analyzer against one thread (the same
// bits, whatever the number of threads).
#include "analysis/analyzer.h"
#include "analysis/fastmath.h"
#include "core/threads.h"
#include "test_util.h"

#include <cmath>
#include <limits>
#include <random>

using namespace attnscope;

namespace {

// Random causal pattern [H, T, T]: softmax of N(0, scale^2) logits per row, some rows sharp.
std::vector<float> random_pattern(int64_t H, int64_t T, unsigned seed, double scale = 2.0) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> n(0.0, scale);
    std::vector<float> p(size_t(H * T * T), 0.0f);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T; ++i) {
            const double s = (h % 3 == 2) ? 8.0 : 1.0; // every third head near one-hot
            std::vector<double> x(size_t(i + 1));
            double mx = -1e300, sum = 0;
            for (auto& v : x)
                mx = std::max(mx, v = s * n(rng));
            for (auto& v : x)
                sum += (v = std::exp(v - mx));
            for (int64_t j = 0; j <= i; ++j)
                p[size_t((h * T + i) * T + j)] = float(x[size_t(j)] / sum);
        }
    return p;
}

// The row metrics as docs/design.md §6 writes them, with libm, one formula at a time.
std::array<double, HeadStats::n_metrics> scalar_row_metrics(const float* a, int64_t i, int64_t n) {
    std::array<double, HeadStats::n_metrics> m{};
    m.fill(std::numeric_limits<double>::quiet_NaN());
    double H = 0, mx = 0, dist = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double p = a[j];
        if (p > 0) H -= p * std::log(p);
        mx = std::max(mx, p);
        dist += p * double(std::abs(i - j));
    }
    m[HeadStats::entropy] = H;
    m[HeadStats::entropy_normalized] = H / std::log(double(n));
    m[HeadStats::confidence] = mx;
    m[HeadStats::effective_span] = std::exp(H);
    m[HeadStats::sparsity] = 1 - std::exp(H) / double(n);
    m[HeadStats::mean_distance] = dist;
    m[HeadStats::sink_mass] = a[0];
    m[HeadStats::self_mass] = a[i];
    m[HeadStats::prev_token_mass] = a[i - 1];
    double rest = 0;
    for (int64_t j = 1; j < n; ++j)
        rest += a[j];
    double H1 = 0, mx1 = 0, d1 = 0;
    for (int64_t j = 1; j < n; ++j) {
        const double p = a[j] / rest;
        if (p > 0) H1 -= p * std::log(p);
        mx1 = std::max(mx1, p);
        d1 += p * double(std::abs(i - j));
    }
    m[HeadStats::entropy_nofirst] = H1;
    m[HeadStats::entropy_normalized_nofirst] = H1 / std::log(double(n - 1));
    m[HeadStats::confidence_nofirst] = mx1;
    m[HeadStats::mean_distance_nofirst] = d1;
    return m;
}

double scalar_js(const float* p, const float* q, int64_t n) {
    double js = 0;
    for (int64_t j = 0; j < n; ++j) {
        const double a = p[j], b = q[j], m = 0.5 * (a + b);
        if (a > 0) js += 0.5 * a * std::log(a / m);
        if (b > 0) js += 0.5 * b * std::log(b / m);
    }
    return js;
}

ModelConfig config(int n_layer, int n_head) {
    ModelConfig c;
    c.model_type = "gpt2";
    c.n_layer = n_layer, c.n_head = n_head, c.n_embd = 8 * n_head, c.d_head = 8;
    c.n_positions = 1024, c.vocab_size = 100;
    return c;
}

} // namespace

TEST(FastMath, LogLaneWithinTwoUlpOfLibm) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> e(-700.0, 700.0);
    std::uniform_real_distribution<double> near1(-1e-3, 1e-3);
    double worst = 0, worst_x = 0;
    auto check = [&](double x) {
        const double want = std::log(x), got = log_lane(x);
        if (want == 0) {
            EXPECT_EQ(got, 0.0) << x;
            return;
        }
        const double ulp = std::nextafter(std::fabs(want), INFINITY) - std::fabs(want);
        const double err = std::fabs(got - want) / ulp;
        if (err > worst) worst = err, worst_x = x;
    };
    for (int k = 0; k < 1000000; ++k) {
        check(std::exp(e(rng)));
        check(1.0 + near1(rng));
    }
    // every binade of float, widened (what patterns hold), and the edges of the reduction
    for (float f = std::numeric_limits<float>::denorm_min(); f < 3e38f; f = std::max(f * 1.37f, std::nextafter(f, 1.0f)))
        check(double(f));
    for (double x : {1.0, 2.0, 0.5, std::sqrt(0.5), std::nextafter(std::sqrt(0.5), 0.0), std::sqrt(2.0),
                     std::numeric_limits<double>::min(), std::numeric_limits<double>::max()})
        check(x);
    EXPECT_LE(worst, 2.0) << "at x = " << worst_x;
}

TEST(FastMath, RowMetricsEqualTheirScalarDefinitions) {
    const int64_t H = 6, T = 97; // odd lengths: the vector loops' tails
    const auto p = random_pattern(H, T, 3);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 2; i < T; ++i) {
            const float* a = &p[size_t((h * T + i) * T)];
            HeadStats s;
            s.add_row(a, i, i + 1);
            const auto want = scalar_row_metrics(a, i, i + 1);
            for (int m = 0; m < HeadStats::n_metrics; ++m) {
                ASSERT_EQ(s.count[size_t(m)], 1.0) << metric_name(HeadStats::Metric(m));
                EXPECT_NEAR(s.sum[size_t(m)], want[size_t(m)], 1e-12 * std::max(1.0, std::fabs(want[size_t(m)])))
                    << metric_name(HeadStats::Metric(m)) << " head " << h << " row " << i;
            }
        }
}

TEST(FastMath, JensenShannonEqualsItsDefinition) {
    const int64_t H = 4, T = 131;
    const auto p = random_pattern(H, T, 5);
    for (int64_t i = 1; i < T; i += 7)
        for (int64_t a = 0; a < H; ++a)
            for (int64_t b = 0; b < H; ++b) {
                const float* pa = &p[size_t((a * T + i) * T)];
                const float* pb = &p[size_t((b * T + i) * T)];
                const double want = scalar_js(pa, pb, i + 1);
                EXPECT_NEAR(js_divergence(pa, pb, i + 1), want, 1e-13) << a << " " << b << " row " << i;
            }
    // zeros on either side (0 ln 0 = 0) and disjoint supports: JS = ln 2
    const float x[4] = {0.5f, 0.5f, 0, 0}, y[4] = {0, 0, 0.25f, 0.75f};
    EXPECT_NEAR(js_divergence(x, y, 4), std::log(2.0), 1e-15);
    EXPECT_EQ(js_divergence(x, x, 4), 0.0);
}

TEST(FastMath, AnalysisDoesNotDependOnTheNumberOfThreads) {
    const int L = 3, H = 5;
    const int64_t T = 70;
    std::vector<int32_t> tokens;
    for (int64_t j = 0; j < T; ++j)
        tokens.push_back(int32_t(j % 23)); // repeats: template cells
    auto analyse = [&](int threads) {
        set_num_threads(threads);
        Analyzer an(config(L, H));
        for (int s = 0; s < 2; ++s) {
            an.begin_sequence(tokens);
            for (int il = 0; il < L; ++il) {
                auto p = random_pattern(H, T, unsigned(10 * s + il));
                an.add_pattern(il, TensorView::contiguous(p.data(), {H, T, T}));
            }
            an.end_sequence();
        }
        return an.finish();
    };
    const AnalysisResult one = analyse(1), two = analyse(2), three = analyse(3);
    set_num_threads(0);
    for (const AnalysisResult* r : {&two, &three})
        for (int il = 0; il < L; ++il) {
            const LayerResult &a = one.layers[size_t(il)], &b = r->layers[size_t(il)];
            EXPECT_EQ(a.js, b.js) << "layer " << il;
            EXPECT_EQ(a.js_from_previous, b.js_from_previous);
            EXPECT_EQ(a.rollout_sink, b.rollout_sink);
            EXPECT_EQ(a.rollout_distance, b.rollout_distance);
            for (int h = 0; h < H; ++h) {
                EXPECT_EQ(a.heads[size_t(h)].metrics, b.heads[size_t(h)].metrics) << "L" << il << "H" << h;
                EXPECT_EQ(a.heads[size_t(h)].template_scores.induction, b.heads[size_t(h)].template_scores.induction);
                EXPECT_EQ(a.heads[size_t(h)].offset_profile, b.heads[size_t(h)].offset_profile);
            }
        }
}
