// Stats-only shards merge into the whole run (issue #23): random shardings of a corpus into
// statistics files, and mixes of statistics files and capture directories, analysed in random
// order, give the summary of one stats-only run over the corpus (every number within 1e-9
// relative, the same labels and recommendations). Bad shards and corrupted statistics files are
// refused with errors that name the file or the pair; nothing is deleted.
#include "analysis/statistics.h"
#include "api/runner.h"
#include "capture/shard_runs.h"
#include "io/safetensors.h"
#include "report/report.h"
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace attnscope;
using namespace attnscope::test;
namespace fs = std::filesystem;

namespace {

AnalysisResult analyze_dirs(const std::vector<std::string>& dirs) {
    std::vector<std::unique_ptr<CaptureReader>> caps;
    std::vector<std::unique_ptr<StatisticsFile>> stats;
    std::vector<const CaptureReader*> cs;
    std::vector<const StatisticsFile*> ss;
    for (const auto& d : dirs)
        if (is_statistics(d))
            stats.push_back(std::make_unique<StatisticsFile>(d)), ss.push_back(stats.back().get());
        else
            caps.push_back(std::make_unique<CaptureReader>(d)), cs.push_back(caps.back().get());
    return analyze_parts(cs, ss, {});
}

// Every number within `rel` (relative), every string, bool and key identical; the worst seen.
void expect_close(const nlohmann::json& a, const nlohmann::json& b, double rel, const std::string& where,
                  double& worst) {
    ASSERT_EQ(a.is_number(), b.is_number()) << where;
    if (a.is_number()) {
        const double x = a.get<double>(), y = b.get<double>();
        const double r = x == y ? 0.0 : std::fabs(x - y) / std::max(std::fabs(x), std::fabs(y));
        worst = std::max(worst, r);
        EXPECT_LE(r, rel) << where << ": " << x << " vs " << y;
    } else if (a.is_object()) {
        ASSERT_TRUE(b.is_object()) << where;
        ASSERT_EQ(a.size(), b.size()) << where;
        for (auto it = a.begin(); it != a.end(); ++it) {
            ASSERT_TRUE(b.contains(it.key())) << where << "." << it.key();
            expect_close(it.value(), b[it.key()], rel, where + "." + it.key(), worst);
        }
    } else if (a.is_array()) {
        ASSERT_TRUE(b.is_array()) << where;
        ASSERT_EQ(a.size(), b.size()) << where;
        for (size_t i = 0; i < a.size(); ++i)
            expect_close(a[i], b[i], rel, where + "[" + std::to_string(i) + "]", worst);
    } else {
        EXPECT_EQ(a, b) << where;
    }
}

nlohmann::json comparable(const AnalysisResult& r) {
    nlohmann::json j = summary_json(r);
    j.erase("sources");
    j.erase("capture_fingerprint");
    return j;
}

} // namespace

TEST(StatisticsShards, RandomShardingsAndMixesMergeToTheWholeRun) {
    TempDir dir;
    std::mt19937 rng(2323);
    const std::vector<std::string> corpus = random_corpus(rng, 17);
    run_part(corpus, dir.file("whole"), {}, 8, true);
    const AnalysisResult whole_run = analyze_dirs({dir.file("whole")});
    const nlohmann::json whole = comparable(whole_run);
    EXPECT_TRUE(whole_run.stats_only);
    EXPECT_EQ(whole_run.n_sequences, 17);
    // the sums read back give the summary the run itself wrote
    double same = 0;
    nlohmann::json written = nlohmann::json::parse(read_file(dir.file("whole") + "/" + kSummaryFile));
    written.erase("sources");
    written.erase("capture_fingerprint");
    expect_close(comparable(whole_run), written, 0, "written summary", same);
    double worst = 0;
    for (int trial = 0; trial < 4; ++trial) {
        const int64_t N = 2 + int64_t(rng() % 6);
        std::vector<std::string> dirs;
        int captures = 0;
        for (int64_t i = 0; i < N; ++i) {
            dirs.push_back(dir.file(cat("t", trial, "-", i)));
            // trials 2 and 3 mix capture directories (full F32 captures) with statistics files
            const bool capture = trial >= 2 && rng() % 2 == 0 && captures + 1 < N;
            captures += capture;
            run_part(corpus, dirs.back(), shard_of(i, N, int64_t(corpus.size())), 1 + int(rng() % 5), !capture);
        }
        std::shuffle(dirs.begin(), dirs.end(), rng);
        const AnalysisResult merged = analyze_dirs(dirs);
        EXPECT_TRUE(merged.stats_only);
        EXPECT_EQ(merged.sources.size(), size_t(N));
        expect_close(comparable(merged), whole, 1e-9,
                     cat("trial ", trial, " (", N, " shards, ", captures, " captures)"), worst);
    }
    std::printf("[ MERGE ] stats-only shards and mixes: worst relative difference %.3g\n", worst);

    // with covariances: effective dimensionality merges too
    run_part(corpus, dir.file("cov-whole"), {}, 8, true, true);
    std::vector<std::string> cov;
    for (int64_t i = 0; i < 3; ++i) {
        cov.push_back(dir.file(cat("cov-", i)));
        run_part(corpus, cov.back(), shard_of(i, 3, int64_t(corpus.size())), 2, true, true);
    }
    const AnalysisResult cw = analyze_dirs({dir.file("cov-whole")});
    ASSERT_GT(cw.layers[0].input.effective_dim, 1.0);
    double w2 = 0;
    expect_close(comparable(analyze_dirs({cov[2], cov[0], cov[1]})), comparable(cw), 1e-9, "covariance", w2);
    // without, it is said why it is missing
    EXPECT_EQ(whole_run.layers[0].input.effective_dim, -1);
    EXPECT_TRUE(std::any_of(whole_run.notes.begin(), whole_run.notes.end(),
                            [](const std::string& n) { return n.find("--covariance") != std::string::npos; }));
}

// run --stats-only --loss (issue #33's evolve): the loss is the one the ablation reports as clean
// (the same definition, another path), and shards merge to its exact bits (a fixed-point sum).
TEST(StatisticsShards, LossIsTheCleanLossAndShardsMergeToItsBits) {
    TempDir dir;
    std::mt19937 rng(77);
    const std::vector<std::string> corpus = random_corpus(rng, 11);
    RunnerOptions o;
    o.batch_size = 4;
    o.loss = true;
    Runner runner(tiny(), o);
    const AnalysisResult whole = runner.run_stats_only(runner.prepare_data(corpus), dir.file("whole"));
    AblateOptions ao;
    ao.targets = parse_ablation_targets("L0H0", runner.model().config());
    const HeadImportance clean = runner.ablate(runner.prepare_data(corpus), ao);
    ASSERT_GT(whole.loss_predictions, 0);
    EXPECT_EQ(whole.loss_predictions, clean.tokens);
    EXPECT_NEAR(whole.loss, clean.clean_loss, 1e-9 * clean.clean_loss);
    std::vector<std::string> parts;
    for (int i = 0; i < 3; ++i) {
        Runner part(tiny(), o);
        const ShardInfo sh = shard_of(i, 3, int64_t(corpus.size()));
        PreparedData d = part.prepare_data(
            std::vector<std::string>(corpus.begin() + sh.first, corpus.begin() + sh.end()));
        d.shard = sh;
        parts.push_back(dir.file(cat("part", i)));
        part.run_stats_only(d, parts.back());
    }
    const AnalysisResult merged = analyze_dirs(parts);
    EXPECT_EQ(merged.loss, whole.loss); // the same bits
    EXPECT_EQ(merged.loss_predictions, whole.loss_predictions);
    EXPECT_EQ(analyze_dirs({dir.file("whole")}).loss, whole.loss); // read back from the statistics file
    std::printf("[ LOSS ] stats-only %.6f nats over %lld predictions; ablation's clean loss %.6f\n", whole.loss,
                (long long)whole.loss_predictions, clean.clean_loss);
}

TEST(StatisticsShards, MismatchedShardsAreRefusedByName) {
    TempDir dir;
    std::mt19937 rng(5);
    const std::vector<std::string> corpus = random_corpus(rng, 9), other = random_corpus(rng, 10);
    for (int64_t i = 0; i < 3; ++i)
        run_part(corpus, dir.file(cat("s", i)), shard_of(i, 3, 9), 2, true);
    const std::string s0 = dir.file("s0"), s1 = dir.file("s1"), s2 = dir.file("s2");
    expect_error([&] { analyze_dirs({s0, s2}); }, {"shard 1/3", "texts 3..5 of 9", "is missing", "--shard 1/3"});
    expect_error([&] { analyze_dirs({s0, s1, s1, s2}); }, {"are both shard 1/3"});
    // one shard alone is its own slice, and says so
    const AnalysisResult alone = analyze_dirs({s1});
    EXPECT_EQ(alone.n_sequences, 3);
    EXPECT_TRUE(std::any_of(alone.notes.begin(), alone.notes.end(), [](const std::string& n) {
        return n.find("shard 1/3 alone: texts 3..5 of 9") != std::string::npos;
    })) << "no note on the lone shard";
    // another corpus size
    run_part(other, dir.file("o1"), shard_of(1, 3, 10), 2, true);
    expect_error([&] { analyze_dirs({s0, dir.file("o1"), s2}); }, {"of 10 texts", "not one corpus"});
    // other options: covariances, layers
    run_part(corpus, dir.file("c1"), shard_of(1, 3, 9), 2, true, true);
    expect_error([&] { analyze_dirs({s0, dir.file("c1"), s2}); }, {"different options", "--covariance"});
    run_part(corpus, dir.file("l1"), shard_of(1, 3, 9), 2, true, false, "0");
    expect_error([&] { analyze_dirs({s0, dir.file("l1"), s2}); }, {"different options"});
    // another model
    {
        Runner runner(fixture("gpt2-tiny"));
        PreparedData d = runner.prepare_data({corpus.begin() + 3, corpus.begin() + 6});
        d.shard = shard_of(1, 3, 9);
        runner.run_stats_only(d, dir.file("m1"));
    }
    expect_error([&] { analyze_dirs({s0, dir.file("m1"), s2}); }, {"m1 is of model", "one model"});
    {
        Runner runner(fixture("gpt2-tiny"));
        runner.run_stats_only(runner.prepare_data({corpus[0]}), dir.file("m-all"));
    }
    run_part(corpus, dir.file("t-all"), {}, 2, true);
    expect_error([&] { analyze_dirs({dir.file("t-all"), dir.file("m-all")}); }, {"m-all is of model", "one model"});
    // an F16 capture cannot join sums of f32 values
    {
        RunnerOptions o;
        o.dtype = DType::f16;
        Runner runner(tiny(), o);
        PreparedData d = runner.prepare_data({corpus.begin() + 3, corpus.begin() + 6});
        d.shard = shard_of(1, 3, 9);
        runner.run_with_hooks(d, dir.file("h1"));
    }
    expect_error([&] { analyze_dirs({s0, dir.file("h1"), s2}); }, {"h1 was captured in F16", "--dtype f32"});
    // a stats-only part and an unsharded one
    run_part(corpus, dir.file("all"), {}, 2, true);
    expect_error([&] { analyze_dirs({s0, dir.file("all")}); }, {"is not a shard"});
    // nothing was deleted along the way
    for (const auto& d : {s0, s1, s2})
        EXPECT_TRUE(fs::exists(d + "/" + kStatisticsFile));
}

TEST(StatisticsShards, CorruptedStatisticsFilesGiveClearErrors) {
    TempDir dir;
    std::mt19937 rng(11);
    const std::vector<std::string> corpus = random_corpus(rng, 4);
    run_part(corpus, dir.file("good"), {}, 2, true);
    const std::string good = dir.file("good") + "/" + kStatisticsFile;
    const std::string bytes = read_file(good);
    const SafetensorsFile st(good);
    auto variant = [&](const std::string& name, const std::function<void(std::string&)>& edit) {
        std::string b = bytes;
        edit(b);
        fs::create_directories(dir.file(name));
        write_file(dir.file(name) + "/" + kStatisticsFile, b);
        return dir.file(name);
    };
    const uint64_t header_len = [&] {
        uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        return n;
    }();
    auto value_offset = [&](const std::string& tensor) { return size_t(8 + header_len + st.find(tensor)->begin); };
    auto put = [&](std::string& b, size_t off, double v) { std::memcpy(&b[off], &v, 8); };

    // truncated: the safetensors reader names the file
    const std::string cut = variant("cut", [](std::string& b) { b.resize(b.size() / 2); });
    expect_error([&] { StatisticsFile f(cut); }, {cut, kStatisticsFile});
    // a NaN among the sums
    const std::string nan =
        variant("nan", [&](std::string& b) { put(b, value_offset("heads.metric_sum") + 8, std::nan("")); });
    expect_error([&] { StatisticsFile(nan).load(); }, {"heads.metric_sum", "not finite", "corrupted"});
    // a negative count
    const std::string neg = variant("neg", [&](std::string& b) { put(b, value_offset("heads.offset_rows"), -3.0); });
    expect_error([&] { StatisticsFile(neg).load(); }, {"heads.offset_rows", "-3", "not a count"});
    const std::string huge =
        variant("huge", [&](std::string& b) { put(b, value_offset("heads.template_rows"), 1e136); });
    expect_error([&] { StatisticsFile(huge).load(); }, {"heads.template_rows", "not a count"});
    // a width that is not the model's
    const std::string width =
        variant("width", [&](std::string& b) { put(b, value_offset("hidden.input.moments"), 5.0); });
    expect_error([&] { StatisticsFile(width).load(); }, {"hidden.input.moments", "width 5"});
    // another schema in the metadata
    const std::string schema = variant("schema", [](std::string& b) {
        const size_t p = b.rfind("attnscope.statistics/1"); // the metadata key (after "manifest")
        b.replace(p, 22, "attnscope.statistics/9");
    });
    expect_error([&] { StatisticsFile f(schema); }, {"attnscope.statistics/9", "not supported"});
    // a capture's safetensors file is not a statistics file
    const std::string notstats = dir.file("notstats");
    fs::create_directories(notstats);
    write_file(notstats + "/" + kStatisticsFile, safetensors_bytes("{}", ""));
    expect_error([&] { StatisticsFile f(notstats); }, {"not an attnscope statistics file"});
    // a directory without the file (an interrupted run)
    fs::create_directories(dir.file("empty"));
    expect_error([&] { StatisticsFile f(dir.file("empty")); }, {"no statistics.safetensors", "--resume"});
    // and the good one still reads
    EXPECT_NO_THROW(StatisticsFile(good).load());
}
