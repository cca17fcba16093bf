// compare: a model whose heads are permuted within each layer (q, k, v columns and the output
// projection's rows moved together: the same function) is matched back to the original, every
// head found with JS ~ 0 (<= 1e-6); the JS matrix equals a direct double-precision computation from
// the captured rows within 1e-7 nats (its logarithms are single precision); a
// trajectory over three "checkpoints" follows the matchings; bad input is refused clearly.
#include "analysis/compare.h"
#include "api/runner.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "render/compare_view.h"
#include "render/figures.h"
#include "test_util.h"

#include <cmath>
#include <filesystem>

using namespace attnscope;
using namespace attnscope::test;

namespace {

const std::string kTiny = std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";

// The built-in model with each layer's heads reordered by perm[il] (new head h = old head perm[il][h]);
// `scale` multiplies layer `scaled_layer`'s query weights (a different function, for trajectories).
void write_variant(const std::string& out, const std::vector<std::vector<int>>& perm, int scaled_layer = -1,
                   float scale = 1) {
    namespace fs = std::filesystem;
    fs::create_directories(out);
    for (const char* f : {"config.json", "tokenizer.json", "vocab.json", "merges.txt"})
        fs::copy_file(kTiny + "/" + f, out + "/" + f, fs::copy_options::overwrite_existing);
    const SafetensorsFile in(kTiny + "/model.safetensors");
    SafetensorsWriter w(out + "/model.safetensors", DType::f32, {{"format", "pt"}});
    for (const TensorInfo& t : in.tensors())
        w.declare(t.name, t.shape);
    w.begin();
    const int64_t D = 128, H = 4, d = 32;
    for (size_t i = 0; i < in.tensors().size(); ++i) {
        const TensorInfo& t = in.tensors()[i];
        std::vector<float> storage;
        const float* src = in.as_f32(t, storage);
        std::vector<float> v(src, src + t.numel());
        int il = -1;
        if (std::sscanf(t.name.c_str(), "transformer.h.%d.", &il) == 1 && il < int(perm.size())) {
            const auto& p = perm[size_t(il)];
            std::vector<float> o = v;
            if (t.name.find("attn.c_attn.weight") != std::string::npos) { // [D, 3D]: columns per head
                for (int64_t r = 0; r < D; ++r)
                    for (int64_t part = 0; part < 3; ++part)
                        for (int64_t h = 0; h < H; ++h)
                            for (int64_t k = 0; k < d; ++k)
                                o[size_t(r * 3 * D + part * D + h * d + k)] =
                                    v[size_t(r * 3 * D + part * D + p[size_t(h)] * d + k)] *
                                    (il == scaled_layer && part == 0 ? scale : 1.0f);
            } else if (t.name.find("attn.c_attn.bias") != std::string::npos) {
                for (int64_t part = 0; part < 3; ++part)
                    for (int64_t h = 0; h < H; ++h)
                        for (int64_t k = 0; k < d; ++k)
                            o[size_t(part * D + h * d + k)] = v[size_t(part * D + p[size_t(h)] * d + k)] *
                                                               (il == scaled_layer && part == 0 ? scale : 1.0f);
            } else if (t.name.find("attn.c_proj.weight") != std::string::npos) { // [D in, D out]: rows per head
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t k = 0; k < d; ++k)
                        for (int64_t c = 0; c < D; ++c)
                            o[size_t((h * d + k) * D + c)] = v[size_t((p[size_t(h)] * d + k) * D + c)];
            }
            v = o;
        }
        w.write(i, TensorView::contiguous(v.data(), t.shape));
    }
    w.finish();
}

std::vector<std::string> texts() {
    return {"The cat sat on the mat. The cat sat on the mat again, and the dog watched it.",
            "A B C D E F G A B C D E F G, said the teacher, and the children repeated it twice.",
            "In the year 1850 the committee reported that the harbour and the roads were in good order."};
}

void capture(const std::string& model, const std::string& dir) {
    RunnerOptions o;
    o.capture = "weights";
    Runner r(model, o);
    r.run_with_hooks(r.prepare_data(texts()), dir);
}

} // namespace

TEST(Compare, PermutedHeadsAreFoundAgain) {
    TempDir dir;
    const std::vector<std::vector<int>> perm = {{2, 0, 3, 1}, {1, 2, 3, 0}, {3, 2, 1, 0}, {0, 1, 3, 2}};
    write_variant(dir.file("permuted"), perm);
    capture(kTiny, dir.file("a"));
    capture(dir.file("permuted"), dir.file("b"));
    CompareOptions co;
    co.labels = {"tiny", "permuted"};
    const Comparison c = compare_captures({dir.file("a"), dir.file("b")}, co);
    ASSERT_EQ(c.pairs.size(), 1u);
    const PairComparison& p = c.pairs[0];
    ASSERT_EQ(p.matches.size(), 16u);
    double worst = 0;
    for (const HeadMatch& m : p.matches) {
        // head h of the original is head h' of the variant with perm[il][h'] = h
        const auto& pl = perm[size_t(m.a.layer)];
        const int want = int(std::find(pl.begin(), pl.end(), m.a.head) - pl.begin());
        EXPECT_EQ(m.b.layer, m.a.layer) << m.a.name();
        EXPECT_EQ(m.b.head, want) << m.a.name();
        EXPECT_TRUE(m.good);
        EXPECT_EQ(m.label_a, m.label_b);
        worst = std::max(worst, m.js);
    }
    EXPECT_LE(worst, 1e-6);
    EXPECT_TRUE(p.gone.empty());
    EXPECT_TRUE(p.added.empty());
    std::printf("[ compare ] permuted heads: 16/16 found, worst JS %.2e nats\n", worst);

    // the matrix equals a direct computation: JS of the two heads' rows, averaged over rows >= 1
    const CaptureReader ra(dir.file("a")), rb(dir.file("b"));
    for (auto [la, ha, lb, hb] : {std::array<int, 4>{0, 0, 2, 1}, {1, 3, 1, 3}, {3, 2, 0, 0}}) {
        double sum = 0;
        int64_t rows = 0;
        for (int64_t s = 0; s < ra.n_sequences(); ++s) {
            const Captured A = ra.read(s, cat("blocks.", la, ".attn.hook_pattern"));
            const Captured B = rb.read(s, cat("blocks.", lb, ".attn.hook_pattern"));
            const int64_t T = A.shape[1];
            for (int64_t i = 1; i < T; ++i, ++rows) {
                double js = 0;
                for (int64_t j = 0; j <= i; ++j) {
                    const double pa = A.data[size_t((ha * T + i) * T + j)], pb = B.data[size_t((hb * T + i) * T + j)];
                    const double m = 0.5 * (pa + pb);
                    if (pa > 0) js += 0.5 * pa * std::log(pa / m);
                    if (pb > 0) js += 0.5 * pb * std::log(pb / m);
                }
                sum += js;
            }
        }
        const size_t ia = size_t(la * 4 + ha), ib = size_t(lb * 4 + hb);
        EXPECT_NEAR(p.js[ia * 16 + ib], sum / double(rows), 1e-7) << "L" << la << "H" << ha << " vs L" << lb << "H" << hb;
    }
    // outputs
    const auto j = comparison_json(c);
    EXPECT_EQ(j["schema"], "attnscope.comparison/1");
    EXPECT_EQ(j["pairs"][0]["matches"].size(), 16u);
    EXPECT_NE(comparison_report(c).find("16 heads matched, 16 of them well"), std::string::npos);
    EXPECT_EQ(render_comparison(c, 0, dir.file("cmp.png")), 0);
    // the page: every match, and both captures' patterns of the first texts
    const int64_t bytes = write_comparison_view(c, 0, dir.file("view.html"), 2);
    const std::string html = read_file(dir.file("view.html"));
    EXPECT_EQ(int64_t(html.size()), bytes);
    EXPECT_NE(html.find("\"heads_a\":[\"L0H0\""), std::string::npos);
    EXPECT_NE(html.find("\"patterns_b\":"), std::string::npos);
    EXPECT_EQ(html.find("<script src"), std::string::npos); // self-contained
    EXPECT_EQ(html.find("\"sequences\":[{"), html.rfind("\"sequences\":[{"));
}

// Three "checkpoints": the original, then layer 1's queries scaled by 4 (sharper), then by 0 (uniform
// over the keys seen): a trajectory follows each head, and its metrics at each step are those of
// that capture's own analysis.
TEST(Compare, TrajectoriesFollowTheMatchings) {
    TempDir dir;
    const std::vector<std::vector<int>> id = {{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}};
    write_variant(dir.file("sharp"), id, 1, 4.0f);
    write_variant(dir.file("flat"), {{0, 1, 2, 3}, {1, 0, 3, 2}, {0, 1, 2, 3}, {0, 1, 2, 3}}, 1, 0.0f);
    capture(kTiny, dir.file("c0"));
    capture(dir.file("sharp"), dir.file("c1"));
    capture(dir.file("flat"), dir.file("c2"));
    const Comparison c = compare_captures({dir.file("c0"), dir.file("c1"), dir.file("c2")});
    ASSERT_EQ(c.pairs.size(), 2u);
    ASSERT_EQ(c.trajectories.size(), 16u);
    for (const Trajectory& t : c.trajectories) {
        ASSERT_EQ(t.path.size(), 3u);
        for (size_t step = 0; step < 3; ++step) {
            const HeadRef& h = t.path[step];
            const HeadResult& x = c.analyses[step].layers[size_t(h.layer)].heads[size_t(h.head)];
            EXPECT_EQ(t.labels[step], x.label);
            EXPECT_DOUBLE_EQ(t.metrics[step][0], x.metric(HeadStats::entropy));
        }
        if (t.path[0].layer == 0) { // before the change: the same heads, the same patterns
            EXPECT_EQ(t.path[1], t.path[0]);
            EXPECT_EQ(t.path[2], t.path[0]);
            EXPECT_LE(t.js[0], 1e-7);
            EXPECT_LE(t.js[1], 1e-7);
        }
    }
    // layer 1 with zero queries is uniform over the keys: entropy ln(i + 1) per row, the most there is
    for (const Trajectory& t : c.trajectories)
        if (t.path[0].layer == 1) {
            EXPECT_GT(t.metrics[2][0], t.metrics[0][0]) << t.path[0].name();
            EXPECT_EQ(t.labels[2], "broad") << t.path[0].name();
        }
    EXPECT_EQ(render_trajectories(c, dir.file("traj.png")), 0);
    // each trajectory's first label appears at step 0, and every later entry at the step it first shows
    for (const Trajectory& t : c.trajectories) {
        ASSERT_FALSE(t.first_step.empty());
        EXPECT_EQ(t.first_step[0], std::make_pair(t.labels[0], 0));
        for (const auto& [label, step] : t.first_step) {
            EXPECT_EQ(t.labels[size_t(step)], label);
            for (int s = 0; s < step; ++s)
                EXPECT_NE(t.labels[size_t(s)], label);
        }
    }
    EXPECT_EQ(comparison_json(c)["trajectories"][0]["first_step"].size(), c.trajectories[0].first_step.size());
}

TEST(CompareBad, ClearErrors) {
    TempDir dir;
    capture(kTiny, dir.file("a"));
    expect_error([&] { compare_captures({dir.file("a")}); }, {"1 capture directory", "at least 2"});
    expect_error([&] { compare_captures({dir.file("a"), dir.file("missing")}); }, {"missing"});
    RunnerOptions o;
    o.capture = "inputs";
    {
        Runner r(kTiny, o);
        r.run_with_hooks(r.prepare_data(texts()), dir.file("nopatterns"));
    }
    expect_error([&] { compare_captures({dir.file("a"), dir.file("nopatterns")}); }, {"nopatterns", "no attention patterns"});
    o.capture = "weights";
    {
        Runner r(kTiny, o);
        auto t = texts();
        t[1] = "Another text entirely.";
        r.run_with_hooks(r.prepare_data(t), dir.file("other"));
    }
    expect_error([&] { compare_captures({dir.file("a"), dir.file("other")}); }, {"sequence 1 differs", "other"});
    CompareOptions co;
    co.labels = {"x"};
    expect_error([&] { compare_captures({dir.file("a"), dir.file("a")}, co); }, {"1 labels for 2"});
}

// A short training run (tools/train/checkpoints.py: a 2-layer GPT-2 learning to copy repeated
// random tokens), captured at four steps: the matchings and their JS equal what the script
// computed independently from the same captures (float64 numpy, brute force over every
// assignment), and each head's trajectory follows them.
TEST(Compare, TrainingCheckpointsMatchTheIndependentComputation) {
    const std::string dir = std::string(ATTNSCOPE_FIXTURES) + "/checkpoints";
    const nlohmann::json want = nlohmann::json::parse(read_file(dir + "/expected.json"));
    std::vector<std::string> dirs;
    for (const auto& s : want["steps"])
        dirs.push_back(dir + "/step-" + std::to_string(s.get<int>()));
    const Comparison c = compare_captures(dirs);
    ASSERT_EQ(c.pairs.size(), want["pairs"].size());
    double worst = 0;
    for (size_t k = 0; k < c.pairs.size(); ++k) {
        const auto& wm = want["pairs"][k]["matches"];
        const PairComparison& p = c.pairs[k];
        ASSERT_EQ(p.matches.size(), wm.size());
        for (size_t i = 0; i < wm.size(); ++i) {
            EXPECT_EQ(p.matches[i].a.name(), wm[i]["a"].get<std::string>());
            EXPECT_EQ(p.matches[i].b.name(), wm[i]["b"].get<std::string>()) << "pair " << k << ", " << wm[i]["a"];
            worst = std::max(worst, std::fabs(p.matches[i].js - wm[i]["js"].get<double>()));
        }
        const auto& m = want["pairs"][k]["js_matrix"];
        for (size_t a = 0; a < p.heads_a.size(); ++a)
            for (size_t b = 0; b < p.heads_b.size(); ++b)
                worst = std::max(worst, std::fabs(p.js[a * p.heads_b.size() + b] - m[a][b].get<double>()));
    }
    EXPECT_LE(worst, 1e-6); // F16 captures; single-precision logarithms
    std::printf("[ compare ] training checkpoints: every match as computed independently, JS within %.1e\n", worst);
    ASSERT_EQ(c.trajectories.size(), 8u);
    for (const Trajectory& t : c.trajectories) {
        ASSERT_EQ(t.path.size(), dirs.size());
        for (size_t step = 0; step + 1 < t.path.size(); ++step) {
            const auto& wm = want["pairs"][step]["matches"];
            for (const auto& x : wm)
                if (x["a"] == t.path[step].name()) {
                    EXPECT_EQ(t.path[step + 1].name(), x["b"].get<std::string>());
                }
        }
    }
}
