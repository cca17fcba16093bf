// The analysis end to end on the built-in model: shards merge to the numbers of one run,
// --stats-only agrees with capture + analyze, malformed capture directories give errors that
// name the file and tensor, and the head probe agrees with the model card.
#include "api/runner.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "report/report.h"
#include "test_util.h"

#include <cmath>
#include <filesystem>
#include <chrono>
#include <functional>
#include <memory>
#include <set>

using namespace attnscope;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = std::string(ATTNSCOPE_SOURCE_DIR) + "/models/tiny";

std::vector<std::string> texts() {
    return {"The State of the Union is strong, and the Congress has done its work.",
            "We must act, and we must act now: the budget, the army, the navy.",
            "Peace and prosperity. Peace and prosperity. Peace and prosperity for all.",
            "Fellow citizens,",
            "In the year past the nation has grown in wealth and in numbers, and the revenue has grown with it.",
            "I recommend to the Congress that the tariff be revised.",
            "x"};
}

// Every number in a, compared with b's at the same place; strings and sizes must be equal.
void expect_same_json(const nlohmann::json& a, const nlohmann::json& b, double rel, const std::string& at = "") {
    if (a.is_number() && b.is_number()) {
        const double x = a.get<double>(), y = b.get<double>();
        EXPECT_LE(std::fabs(x - y), rel * std::max(1.0, std::fabs(y))) << at << ": " << x << " vs " << y;
        return;
    }
    ASSERT_EQ(a.type(), b.type()) << at;
    if (a.is_object()) {
        ASSERT_EQ(a.size(), b.size()) << at;
        for (auto it = a.begin(); it != a.end(); ++it)
            expect_same_json(it.value(), b.at(it.key()), rel, at + "." + it.key());
    } else if (a.is_array()) {
        ASSERT_EQ(a.size(), b.size()) << at;
        for (size_t k = 0; k < a.size(); ++k)
            expect_same_json(a[k], b[k], rel, at + "[" + std::to_string(k) + "]");
    } else {
        EXPECT_EQ(a, b) << at;
    }
}

nlohmann::json summary_of(const AnalysisResult& r) {
    nlohmann::json j = nlohmann::json::parse(summary_json(r).dump());
    j.erase("sources");
    j.erase("capture_fingerprint"); // differs with the directories by construction
    return j;
}

} // namespace

TEST(AnalysisApi, ShardsMergeToOneRun) {
    test::TempDir tmp;
    // One text per forward pass, so both runs hold the same bits for every sequence (in other
    // batches sgemm rounds them differently, ~1e-7): what is tested here is that the analysis
    // merges shards exactly.
    RunnerOptions one_per_batch;
    one_per_batch.batch_size = 1;
    Runner runner(kTiny, one_per_batch);
    const auto all = texts();
    runner.run_with_hooks(runner.prepare_data(all), tmp.file("all"));
    std::vector<std::string> shards;
    for (size_t k = 0; k < 3; ++k) {
        std::vector<std::string> part;
        for (size_t i = k; i < all.size(); i += 3) // interleaved, so no shard is a prefix
            part.push_back(all[i]);
        shards.push_back(tmp.file("shard" + std::to_string(k)));
        runner.run_with_hooks(runner.prepare_data(part), shards.back());
    }
    const AnalysisResult one = AttentionDataAnalyzer(tmp.file("all")).analyze();
    const AnalysisResult merged = AttentionDataAnalyzer(shards).analyze();
    EXPECT_EQ(merged.n_sequences, int64_t(all.size()));
    // Sequence order differs between the two (shards are interleaved), so the rollout rows kept
    // for the report name other sequences; every statistic must agree.
    auto a = summary_of(one), b = summary_of(merged);
    a["rollout"].erase("sequences");
    b["rollout"].erase("sequences");
    expect_same_json(b, a, 1e-9);
}

TEST(AnalysisApi, StatsOnlyMatchesCaptureAndAnalyze) {
    test::TempDir tmp;
    RunnerOptions o;
    o.covariance = true; // effective dimensionality too
    Runner runner(kTiny, o);
    const PreparedData data = runner.prepare_data(texts());
    runner.run_with_hooks(data, tmp.file("cap"));
    const AnalysisResult full = runner.analyze_attention_patterns(tmp.file("cap"));
    const AnalysisResult fast = runner.run_stats_only(data, tmp.file("fast"));
    EXPECT_TRUE(fast.stats_only);
    ASSERT_EQ(fast.layers.size(), full.layers.size());
    double worst = 0;
    for (size_t il = 0; il < full.layers.size(); ++il) {
        ASSERT_EQ(fast.layers[il].heads.size(), full.layers[il].heads.size());
        for (size_t h = 0; h < full.layers[il].heads.size(); ++h) {
            const HeadResult &x = fast.layers[il].heads[h], &y = full.layers[il].heads[h];
            EXPECT_EQ(x.rows, y.rows);
            EXPECT_EQ(x.label, y.label);
            for (size_t m = 0; m < x.metrics.size(); ++m)
                worst =
                    std::max(worst, std::fabs(x.metrics[m] - y.metrics[m]) / std::max(1.0, std::fabs(y.metrics[m])));
            worst = std::max({worst, std::fabs(x.scores.induction - y.scores.induction),
                              std::fabs(x.template_scores.previous_token - y.template_scores.previous_token)});
        }
        EXPECT_NEAR(fast.layers[il].transform_magnitude, full.layers[il].transform_magnitude, 1e-9);
        EXPECT_NEAR(fast.layers[il].input.effective_dim, full.layers[il].input.effective_dim, 1e-6);
    }
    EXPECT_LE(worst, 1e-6);
    // the files are there and say how they were made
    const auto j = nlohmann::json::parse(test::read_file(tmp.file("fast") + "/" + kSummaryFile));
    EXPECT_EQ(j["schema"], kSummarySchema);
    EXPECT_EQ(j["stats_only"], true);
    EXPECT_NE(test::read_file(tmp.file("fast") + "/" + kReportFile).find("--stats-only"), std::string::npos);
}

TEST(AnalysisApi, MalformedCaptureDirectories) {
    test::TempDir tmp;
    Runner runner(kTiny);
    const std::string good = tmp.file("good");
    runner.run_with_hooks(runner.prepare_data({"One text here.", "And another one, a bit longer."}), good);
    auto copy = [&](const std::string& name) {
        const std::string d = tmp.file(name);
        fs::copy(good, d, fs::copy_options::recursive);
        return d;
    };
    // missing manifest
    const std::string no_manifest = copy("no-manifest");
    fs::remove(no_manifest + "/manifest.json");
    test::expect_error([&] { AttentionDataAnalyzer a(no_manifest); }, {no_manifest, "no manifest.json"});
    // unknown schema version
    const std::string future = copy("future");
    {
        auto m = nlohmann::json::parse(test::read_file(future + "/manifest.json"));
        m["schema"] = "attnscope.capture/9";
        test::write_file(future + "/manifest.json", m.dump());
    }
    test::expect_error([&] { AttentionDataAnalyzer a(future); }, {"manifest.json", "attnscope.capture/9"});

    // rewrite the weights file: drop one tensor, or give one a wrong shape
    auto rewrite = [&](const std::string& dir,
                       const std::function<bool(const TensorInfo&, std::vector<int64_t>&)>& edit) {
        const std::string path = dir + "/attention_data_weights.safetensors";
        const std::string tmp_path = dir + "/weights.orig";
        fs::rename(path, tmp_path);
        SafetensorsFile in(tmp_path);
        SafetensorsWriter w(path, DType::f32, {{"format", "pt"}});
        std::vector<std::pair<size_t, const TensorInfo*>> keep;
        std::vector<std::vector<int64_t>> shapes;
        for (const auto& t : in.tensors()) {
            std::vector<int64_t> shape = t.shape;
            if (!edit(t, shape)) continue;
            keep.push_back({w.declare(t.name, shape), &t});
            shapes.push_back(shape);
        }
        w.begin();
        std::vector<float> storage, zeros;
        for (size_t k = 0; k < keep.size(); ++k) {
            const TensorInfo& t = *keep[k].second;
            const float* p = in.as_f32(t, storage);
            int64_t n = 1;
            for (int64_t x : shapes[k])
                n *= x;
            zeros.assign(size_t(n), 0.0f);
            std::copy(p, p + std::min<int64_t>(n, t.numel()), zeros.begin());
            w.write(keep[k].first, TensorView::contiguous(zeros.data(), shapes[k]));
        }
        w.finish();
        fs::remove(tmp_path);
    };
    const std::string missing = copy("missing");
    rewrite(missing,
            [](const TensorInfo& t, std::vector<int64_t>&) { return t.name != "seq1.blocks.2.attn.hook_pattern"; });
    test::expect_error([&] { AttentionDataAnalyzer(missing).analyze(); },
                       {"attention_data_weights.safetensors", "'seq1.blocks.2.attn.hook_pattern' is missing"});
    const std::string wrong = copy("wrong-shape");
    rewrite(wrong, [](const TensorInfo& t, std::vector<int64_t>& shape) {
        if (t.name == "seq0.blocks.1.attn.hook_pattern") shape[0] = 3;
        return true;
    });
    test::expect_error(
        [&] { AttentionDataAnalyzer(wrong).analyze(); },
        {"attention_data_weights.safetensors", "'seq0.blocks.1.attn.hook_pattern' has shape [3,", "expected [4,"});
    // two captures of different models cannot be merged
    const std::string other = tmp.file("other");
    Runner(test::fixture("gpt2-tiny"))
        .run_with_hooks(Runner(test::fixture("gpt2-tiny")).prepare_data({"hi there"}), other);
    test::expect_error([&] { AttentionDataAnalyzer({good, other}).analyze(); }, {other, "differs from", good});
}

TEST(AnalysisApi, HeadProbeAgreesWithModelCard) {
    // The card's scores (tools/train/train_tiny.py head_scores, recorded in tiny-eval.json) were
    // measured by the reference implementation on its own random blocks; the probe draws other
    // random blocks, so the two agree statistically, not to the bit.
    const auto card = read_json_file(test::fixture("tiny-eval.json"));
    Runner runner(kTiny);
    const AnalysisResult r = runner.probe_heads();
    int compared = 0;
    for (const auto& h : card.at("heads")) {
        const int il = h.at("layer").get<int>(), hd = h.at("head").get<int>();
        const HeadResult& x = r.layers[size_t(il)].heads[size_t(hd)];
        EXPECT_NEAR(x.template_scores.previous_token, h.at("previous_token").get<double>(), 0.05)
            << "L" << il << "H" << hd;
        EXPECT_NEAR(x.template_scores.induction, h.at("induction").get<double>(), 0.05) << "L" << il << "H" << hd;
        // a head the card scores at the label threshold or more carries that label, no other head does
        const double s = r.options.label_score;
        EXPECT_EQ(x.label == "induction", h.at("induction").get<double>() >= s);
        if (x.label != "induction") {
            EXPECT_EQ(x.label == "previous_token", h.at("previous_token").get<double>() >= s);
        }
        ++compared;
    }
    EXPECT_EQ(compared, r.config.n_layer * r.config.n_head);
}

TEST(AnalysisApi, ReportNamesTheModelCardsHeads) {
    // On ordinary text, one of which repeats itself, the report's taxonomy names the heads the
    // card scores at 0.5 or more on repeated random blocks (issue 6), and no other head with
    // those labels.
    const auto card = read_json_file(test::fixture("tiny-eval.json"));
    std::set<std::string> card_prev, card_ind;
    for (const auto& h : card.at("heads")) {
        const std::string name = head_name(h.at("layer").get<int>(), h.at("head").get<int>());
        if (h.at("previous_token").get<double>() >= 0.5) card_prev.insert(name);
        if (h.at("induction").get<double>() >= 0.5) card_ind.insert(name);
    }
    ASSERT_FALSE(card_prev.empty()) << "the card names no previous-token head";
    ASSERT_FALSE(card_ind.empty()) << "the card names no induction head";
    test::TempDir tmp;
    Runner runner(kTiny);
    std::vector<std::string> data = texts();
    data.push_back("liberty treaty harbor railroad tariff revenue frontier liberty treaty harbor railroad tariff "
                   "revenue frontier liberty treaty harbor railroad tariff revenue frontier");
    runner.run_with_hooks(runner.prepare_data(data), tmp.file("cap"));
    AttentionDataAnalyzer analyzer(tmp.file("cap"));
    analyzer.create_comprehensive_report(tmp.file("cap"));
    std::set<std::string> prev, ind;
    for (const auto& layer : analyzer.analyze().layers)
        for (const HeadResult& h : layer.heads) {
            if (h.label == "previous_token") prev.insert(head_name(h.layer, h.head));
            if (h.label == "induction") ind.insert(head_name(h.layer, h.head));
        }
    EXPECT_EQ(prev, card_prev);
    EXPECT_EQ(ind, card_ind);
    // and the report's taxonomy section lists them under their labels
    const std::string report = test::read_file(tmp.file("cap") + "/" + kReportFile);
    auto listed = [&](const std::string& label) {
        const size_t at = report.find("\n  " + label + ": ");
        return at == std::string::npos ? std::string() : report.substr(at, report.find('\n', at + 1) - at);
    };
    for (const auto& name : card_ind)
        EXPECT_NE(listed("induction").find(name), std::string::npos) << name;
    for (const auto& name : card_prev)
        EXPECT_NE(listed("previous_token").find(name), std::string::npos) << name;
}

// analyze stores its result with the capture's fingerprint; later commands reuse it exactly, and
// a capture changed since, an edited summary or other options are analysed again, said once.
TEST(AnalysisApi, StoredAnalysisIsReusedOnlyWhenItMatches) {
    test::TempDir tmp;
    Runner runner(kTiny);
    const std::string dir = tmp.file("cap");
    runner.run_with_hooks(runner.prepare_data(texts()), dir);
    const AnalysisResult first = AttentionDataAnalyzer(dir).analyze();
    EXPECT_EQ(first.fingerprint.size(), 64u);
    write_report(first, dir);
    std::vector<std::string> notices;
    auto analyzer = [&](AnalysisOptions o = {}) {
        auto an = std::make_unique<AttentionDataAnalyzer>(dir, o);
        an->set_notice([&](const std::string& s) { notices.push_back(s); });
        return an;
    };
    {
        auto an = analyzer();
        const AnalysisResult& again = an->analyze();
        EXPECT_TRUE(an->reused_stored());
        EXPECT_EQ(summary_json(again).dump(), summary_json(first).dump()); // every digit
        EXPECT_EQ(report_text(again), report_text(first));
        EXPECT_TRUE(notices.empty());
    }
    {
        AnalysisOptions other;
        other.label_score = 0.5;
        auto an = analyzer(other);
        an->analyze();
        EXPECT_FALSE(an->reused_stored());
        ASSERT_EQ(notices.size(), 1u);
        EXPECT_NE(notices[0].find("other analysis options"), std::string::npos) << notices[0];
    }
    {
        // the tensors rewritten after analyze (same size): the fingerprint sees the new mtime
        notices.clear();
        const auto weights = std::filesystem::path(dir) / "attention_data_weights.safetensors";
        std::filesystem::last_write_time(weights, std::filesystem::last_write_time(weights) + std::chrono::seconds(5));
        auto an = analyzer();
        const AnalysisResult& fresh = an->analyze();
        EXPECT_FALSE(an->reused_stored());
        ASSERT_EQ(notices.size(), 1u);
        EXPECT_NE(notices[0].find("changed after analyze"), std::string::npos) << notices[0];
        EXPECT_NE(fresh.fingerprint, first.fingerprint);
    }
    {
        // a summary edited by hand into something this version cannot read back
        notices.clear();
        write_report(AttentionDataAnalyzer(dir).analyze(), dir);
        const std::string path = (std::filesystem::path(dir) / kSummaryFile).string();
        nlohmann::json j = read_json_file(path);
        j["layers"][0]["heads"][0]["offset_profile"] = {1, 2};
        test::write_file(path, j.dump());
        auto an = analyzer();
        an->analyze();
        EXPECT_FALSE(an->reused_stored());
        ASSERT_EQ(notices.size(), 1u);
        EXPECT_NE(notices[0].find("offset_profile"), std::string::npos) << notices[0];
    }
}
