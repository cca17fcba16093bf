// Capture end to end: the run command on a fixture found in a fake Hugging Face cache, compared
// with the PyTorch reference; the Runner API; bad input; and faults (write errors, SIGINT, SIGKILL).
#include "api/runner.h"
#include "capture/shard_runs.h"
#include "core/files.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "report/report.h"
#include "test_util.h"

#include <cmath>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace attnscope;
using namespace attnscope::test;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTexts = {
    "Hi.",
    "The quick brown fox jumps over the lazy dog, and the dog sleeps on.",
    "Attention is all you need: the model looks back at every earlier token, weighs it, and mixes "
    "what it finds. Heads that look at the previous token, heads that copy, heads that rest on the first "
    "token: each has its job, and a capture shows all of them at once.",
};

using Result = ShellResult;

Result cli(const std::string& args, const std::string& env = "") {
    return run_shell(env + " " + std::string(ATTNSCOPE_CLI) + " " + args);
}

// A fake HF cache holding the gpt2-tiny fixture as "test-org/tiny-gpt2".
std::string fake_cache(const TempDir& dir) {
    const fs::path repo = fs::path(dir.str()) / "hub" / "models--test-org--tiny-gpt2";
    const fs::path snap = repo / "snapshots" / "0123abcd";
    fs::create_directories(snap);
    fs::create_directories(repo / "refs");
    write_file((repo / "refs" / "main").string(), "0123abcd");
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt"})
        fs::copy_file(fixture("gpt2-tiny") + "/" + f, snap / f);
    return (fs::path(dir.str()) / "hub").string();
}

double max_error(const Captured& got, const SafetensorsFile& ref, const std::string& name, bool relative) {
    const TensorInfo* t = ref.find(name);
    EXPECT_NE(t, nullptr) << name;
    if (!t) return 1e9;
    EXPECT_EQ(got.shape, t->shape) << name;
    std::vector<float> storage;
    const float* r = ref.as_f32(*t, storage);
    double err = 0, scale = 0;
    for (int64_t i = 0; i < t->numel(); ++i) {
        err = std::max(err, std::fabs(double(got.data[size_t(i)]) - r[i]));
        scale = std::max(scale, std::fabs(double(r[i])));
    }
    return relative ? err / std::max(scale, 1e-30) : err;
}

std::vector<std::string> final_files(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().find(kTempMarker) == std::string::npos)
            out.push_back(e.path().filename().string());
    return out;
}

std::vector<std::string> temp_files(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().find(kTempMarker) != std::string::npos)
            out.push_back(e.path().filename().string());
    return out;
}

} // namespace

TEST(CaptureE2E, RunFromHfCacheMatchesReference) {
    TempDir dir;
    const std::string cache = fake_cache(dir);
    const std::string out = dir.file("results");
    std::string args = "run --model test-org/tiny-gpt2 --output " + out + " --batch-size 2 --text";
    for (const auto& t : kTexts)
        args += " " + quote(t);
    const Result r = cli(args, "HF_HUB_CACHE=" + cache);
    ASSERT_EQ(r.code, 0) << r.output;

    CaptureReader reader(out);
    SafetensorsFile ref(fixture("gpt2-tiny") + "/expected_capture.safetensors");
    ASSERT_EQ(reader.n_sequences(), 3);
    EXPECT_EQ(reader.manifest()["model"]["source"], "hf-cache");
    EXPECT_EQ(reader.manifest()["model"]["weights"][0]["sha256"].get<std::string>().size(), 64u);
    double worst_pattern = 0, worst_hidden = 0;
    for (int s = 0; s < 3; ++s) {
        const SequenceInfo& seq = reader.sequence(s);
        EXPECT_EQ(seq.text, kTexts[size_t(s)]);
        // the manifest's ids are the reference tokenizer's (tools/train/bpe.py)
        const TensorInfo* ids = ref.find("seq" + std::to_string(s) + ".input_ids");
        ASSERT_NE(ids, nullptr);
        std::vector<int32_t> want(size_t(ids->numel()));
        std::memcpy(want.data(), ref.raw(*ids), want.size() * 4);
        EXPECT_EQ(seq.token_ids, want) << "sequence " << s;
        EXPECT_EQ(seq.length, int64_t(want.size()));
        EXPECT_EQ(seq.tokens.size(), want.size());
        for (int il = 0; il < 2; ++il) {
            const std::string b = "blocks." + std::to_string(il) + ".";
            const std::string key = "seq" + std::to_string(s) + "." + b;
            worst_pattern = std::max(worst_pattern, max_error(reader.read(s, b + "attn.hook_pattern"), ref,
                                                              key + "attn.hook_pattern", false));
            for (const char* h : {"ln1.hook_normalized", "hook_resid_pre", "hook_attn_out"})
                worst_hidden = std::max(worst_hidden, max_error(reader.read(s, b + h), ref, key + h, true));
        }
    }
    EXPECT_LE(worst_pattern, 1e-5);
    EXPECT_LE(worst_hidden, 1e-4);
    std::printf(
        "[ capture vs reference ] attention weights max abs error %.3g; inputs/outputs max relative error %.3g\n",
        worst_pattern, worst_hidden);
    EXPECT_TRUE(temp_files(out).empty());
    // the three files of the original module, plus the manifest
    auto files = final_files(out);
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files,
              (std::vector<std::string>{"attention_data_inputs.safetensors", "attention_data_outputs.safetensors",
                                        "attention_data_weights.safetensors", "manifest.json"}));
}

// Revisions of a cached model (issue #33): refs/main and refs/step1000 name two snapshots; the
// manifest records the revision asked for and the commit it resolved to.
TEST(CaptureE2E, RevisionsOfACachedModel) {
    TempDir dir;
    const std::string cache = fake_cache(dir);
    const fs::path repo = fs::path(cache) / "models--test-org--tiny-gpt2";
    fs::copy(repo / "snapshots" / "0123abcd", repo / "snapshots" / "89efcdab", fs::copy_options::recursive);
    write_file((repo / "refs" / "step1000").string(), "89efcdab\n");
    const std::string env = "HF_HUB_CACHE=" + cache;
    auto manifest_of = [&](const std::string& model_args, const std::string& out) {
        const Result r = cli("run " + model_args + " --output " + dir.file(out) + " --text 'one two'", env);
        EXPECT_EQ(r.code, 0) << r.output;
        return CaptureReader(dir.file(out)).manifest()["model"];
    };
    auto m = manifest_of("--model test-org/tiny-gpt2", "a");
    EXPECT_EQ(m["revision"], "main");
    EXPECT_EQ(m["commit"], "0123abcd");
    m = manifest_of("--model test-org/tiny-gpt2@step1000", "b");
    EXPECT_EQ(m["revision"], "step1000");
    EXPECT_EQ(m["commit"], "89efcdab");
    EXPECT_NE(m["path"].get<std::string>().find("snapshots/89efcdab"), std::string::npos);
    m = manifest_of("--model test-org/tiny-gpt2 --revision step1000", "c");
    EXPECT_EQ(m["commit"], "89efcdab");
    m = manifest_of("--model test-org/tiny-gpt2@89efc", "d"); // a commit prefix, named by its ref
    EXPECT_EQ(m["revision"], "step1000");
    EXPECT_EQ(m["commit"], "89efcdab");
    const Result bad = cli("run --model test-org/tiny-gpt2@step5 --output " + dir.file("e") + " --text x", env);
    EXPECT_NE(bad.code, 0);
    for (const char* part : {"has no revision 'step5'", "present: main (0123abc), step1000 (89efcda)"})
        EXPECT_NE(bad.output.find(part), std::string::npos) << part << " in: " << bad.output;
    EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
    const Result both = cli("run --model test-org/tiny-gpt2@main --revision step1000 --output " + dir.file("f") +
                                " --text x",
                            env);
    EXPECT_NE(both.output.find("but --revision says 'step1000'"), std::string::npos) << both.output;
    const Result models = cli("models", env);
    EXPECT_NE(models.output.find("revisions (2): main=0123abc, step1000=89efcda"), std::string::npos)
        << models.output;
}

TEST(CaptureE2E, SameInputsSameBytes) {
    TempDir dir;
    const std::string a = dir.file("a"), b = dir.file("b");
    for (const auto& out : {a, b})
        ASSERT_EQ(
            cli("run --model " + fixture("gpt2-tiny") + " --output " + out + " --text 'one text' 'and another one'")
                .code,
            0);
    for (const auto& f : final_files(a))
        EXPECT_EQ(read_file(a + "/" + f), read_file(b + "/" + f)) << f;
}

TEST(CaptureApi, MemoryAndDiskAgreeAndFiltersApply) {
    TempDir dir;
    RunnerOptions opt;
    opt.capture = "weights,q,logits";
    opt.layers = "1";
    opt.heads = "0,3";
    Runner runner(fixture("gpt2-tiny"), opt);
    const PreparedData data = runner.prepare_data({kTexts[0], kTexts[1]});
    const ActivationCache mem = runner.run_with_hooks(data);
    runner.run_with_hooks(data, dir.file("out"));
    CaptureReader reader(dir.file("out"));
    EXPECT_EQ(reader.heads(), (std::vector<int>{0, 3}));
    for (int s = 0; s < 2; ++s) {
        const int64_t T = reader.sequence(s).length;
        for (const std::string h : {"blocks.1.attn.hook_pattern", "blocks.1.attn.hook_q", "logits"}) {
            const Captured disk = reader.read(s, h);
            EXPECT_EQ(disk.data, mem.at(h, s).data) << h;
        }
        EXPECT_EQ(reader.read(s, "blocks.1.attn.hook_pattern").shape, (std::vector<int64_t>{2, T, T}));
        EXPECT_EQ(reader.read(s, "blocks.1.attn.hook_q").shape, (std::vector<int64_t>{T, 2, 16}));
        EXPECT_FALSE(reader.has(s, "blocks.0.attn.hook_pattern"));
    }
    // head 3 of the subset is head 3 of the full pattern
    RunnerOptions all;
    all.capture = "weights";
    const ActivationCache full = Runner(fixture("gpt2-tiny"), all).run_with_hooks(data);
    const Captured& f = full.at("blocks.1.attn.hook_pattern", 1);
    const Captured& sub = mem.at("blocks.1.attn.hook_pattern", 1);
    const size_t TT = size_t(f.shape[1] * f.shape[2]);
    EXPECT_TRUE(std::equal(sub.data.begin() + long(TT), sub.data.end(), f.data.begin() + long(3 * TT)));
    EXPECT_TRUE(fs::exists(dir.file("out/attention_data_q.safetensors")));
    EXPECT_TRUE(fs::exists(dir.file("out/attention_data_logits.safetensors")));
}

TEST(CaptureApi, F16StorageAndTruncation) {
    TempDir dir;
    RunnerOptions opt;
    opt.dtype = DType::f16;
    std::vector<std::string> warnings;
    opt.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    Runner runner(fixture("gpt2-tiny"), opt);
    const PreparedData data = runner.prepare_data(kTexts, 10);
    EXPECT_EQ(data.n_truncated, 2);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("2 of 3 texts"), std::string::npos);
    runner.run_with_hooks(data, dir.file("out"));
    CaptureReader reader(dir.file("out"));
    EXPECT_EQ(reader.sequence(2).length, 10);
    EXPECT_TRUE(reader.sequence(2).truncated);
    RunnerOptions f32;
    const ActivationCache exact = Runner(fixture("gpt2-tiny"), f32).run_with_hooks(data);
    const Captured half = reader.read(2, "blocks.0.attn.hook_pattern");
    const Captured& full = exact.at("blocks.0.attn.hook_pattern", 2);
    for (size_t i = 0; i < half.data.size(); ++i)
        EXPECT_NEAR(half.data[i], full.data[i], 5e-4);
    expect_error([&] { runner.prepare_data({"ok", ""}); }, {"text 1 is empty"});
    expect_error([&] { runner.prepare_data({"ok"}, 65); }, {"--max-length", "65", "n_positions = 64"});
}

TEST(CaptureApi, TextsOfMillionsOfTokensAreTruncated) {
    // a 4 MB text (about two million tokens) is tokenized and cut to --max-length, with a warning
    std::vector<std::string> warnings;
    RunnerOptions opt;
    opt.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    Runner runner(fixture("gpt2-tiny"), opt);
    std::string huge;
    for (int i = 0; i < 1000000; ++i)
        huge += i % 2 ? "lo " : "a, ";
    const PreparedData data = runner.prepare_data({huge, "short"}, 32);
    EXPECT_EQ(data.batch.tokens[0].size(), 32u);
    EXPECT_EQ(data.batch.tokens[1].size(), runner.tokenizer().encode("short").size());
    EXPECT_EQ(data.n_truncated, 1);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("1 of 2 texts"), std::string::npos) << warnings[0];
}

TEST(CaptureBad, CommandLineErrors) {
    TempDir dir;
    const std::string m = " --model " + fixture("gpt2-tiny");
    auto expect_fail = [&](const std::string& args, const std::string& part, const std::string& env = "") {
        const Result r = cli(args, env);
        EXPECT_EQ(r.code, 1) << args << "\n" << r.output;
        EXPECT_NE(r.output.find("attnscope: error: "), std::string::npos) << r.output;
        EXPECT_NE(r.output.find(part), std::string::npos) << "expected '" << part << "' in: " << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line: " << r.output;
    };
    expect_fail("run --model no-such-model --output " + dir.file("o") + " --text x", "model 'no-such-model' not found",
                "HF_HUB_CACHE=" + dir.file("hub"));
    expect_fail("run --model no-such-model --output " + dir.file("o") + " --text x", "models--no-such-model",
                "HF_HUB_CACHE=" + dir.file("hub"));
    fs::create_directories(dir.file("t5"));
    write_file(dir.file("t5/config.json"), R"({"model_type": "t5"})");
    expect_fail("run --model " + dir.file("t5") + " --output " + dir.file("o") + " --text x", "supported: gpt2");
    expect_fail("run" + m + " --output " + dir.file("o") + " --text x --layers 2", "--layers: layer 2 is out of range");
    expect_fail("run" + m + " --output " + dir.file("o") + " --text x --heads 0,4", "--heads: head 4 is out of range");
    expect_fail("run" + m + " --output " + dir.file("o") + " --text x --capture nothing", "matches no hook point");
    expect_fail("run" + m + " --output " + dir.file("o") + " --text x --dtype f8", "--dtype");
    expect_fail("run" + m + " --output " + dir.file("o") + " --text x --max-lenght 8", "unknown option --max-lenght");
    expect_fail("models --json", "'models' takes no option");
    write_file(dir.file("bad.jsonl"), "{\"text\": \"fine\"}\n{oops\n");
    expect_fail("run" + m + " --output " + dir.file("o") + " --input " + dir.file("bad.jsonl"), "bad.jsonl:2");
    write_file(dir.file("bin.txt"), "ok\n\xff\xfe\n");
    expect_fail("run" + m + " --output " + dir.file("o") + " --input " + dir.file("bin.txt"), "not valid UTF-8");
    expect_fail("run" + m + " --output " + dir.file("o") + " --input " + dir.file("missing.txt"), "cannot open");
    write_file(dir.file("afile"), "x");
    expect_fail("run" + m + " --output " + dir.file("afile") + " --text x", "not a directory");
    fs::create_directories(dir.file("full"));
    write_file(dir.file("full/mine.txt"), "keep me");
    expect_fail("run" + m + " --output " + dir.file("full") + " --text x", "not empty");
    // --force writes its files and leaves the user's alone
    EXPECT_EQ(cli("run" + m + " --output " + dir.file("full") + " --text x --force").code, 0);
    EXPECT_EQ(read_file(dir.file("full/mine.txt")), "keep me");
    EXPECT_FALSE(fs::exists(dir.file("o")));
}

TEST(CaptureFaults, WriteErrorLeavesNothingThatLooksComplete) {
    TempDir dir;
    // a 40 KB file-size limit makes the first big write fail (EFBIG), as a full disk would
    std::string args = "run --model " + fixture("gpt2-tiny") + " --output " + dir.file("out") + " --text";
    for (int i = 0; i < 4; ++i)
        args += " " + quote(kTexts[2]);
    const ShellResult r =
        run_shell("bash -c " + quote("trap '' XFSZ; ulimit -f 40; exec " + std::string(ATTNSCOPE_CLI) + " " + args));
    const std::string& out = r.output;
    EXPECT_EQ(r.code, 1) << out;
    EXPECT_NE(out.find("write failed"), std::string::npos) << out;
    EXPECT_TRUE(final_files(dir.file("out")).empty()) << "a file with a final name was left behind";
    EXPECT_TRUE(temp_files(dir.file("out")).empty()) << "temporaries were not removed";
}

namespace {
// Start a long capture in the background; returns its pid.
pid_t start_long_run(const std::string& input, const std::string& out, bool resume = false) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setenv("ATTNSCOPE_CHECKPOINT_SECONDS", "0", 1); // record every batch
        const int devnull = ::open("/dev/null", O_WRONLY);
        const int err = ::open((out + ".stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644); // said on failure
        ::dup2(devnull, 1);
        ::dup2(err >= 0 ? err : devnull, 2);
        ::execl(ATTNSCOPE_CLI, ATTNSCOPE_CLI, "run", "--model", fixture("gpt2-tiny").c_str(), "--input", input.c_str(),
                "--output", out.c_str(), "--batch-size", "1", "--threads", "1", "--capture",
                "weights,inputs,outputs,q,k,v,mlp", resume ? "--resume" : static_cast<char*>(nullptr),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Every file of a finished capture directory, name -> bytes.
std::map<std::string, std::string> contents(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& f : final_files(dir))
        out[f] = read_file(dir + "/" + f);
    return out;
}
} // namespace

TEST(CaptureFaults, SigintKeepsAResumableRun) {
    TempDir dir;
    std::string lines;
    for (int i = 0; i < 150; ++i)
        lines += kTexts[i % 3] + "\n";
    write_file(dir.file("in.txt"), lines);
    const pid_t ref = start_long_run(dir.file("in.txt"), dir.file("ref"));
    ASSERT_EQ(wait_exit(ref), 0);
    const pid_t pid = start_long_run(dir.file("in.txt"), dir.file("out"));
    // wait until a batch is recorded (the handler is installed by then)
    const std::string progress = dir.file("out/") + kResumeFile;
    for (int i = 0; i < 600 && !fs::exists(progress); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(fs::exists(progress)) << "the run never recorded a batch";
    ::kill(pid, SIGINT);
    EXPECT_EQ(wait_exit(pid), 130);
    // nothing looks complete: only the progress file carries a name without the temporary marker
    EXPECT_EQ(final_files(dir.file("out")), std::vector<std::string>{kResumeFile});
    EXPECT_FALSE(temp_files(dir.file("out")).empty()) << "the partial files were not kept";
    // another command cannot resume it, nor can a plain run overwrite it
    write_file(dir.file("other.txt"), kTexts[0] + "\n");
    const std::string m = " --model " + fixture("gpt2-tiny") + " --output " + dir.file("out");
    auto r = cli("run" + m + " --input " + dir.file("other.txt") +
                 " --batch-size 1 --capture weights,inputs,outputs,q,k,v,mlp --resume");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("other texts, model or capture options"), std::string::npos) << r.output;
    r = cli("run" + m + " --input " + dir.file("in.txt"));
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("holds an interrupted run"), std::string::npos) << r.output;
    // --resume finishes it, byte for byte as the uninterrupted run, and cleans up
    EXPECT_EQ(wait_exit(start_long_run(dir.file("in.txt"), dir.file("out"), true)), 0);
    EXPECT_TRUE(temp_files(dir.file("out")).empty());
    EXPECT_EQ(contents(dir.file("out")), contents(dir.file("ref")));
    r = cli("run" + m + " --input " + dir.file("in.txt") + " --resume");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("nothing to resume"), std::string::npos) << r.output;
}

TEST(CaptureFaults, KilledAtRandomMomentsResumesToTheSameBytes) {
    TempDir dir;
    std::string lines;
    for (int i = 0; i < 120; ++i)
        lines += kTexts[i % 3] + "\n";
    write_file(dir.file("in.txt"), lines);
    ASSERT_EQ(wait_exit(start_long_run(dir.file("in.txt"), dir.file("ref"))), 0);
    const auto want = contents(dir.file("ref"));
    std::mt19937 rng(7);
    int resumed = 0, finished = 0, restarted = 0;
    for (int trial = 0; trial < 20; ++trial) {
        const std::string out = dir.file("out" + std::to_string(trial));
        const pid_t pid = start_long_run(dir.file("in.txt"), out);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 500)(rng)));
        ::kill(pid, SIGKILL);
        wait_exit(pid);
        // whatever carries a final name is whole: a manifest means a readable capture, every
        // safetensors file opens, and the progress file is valid JSON
        const auto files = final_files(out);
        const bool done = std::find(files.begin(), files.end(), "manifest.json") != files.end();
        for (const auto& f : files) {
            if (f == "manifest.json")
                EXPECT_NO_THROW(CaptureReader r(out)) << "trial " << trial;
            else if (f == kResumeFile)
                EXPECT_NO_THROW(read_json_file(out + "/" + f)) << "trial " << trial;
            else
                EXPECT_NO_THROW(SafetensorsFile st(out + "/" + f)) << "trial " << trial << ": " << f;
        }
        if (done) {
            ++finished;
        } else if (fs::exists(out + "/" + kResumeFile)) {
            ASSERT_EQ(wait_exit(start_long_run(dir.file("in.txt"), out, true)), 0)
                << "trial " << trial << ": " << read_file(out + ".stderr");
            ++resumed;
        } else {
            // killed before the first batch was recorded: nothing to resume, start afresh
            fs::remove_all(out);
            ASSERT_EQ(wait_exit(start_long_run(dir.file("in.txt"), out)), 0) << "trial " << trial;
            ++restarted;
        }
        EXPECT_TRUE(temp_files(out).empty()) << "trial " << trial;
        EXPECT_EQ(contents(out), want) << "trial " << trial << " differs from the uninterrupted run";
    }
    std::printf("[ SIGKILL ] 20 trials: %d resumed, %d had finished, %d restarted; all byte-identical\n", resumed,
                finished, restarted);
    EXPECT_GT(resumed, 5);
}

// Shards merge exactly (issue #23): a corpus captured whole and in random shardings (2 to 7
// shards, random batch sizes), the shards given to the analysis in random order, gives the
// whole run's summary byte for byte except the fields that name the directories.
TEST(CaptureShards, RandomShardingsAnalyseToTheWholeRun) {
    TempDir dir;
    std::mt19937 rng(23);
    const std::vector<std::string> corpus = random_corpus(rng, 13);
    auto capture = [&](const std::string& out, ShardInfo shard, int batch) {
        run_part(corpus, out, shard, batch, /*stats_only=*/false);
    };
    auto summary = [](const std::vector<std::string>& dirs) {
        std::vector<std::unique_ptr<CaptureReader>> owned;
        std::vector<const CaptureReader*> rs;
        for (const auto& d : dirs)
            owned.push_back(std::make_unique<CaptureReader>(d)), rs.push_back(owned.back().get());
        auto j = summary_json(analyze_captures(rs, {}));
        j.erase("sources");
        j.erase("capture_fingerprint");
        return j.dump();
    };
    capture(dir.file("whole"), {}, 8);
    const std::string whole = summary({dir.file("whole")});
    for (int trial = 0; trial < 3; ++trial) {
        const int64_t N = 2 + int64_t(rng() % 6);
        std::vector<std::string> dirs;
        for (int64_t i = 0; i < N; ++i) {
            dirs.push_back(dir.file(cat("t", trial, "-", i)));
            capture(dirs.back(), shard_of(i, N, int64_t(corpus.size())), 1 + int(rng() % 5));
        }
        std::shuffle(dirs.begin(), dirs.end(), rng);
        EXPECT_EQ(summary(dirs), whole) << N << " shards";
    }
    expect_error([] { shard_of(3, 3, 10); }, {"--shard 3/3", "0 <= I < N"});
    expect_error([] { shard_of(0, 11, 10); }, {"11 shards of 10 texts"});
    expect_error([] { parse_shard("1/"); }, {"'1/' is not I/N"});
    EXPECT_EQ(parse_shard("7/16"), (std::pair<int64_t, int64_t>{7, 16}));
}
