// The attnscope command-line program: parses arguments, calls the library, and turns any
// exception into one line on stderr and a non-zero exit code. No analysis happens here.
#include <attnscope/attnscope.h>

#include "core/files.h"
#include "io/texts.h"
#include "render/compare_view.h"
#include "render/figures.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <thread>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace attnscope;

namespace {

const char* kUsage = R"(attnscope — capture and analyze attention in transformer language models

usage: attnscope [--threads N] <command> [options]

commands:
  run --model M (--text T ... | --input FILE) --output DIR [options]
                       run texts through the model and capture what happens in every attention
                       block into DIR (manifest.json + safetensors files)
      --max-length N   truncate texts to N tokens (default: the model's context)
      --batch-size N   texts per forward pass (default 8)
      --capture LIST   hook names, globs or aliases: weights, inputs, outputs (default: all
                       three), scores, q, k, v, z, resid, mlp, logits; none (run the texts,
                       store only the manifest: for timing)
      --layers LIST    e.g. 0-3,11 (default: all)     --heads LIST   e.g. 0,5 (default: all)
      --dtype f32|f16  stored type (default f32)      --force        write into a non-empty DIR
      --resume         continue an interrupted run (same command) after its last recorded
                       batch; the result is byte-identical to an uninterrupted run
      --shard I/N      only the I-th (from 0) of N contiguous, nearly equal slices of the texts
                       (one Slurm array task each); the manifest records the slice and the
                       texts keep their corpus-wide index. `analyze` on all N shards gives the
                       whole run's summary (the same bytes but for the directory names)
      --no-sync        do not wait for the data to reach the disk (fsync) before naming the
                       files: faster when the disk is slower than the model; an interrupted run
                       still leaves no file that looks whole, a power failure just after may
      --weights f32    widen 16-bit (BF16/F16) weights to f32 at load: twice the memory, faster
                       products (default: kept as stored, widened tile by tile in use; same values)
      --stats-only     store no tensors: compute the per-head statistics from each attention
                       row while the forward pass runs (memory O(layers x heads x T), so long
                       texts fit) and write the report, the summary and statistics.safetensors
                       (the sums, a few hundred KB: shards merge with analyze) into DIR;
                       --resume continues from the last checkpoint of the sums
      --covariance     with --stats-only: also keep the hidden states' covariances, for the
                       effective dimensionality (3 x layers x width^2 numbers: GPT-2 small's
                       statistics.safetensors grows to 85 MB)
  analyze DIR [DIR ...] [--output OUT]
                       analyse capture directories and/or stats-only directories (several =
                       shards of one corpus, in any order, merged exactly): writes
                       attention_analysis_report.txt and attention_data_summary.json into OUT
                       (default: the first DIR)
      --print          also print the report on stdout
      --importance F   head_importance.json of attnscope ablate (default: one in DIR or OUT):
                       each head the recommendations suggest pruning or call redundant gets its
                       measured loss increase, and the suggestion is withdrawn when that is
                       above --prune-max-delta (default 0.05 nats/token); without the file the
                       suggestions say they are unmeasured
  plot DIR (flow | dashboard | grid | weights --layer L --head H) [--seq S] [--format png|svg]
       [--output OUT]  one figure into OUT (default DIR): attention_flow_visualization,
                       comprehensive_attention_analysis, attention_heads_grid (every head of
                       sequence S as a thumbnail) or attention_weights_L{L}_H{H} (heatmap of one
                       head on sequence S, default 0)
  view DIR [--output OUT] [--sequences N] [--max-mb M]
                       attention_view.html: one self-contained interactive page (grid of all
                       heads, heatmap with read-out, head view, tokens, metrics) for the first
                       N (8) sequences; opens in any browser, makes no network request; at most
                       M (64) MiB: patterns are averaged in token blocks when needed (said in
                       the page)
  serve DIR [--port P] [--host H --allow-remote] [--open]
                       the viewer as a local web server for captures of any size: every
                       sequence, each head at full resolution, read when shown; prints a URL
                       with a secret token (required by every request); listens on 127.0.0.1
                       (port P, default 8765; 0 = any free port) until Ctrl-C
  report DIR [DIR ...] [--output OUT] [--format png|svg] [--importance F] [--prune-max-delta X]
                       analyze + every figure + the viewer into OUT (default: the first DIR)
  heads (DIR ... | --model M) [--sequences N] [--block N] [--seed S] [--json]
                       the head taxonomy table: labels (previous_token, induction, duplicate_token,
                       self, sink, local, broad, mixed) with their scores; with --model, probes the
                       model itself on N (32) random blocks of B (50) tokens repeated twice
  generate --model M [--ids LIST | --prompt T] [--max-new-tokens N] [--temperature X --top-k K
           --seed S] [--json] [--weights f32] [--output DIR [--capture ...] [--layers L] [--heads H]]
                       decode with a KV cache (greedy unless --temperature > 0), from the given
                       ids (comma-separated), the prompt's tokens, or the model's BOS; stops at
                       its EOS; prints the ids (and the text when the tokenizer is readable);
                       --json: {"prompt_ids", "ids", "text"}; --output DIR: a capture of the
                       prompt and its continuation (one forward; the manifest records
                       prompt_length, the viewer marks where the prompt ends)
  convert --from llama2c MODEL.bin [--tokenizer tok.model|tok.bin] --output DIR
                       a llama2.c checkpoint as a Hugging Face directory (config.json,
                       model.safetensors; the tokenizer file copied beside them, and written
                       as the tokenizer.json Hugging Face's Llama converter makes of it)
  ablate --model M (--text T ... | --input FILE) [--heads all | L1H0,2.3 | L0H1+L2H3]
         [--method zero | mean | resample] [--metric loss] [--max-length N] [--output OUT]
                       each head's (or group's) output hook_z replaced, and the next-token loss
                       on the texts against the clean loss (token-weighted mean, nats/token):
                       OUT (./ablation) gets head_importance.json, ablation_report.txt and a
                       layer x head figure
  patch --model M --clean TEXT --corrupt TEXT (--answer TOK --wrong TOK | --metric loss)
        [--what z | attn_out | resid_pre | pattern] [--output OUT]
                       activation patching: the corrupted text run with one activation (per head,
                       or per layer and position) from the clean run, scored by the normalised
                       logit difference at the last position (or, --metric loss, the share of
                       the clean text's next-token loss it recovers); OUT (./patching) gets
                       patching.json and a figure
  compare DIR_A DIR_B [DIR_C ...] [--labels a,b,c] [--same-layer] [--unmatched-js X] [--output OUT]
                       heads of captures of the same texts (other models, checkpoints) matched
                       one to one by Jensen-Shannon divergence (Hungarian algorithm): OUT
                       (./comparison) gets comparison.json, comparison_report.txt, a figure per
                       pair and, with 3 captures or more, each head's trajectory
  models               list the models found without a path (built-in, Hugging Face cache)
  info --model M       print a model's summary (architecture, sizes, parameters, weights)
  hooks --model M      list every hook point of the model, with its shape
  tokenize (--tokenizer PATH | --model M) (--text T ... | --input FILE) [--no-special]
           [--split-special]
                       one JSON object per text: {"ids": [...], "tokens": [...]}, the ids of
                       Hugging Face's tokenizer(text); PATH: a tokenizer.json, a folder with one
                       (or vocab.json + merges.txt), a .gguf or a llama2.c tokenizer .bin; FILE is
                       JSON Lines ({"text": ...} per line) if it ends in .jsonl, else one text per
                       line; special tokens written in the text (<|endoftext|>, <s>) are
                       recognised and what the post-processor adds (Llama's BOS) is added, as in
                       Hugging Face; --no-special adds nothing, --split-special reads special
                       tokens in the text as plain text
  demo [--output DIR]  the whole pipeline on the built-in model and built-in texts (one repeats
                       itself, where induction heads show): capture, mean ablation of every head
                       (head_importance.json: the recommendations' measured costs), analysis,
                       every figure, the viewer and the head probe, into DIR (default
                       ./attnscope-demo)
  help                 this text

options:
  --threads N          threads for matrix products and attention (default: all cores)
  --version            print the version and exit
  -h, --help           this text

A model M is a directory (config.json, model.safetensors, tokenizer files), "tiny" (the built-in
model), or a name found in the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or
~/.cache/huggingface/hub), e.g. gpt2 or distilgpt2.
)";

struct Args {
    std::vector<std::string> rest;
    bool has(const std::string& flag) const {
        for (const auto& a : rest)
            if (a == flag) return true;
        return false;
    }
    // Every value given after `flag` up to the next option (--text a b --text c -> a, b, c).
    std::vector<std::string> all(const std::string& flag) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < rest.size(); ++i)
            if (rest[i] == flag)
                for (size_t k = i + 1; k < rest.size() && rest[k].rfind("--", 0) != 0; ++k)
                    out.push_back(rest[k]);
        return out;
    }
    std::string get(const std::string& flag) const {
        for (size_t i = 0; i + 1 < rest.size(); ++i)
            if (rest[i] == flag) return rest[i + 1];
        return {};
    }
    // Arguments that are neither options nor the values of `value_flags`.
    std::vector<std::string> positional(const std::vector<std::string>& value_flags) const {
        std::vector<std::string> out;
        for (size_t i = 0; i < rest.size(); ++i) {
            if (rest[i].rfind("--", 0) == 0) {
                for (const auto& f : value_flags)
                    if (rest[i] == f) ++i;
                continue;
            }
            out.push_back(rest[i]);
        }
        return out;
    }
    std::string require(const std::string& flag, const std::string& command) const {
        std::string v = get(flag);
        if (v.empty())
            throw Error(cat(command, ": missing ", flag), cat("usage: attnscope ", command, " ", flag, " DIR"));
        return v;
    }
};

std::string hook_shape(const ModelConfig& c, Hook h) {
    const std::string T = "T", D = std::to_string(c.n_embd), H = std::to_string(c.n_head), d = std::to_string(c.d_head);
    switch (h) {
    case Hook::q:
    case Hook::rot_q:
    case Hook::z: return "[T, " + H + ", " + d + "]";
    case Hook::k:
    case Hook::rot_k:
    case Hook::v: return "[T, " + std::to_string(c.n_kv_head) + ", " + d + "]";
    case Hook::attn_scores:
    case Hook::pattern: return "[" + H + ", T, T]";
    case Hook::mlp_pre:
    case Hook::mlp_pre_linear:
    case Hook::mlp_post: return "[T, " + std::to_string(c.n_inner) + "]";
    case Hook::logits: return "[T, " + std::to_string(c.vocab_size) + "]";
    default: return "[T, " + D + "]";
    }
}

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
    g_interrupted = true;
}

std::string format_duration(double s) {
    const int t = int(s + 0.5);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
    return buf;
}

// A progress bar on a terminal; a plain line per batch (at most one every few seconds) otherwise.
void show_progress(const Progress& p) {
    static const bool tty = ::isatty(2);
    static double last_line = -10;
    const double rate = p.seconds > 0 ? double(p.tokens_done) / p.seconds : 0;
    const double left = rate > 0 ? double(p.tokens_total - p.tokens_done) / rate : 0;
    const bool done = p.texts_done == p.texts_total;
    if (tty) {
        const int width = 30, fill = int(width * p.tokens_done / std::max<int64_t>(p.tokens_total, 1));
        std::fprintf(stderr, "\r[%s%s] %lld/%lld texts  %.0f tokens/s  %s %s", std::string(size_t(fill), '#').c_str(),
                     std::string(size_t(width - fill), '.').c_str(), (long long)p.texts_done, (long long)p.texts_total,
                     rate, done ? "took" : "ETA", format_duration(done ? p.seconds : left).c_str());
        if (done) std::fputc('\n', stderr);
    } else if (done || p.seconds - last_line >= 5) {
        last_line = p.seconds;
        std::fprintf(stderr, "attnscope: %lld/%lld texts, %lld tokens, %.0f tokens/s, %s %s\n", (long long)p.texts_done,
                     (long long)p.texts_total, (long long)p.tokens_done, rate, done ? "took" : "ETA",
                     format_duration(done ? p.seconds : left).c_str());
    }
    std::fflush(stderr);
}

// --weights f32 (widen 16-bit weights at load) or as-stored (the default).
bool weights_f32(const Args& args) {
    const std::string w = args.get("--weights");
    if (w.empty() || w == "as-stored") return false;
    if (w == "f32") return true;
    throw Error(cat("--weights: expected f32 or as-stored, found '", w, "'"),
                "16-bit weights stay 16-bit in memory by default; --weights f32 widens them at load");
}

// An analyzer for the commands that draw or print from an analysis: it reuses the summary that
// `analyze` stored (in the first directory or in `out`) and says in one line when it cannot.
std::unique_ptr<AttentionDataAnalyzer> analyzer_for(const std::vector<std::string>& dirs, const std::string& out = "") {
    auto an = std::make_unique<AttentionDataAnalyzer>(dirs);
    if (!out.empty()) an->look_for_summary_in(out);
    an->set_notice([](const std::string& s) { std::fprintf(stderr, "attnscope: note: %s\n", s.c_str()); });
    return an;
}

// --importance FILE and --prune-max-delta X of analyze and report.
void set_importance_of(AttentionDataAnalyzer& an, const Args& args) {
    const std::string d = args.get("--prune-max-delta");
    char* end = nullptr;
    const double max_delta = d.empty() ? 0.05 : std::strtod(d.c_str(), &end);
    if (!d.empty() && (*end || !(max_delta >= 0) || !std::isfinite(max_delta)))
        throw Error(cat("--prune-max-delta: expected a loss increase in nats/token >= 0, found '", d, "'"));
    const std::string f = args.get("--importance");
    if (!f.empty() && !std::filesystem::is_regular_file(f))
        throw Error(cat("--importance: ", f, ": no such file"), "give the head_importance.json attnscope ablate wrote");
    an.set_importance(f, max_delta);
}

std::string list_of(const std::vector<std::string>& items) {
    std::string s;
    for (const auto& x : items)
        s += (s.empty() ? "" : ", ") + x;
    return s;
}

// The texts of --text (repeatable) or --input FILE, for `command`.
std::vector<std::string> texts_of(const Args& args, const char* command) {
    std::vector<std::string> texts = args.all("--text");
    const std::string input = args.get("--input");
    if (!input.empty()) {
        if (!texts.empty()) throw Error(cat(command, ": give --text or --input, not both"));
        texts = read_texts(input);
        if (texts.empty()) throw Error(cat(input, ": holds no texts"));
    } else if (texts.empty()) {
        throw Error(cat(command, ": no texts"), "give --text \"some text\" or --input FILE");
    }
    return texts;
}

// What to capture and how (run, generate --output): --capture, --layers, --heads, --dtype,
// --force, --no-sync, --weights; progress and warnings on stderr, Ctrl-C between batches.
RunnerOptions capture_options(const Args& args) {
    RunnerOptions opt;
    opt.capture = args.get("--capture");
    opt.layers = args.get("--layers");
    opt.heads = args.get("--heads");
    opt.force = args.has("--force");
    opt.durable = !args.has("--no-sync");
    opt.covariance = args.has("--covariance");
    opt.weights_f32 = weights_f32(args);
    const std::string dtype = args.get("--dtype");
    if (dtype == "f16")
        opt.dtype = DType::f16;
    else if (!dtype.empty() && dtype != "f32")
        throw Error(cat("--dtype: expected f32 or f16, found '", dtype, "'"));
    opt.on_progress = show_progress;
    opt.on_warning = [](const std::string& w) { std::fprintf(stderr, "attnscope: warning: %s\n", w.c_str()); };
    opt.cancel = &g_interrupted;
    return opt;
}

// Every option each command takes: anything else is refused, so a typo (--max-lenght) never
// runs with a silently ignored setting.
void check_options(const std::string& command, const Args& args) {
    static const std::map<std::string, std::vector<std::string>> known = {
        {"run",
         {"--model", "--text", "--input", "--output", "--max-length", "--batch-size", "--capture", "--layers",
          "--heads", "--dtype", "--force", "--resume", "--no-sync", "--stats-only", "--covariance", "--weights",
          "--shard"}},
        {"analyze", {"--output", "--print", "--importance", "--prune-max-delta"}},
        {"plot", {"--seq", "--format", "--output", "--layer", "--head"}},
        {"report", {"--output", "--format", "--importance", "--prune-max-delta"}},
        {"view", {"--output", "--sequences", "--max-mb"}},
        {"serve", {"--port", "--host", "--allow-remote", "--open"}},
        {"generate",
         {"--model", "--ids", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--seed", "--json", "--weights",
          "--output", "--capture", "--layers", "--heads", "--dtype", "--force", "--no-sync"}},
        {"convert", {"--from", "--tokenizer", "--output"}},
        {"compare", {"--labels", "--same-layer", "--output", "--unmatched-js"}},
        {"patch", {"--model", "--clean", "--corrupt", "--answer", "--wrong", "--metric", "--what", "--output", "--weights"}},
        {"ablate", {"--model", "--text", "--input", "--heads", "--method", "--metric", "--max-length", "--output", "--weights"}},
        {"heads", {"--model", "--sequences", "--block", "--seed", "--json"}},
        {"models", {}},
        {"info", {"--model"}},
        {"hooks", {"--model"}},
        {"tokenize", {"--model", "--tokenizer", "--text", "--input", "--no-special", "--split-special"}},
        {"demo", {"--output"}},
    };
    const auto it = known.find(command);
    if (it == known.end()) return; // the dispatch names the unknown command
    for (const auto& a : args.rest)
        if (a.rfind("--", 0) == 0 && std::find(it->second.begin(), it->second.end(), a) == it->second.end())
            throw Error(cat(command, ": unknown option ", a), it->second.empty()
                                                                  ? cat("'", command, "' takes no option")
                                                                  : cat("'", command, "' takes ", list_of(it->second)));
}

int run(int argc, char** argv) {
    Args args;
    int threads = 0;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--version") {
            std::printf("attnscope %s\n", version());
            return 0;
        }
        if (a == "-h" || a == "--help" || a == "help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (a == "--threads") {
            if (i + 1 >= argc) throw Error("--threads: missing value", "e.g. --threads 4");
            const std::string v = argv[++i];
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end || n < 0 || n > 4096)
                throw Error(cat("--threads: expected a number of threads from 0 (all cores) to 4096, found '", v, "'"));
            threads = int(n);
            continue;
        }
        if (command.empty() && a.rfind("-", 0) != 0)
            command = a;
        else
            args.rest.push_back(a);
    }
    set_num_threads(threads);
    if (command.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    check_options(command, args);
    if (command == "models") {
        const auto found = list_models();
        if (found.empty())
            std::printf("no models found (built-in model missing; Hugging Face cache %s is empty)\n",
                        hf_hub_cache().c_str());
        for (const auto& m : found)
            std::printf("%-28s %-9s %s\n", m.name.c_str(), m.source.c_str(), m.path.c_str());
        return 0;
    }
    if (command == "run") {
        RunnerOptions opt = capture_options(args);
        opt.resume = args.has("--resume");
        auto number = [&](const char* flag, long fallback) {
            const std::string v = args.get(flag);
            if (v.empty()) return fallback;
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (*end || n < 1 || n > 100000000) throw Error(cat(flag, ": expected a positive number, found '", v, "'"));
            return n;
        };
        opt.batch_size = int(number("--batch-size", 8));
        const std::string output = args.require("--output", "run");
        std::vector<std::string> texts = texts_of(args, "run");
        ShardInfo shard;
        if (args.has("--shard")) { // this task's slice of the corpus; the manifest records it
            const auto [index, count] = parse_shard(args.get("--shard"));
            shard = shard_of(index, count, int64_t(texts.size()));
            const int64_t last = (index + 1) * shard.total / count;
            texts = std::vector<std::string>(texts.begin() + shard.first, texts.begin() + last);
        }
        Runner runner(args.require("--model", "run"), opt);
        PreparedData data = runner.prepare_data(std::move(texts), number("--max-length", 0));
        data.shard = shard;
        std::signal(SIGINT, on_sigint);
        std::signal(SIGTERM, on_sigint);
        if (args.has("--stats-only")) {
            const AnalysisResult r = runner.run_stats_only(data, output);
            std::fprintf(stderr, "attnscope: wrote %s/%s (%.2f MB), %s and %s: %lld texts, %lld tokens\n",
                         output.c_str(), kStatisticsFile,
                         double(std::filesystem::file_size(std::filesystem::path(output) / kStatisticsFile)) / 1e6, kReportFile, kSummaryFile,
                         (long long)r.n_sequences, (long long)r.n_tokens);
            return 0;
        }
        if (args.has("--covariance"))
            throw Error("run: --covariance goes with --stats-only",
                        "a capture keeps the hidden states themselves; analyze computes their covariances");
        const CaptureSummary s = runner.run_with_hooks(data, output);
        std::fprintf(stderr, "attnscope: wrote %s: %lld texts, %lld tokens, %lld tensors, %.1f MB in %.1f s\n",
                     s.dir.c_str(), (long long)s.n_sequences, (long long)s.n_tokens, (long long)s.n_tensors,
                     double(s.bytes) / 1e6, s.seconds);
        return 0;
    }
    if (command == "analyze") {
        const auto dirs = args.positional({"--output", "--importance", "--prune-max-delta"});
        if (dirs.empty()) throw Error("analyze: no capture directory given", "usage: attnscope analyze DIR [DIR ...]");
        AttentionDataAnalyzer an(dirs);
        an.set_reuse_stored(false); // asked for: always from the tensors
        if (!args.get("--output").empty()) an.look_for_summary_in(args.get("--output"));
        set_importance_of(an, args);
        const AnalysisResult& r = an.analyze([](int64_t done, int64_t total) {
            if (::isatty(2)) {
                std::fprintf(stderr, "\rattnscope: analysing %lld/%lld", (long long)done, (long long)total);
                if (done == total) std::fputc('\n', stderr);
            }
        });
        const std::string out = args.get("--output");
        for (const auto& path : write_report(r, out.empty() ? dirs[0] : out))
            std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
        if (args.has("--print")) std::fputs(report_text(r).c_str(), stdout);
        return 0;
    }
    if (command == "demo") {
        const std::string out = args.get("--output").empty() ? "attnscope-demo" : args.get("--output");
        // a rerun may overwrite attnscope's own files, never a directory that holds anything else
        if (std::filesystem::is_directory(out) && !std::filesystem::is_empty(out) &&
            !std::filesystem::exists(std::filesystem::path(out) / "manifest.json"))
            throw Error(cat(out, ": exists, is not empty and is not an attnscope capture"),
                        "choose another directory with --output");
        const std::vector<std::string> texts = {
            "The State of the Union is strong, and the people of this nation have built it with their own hands.",
            "We must keep faith with the men and women who serve, and we must keep our word to the nations who "
            "stand with us.",
            "Congress has a duty to the people: to spend their money with care, and to account for every dollar.",
            // repeats itself: the second and third copies are where induction heads show
            "liberty treaty harbor railroad tariff revenue frontier liberty treaty harbor railroad tariff revenue "
            "frontier liberty treaty harbor railroad tariff revenue frontier",
            "Peace, prosperity and liberty: these are the ends of government, and the measure of our work."};
        // the built-in model itself, even if the current directory holds a folder named "tiny"
        std::string builtin;
        for (const auto& m : list_models())
            if (m.source == "built-in" && builtin.empty()) builtin = m.path;
        if (builtin.empty())
            throw Error("demo: the built-in model is missing",
                        "build from the source tree (models/tiny) or install attnscope with cmake --install");
        RunnerOptions opt;
        opt.force = true;
        opt.on_progress = show_progress;
        Runner runner(builtin, opt);
        std::fprintf(stderr, "attnscope demo: the built-in model (%s), %zu texts -> %s/\n",
                     runner.resolved().path.c_str(), texts.size(), out.c_str());
        const PreparedData data = runner.prepare_data(texts);
        const CaptureSummary cs = runner.run_with_hooks(data, out);
        AttentionDataAnalyzer an(out);
        // the recommendations' evidence: mean ablation of every head (zeroing layer-0 heads is far
        // off the model's distribution), then of the heads still suggested for pruning, together
        AblateOptions ao;
        ao.targets = parse_ablation_targets("all", runner.model().config());
        ao.method = AblationMethod::mean;
        HeadImportance imp = runner.ablate(data, ao);
        AnalysisResult trial = an.analyze();
        attach_importance(trial, imp, "head_importance.json");
        if (trial.importance.group.find('+') != std::string::npos) {
            ao.targets = parse_ablation_targets(trial.importance.group, runner.model().config());
            const HeadImportance group = runner.ablate(data, ao);
            imp.results.push_back(group.results.at(0));
        }
        const std::string imp_path = (std::filesystem::path(out) / "head_importance.json").string();
        write_file_atomic(imp_path, head_importance_json(imp).dump(1) + "\n");
        write_file_atomic((std::filesystem::path(out) / "ablation_report.txt").string(), head_importance_report(imp));
        render_head_importance(imp, (std::filesystem::path(out) / "head_importance.png").string());
        an.set_importance(imp_path);
        const auto paths = an.create_comprehensive_report(out);
        const AnalysisResult probe = runner.probe_heads();
        std::string table = "Heads of the built-in model, probed with repeated random tokens:\n" + heads_table(probe);
        write_file_atomic((std::filesystem::path(out) / "heads_probe.txt").string(), table);
        std::printf("%s\n", table.c_str());
        const AnalysisResult& r = an.analyze();
        std::printf("Findings on the demo texts:\n");
        for (size_t k = 0; k < r.recommendations.size() && k < 4; ++k)
            std::printf("  - %s\n", r.recommendations[k].c_str());
        std::printf("\nWrote %s/: the capture (%lld tensors, %.1f MB), %zu report files, heads_probe.txt, "
                    "head_importance.json.\n"
                    "Open %s/attention_view.html in a browser; the report is %s/%s.\n",
                    out.c_str(), (long long)cs.n_tensors, double(cs.bytes) / 1e6, paths.size(), out.c_str(),
                    out.c_str(), kReportFile);
        return 0;
    }
    if (command == "view") {
        const auto pos = args.positional({"--output", "--sequences", "--max-mb"});
        if (pos.size() != 1) throw Error("view: expected one capture directory", "usage: attnscope view DIR");
        const std::string n = args.get("--sequences"), mb = args.get("--max-mb");
        char* end = nullptr;
        const long ns = n.empty() ? 8 : std::strtol(n.c_str(), &end, 10);
        if (!n.empty() && (*end || ns < 1 || ns > 10000))
            throw Error(cat("--sequences: expected a number from 1 to 10000, found '", n, "'"));
        const double max_mb = mb.empty() ? 64 : std::strtod(mb.c_str(), &end);
        if (!mb.empty() && (*end || !(max_mb >= 1 && max_mb <= 65536)))
            throw Error(cat("--max-mb: expected a size in MiB from 1 to 65536, found '", mb, "'"));
        auto an = analyzer_for({pos[0]}, args.get("--output"));
        const std::string path = an->create_viewer(args.get("--output"), int(ns), max_mb);
        std::fprintf(stderr, "attnscope: wrote %s (%.1f MB)\n", path.c_str(),
                     double(std::filesystem::file_size(path)) / 1e6);
        return 0;
    }
    if (command == "patch") {
        const std::string metric = args.get("--metric");
        if (!metric.empty() && metric != "loss" && metric != "logit_diff")
            throw Error(cat("--metric: '", metric, "' is not a patching metric"), "use --metric loss, or --answer and --wrong");
        const bool by_loss = metric == "loss";
        if (by_loss && (args.has("--answer") || args.has("--wrong")))
            throw Error("patch: --metric loss takes no --answer or --wrong", "give one or the other");
        RunnerOptions ro;
        ro.weights_f32 = weights_f32(args);
        Runner runner(args.require("--model", "patch"), ro);
        const std::string clean = args.require("--clean", "patch"), corrupt = args.require("--corrupt", "patch");
        const auto t0 = std::chrono::steady_clock::now();
        const PatchResult r = runner.patch(clean, corrupt, by_loss ? "" : args.require("--answer", "patch"),
                                           by_loss ? "" : args.require("--wrong", "patch"),
                                           parse_patch_what(args.get("--what")), [&](int64_t done, int64_t total) {
                                               if (g_interrupted)
                                                   throw Error("patch: interrupted; nothing was written");
                                               if (!::isatty(2)) return;
                                               std::fprintf(stderr, "\rpatch: %lld/%lld runs%s", (long long)done,
                                                            (long long)total, done == total ? "\n" : "");
                                           });
        std::string out = args.get("--output");
        if (out.empty()) out = "patching";
        std::filesystem::create_directories(out);
        const auto tokens = runner.tokenizer().display(runner.tokenizer().encode(corrupt));
        write_file_atomic(out + "/patching.json", patch_json(r, tokens).dump(1) + "\n");
        render_patching(r, tokens, out + "/patching.png");
        std::printf("m_clean %.4f, m_corrupt %.4f; best restoring %s:\n", r.m_clean, r.m_corrupt,
                    r.what == PatchWhat::z || r.what == PatchWhat::pattern ? "heads" : "(layer, position)");
        std::vector<size_t> order(r.scores.size());
        for (size_t i = 0; i < order.size(); ++i)
            order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.scores[a] > r.scores[b]; });
        for (size_t i = 0; i < std::min<size_t>(8, order.size()); ++i)
            std::printf("  L%zu %s%zu  %.3f\n", order[i] / size_t(r.n_cols),
                        r.what == PatchWhat::z || r.what == PatchWhat::pattern ? "H" : "pos ", order[i] % size_t(r.n_cols),
                        r.scores[order[i]]);
        std::fprintf(stderr, "attnscope: wrote %s: patching.json, patching.png (%.1f s)\n", out.c_str(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return 0;
    }
    if (command == "ablate") {
        const std::string metric = args.get("--metric");
        if (!metric.empty() && metric != "loss")
            throw Error(cat("--metric: '", metric, "' is not a metric ablate measures"), "ablate measures --metric loss");
        RunnerOptions ro;
        ro.weights_f32 = weights_f32(args);
        ro.on_warning = [](const std::string& w) { std::fprintf(stderr, "attnscope: warning: %s\n", w.c_str()); };
        Runner runner(args.require("--model", "ablate"), ro);
        const std::string ml = args.get("--max-length");
        char* end = nullptr;
        const long max_length = ml.empty() ? 0 : std::strtol(ml.c_str(), &end, 10);
        if (!ml.empty() && (*end || max_length < 2)) throw Error(cat("--max-length: expected a number >= 2, found '", ml, "'"));
        const PreparedData data = runner.prepare_data(texts_of(args, "ablate"), max_length);
        AblateOptions ao;
        ao.targets = parse_ablation_targets(args.get("--heads"), runner.model().config());
        ao.method = parse_ablation_method(args.get("--method"));
        const auto t0 = std::chrono::steady_clock::now();
        ao.on_progress = [&](int64_t done, int64_t total) { // a line on a terminal: forward passes take a while
            if (g_interrupted) // stop between targets: nothing is written, so no file looks whole
                throw Error(cat("ablate: interrupted after ", done, " of ", total, " targets; nothing was written"),
                            "run it again to measure");
            if (!::isatty(2)) return;
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fprintf(stderr, "\rablate: %lld/%lld targets, %s%s", (long long)done, (long long)total,
                         format_duration(s).c_str(), done == total ? "\n" : "");
            std::fflush(stderr);
        };
        std::string out = args.get("--output");
        if (out.empty()) out = "ablation";
        std::signal(SIGINT, on_sigint);
        const HeadImportance r = runner.ablate(data, ao);
        std::filesystem::create_directories(out);
        write_file_atomic(out + "/head_importance.json", head_importance_json(r).dump(1) + "\n");
        const std::string report = head_importance_report(r);
        write_file_atomic(out + "/ablation_report.txt", report);
        render_head_importance(r, out + "/head_importance.png");
        std::fputs(report.c_str(), stdout);
        std::fprintf(stderr, "attnscope: wrote %s: head_importance.json, ablation_report.txt, head_importance.png (%.1f s)\n",
                     out.c_str(), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return 0;
    }
    if (command == "compare") {
        const auto dirs = args.positional({"--labels", "--output", "--unmatched-js"});
        CompareOptions co;
        if (args.has("--labels")) co.labels = split_list(args.get("--labels"));
        co.same_layer = args.has("--same-layer");
        const std::string u = args.get("--unmatched-js");
        if (!u.empty()) {
            char* end = nullptr;
            co.unmatched_js = std::strtod(u.c_str(), &end);
            if (*end || !(co.unmatched_js >= 0 && co.unmatched_js <= 1))
                throw Error(cat("--unmatched-js: expected a number of nats from 0 to 1, found '", u, "'"));
        }
        for (const std::string& d : dirs)
            if (!std::filesystem::is_directory(d))
                throw Error(cat("compare: ", d, " is not a directory"), "give capture directories made by attnscope run");
        std::string out = args.get("--output");
        if (out.empty()) out = "comparison";
        const auto t0 = std::chrono::steady_clock::now();
        const Comparison c = compare_captures(dirs, co);
        std::filesystem::create_directories(out);
        write_file_atomic(out + "/comparison.json", comparison_json(c).dump(1) + "\n");
        const std::string report = comparison_report(c);
        write_file_atomic(out + "/comparison_report.txt", report);
        std::vector<std::string> written = {"comparison.json", "comparison_report.txt"};
        for (size_t k = 0; k < c.pairs.size(); ++k) {
            const std::string name = cat("comparison_", k, "_", k + 1, ".png");
            render_comparison(c, k, out + "/" + name);
            written.push_back(name);
        }
        write_comparison_view(c, 0, out + "/comparison_view.html");
        written.push_back("comparison_view.html");
        if (!c.trajectories.empty()) {
            render_trajectories(c, out + "/comparison_trajectories.png");
            written.push_back("comparison_trajectories.png");
        }
        std::fputs(report.c_str(), stdout);
        std::string list;
        for (const auto& w : written)
            list += (list.empty() ? "" : ", ") + w;
        std::fprintf(stderr, "attnscope: wrote %s: %s (%.1f s)\n", out.c_str(), list.c_str(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        return 0;
    }
    if (command == "convert") {
        const auto pos = args.positional({"--from", "--tokenizer", "--output"});
        if (args.get("--from") != "llama2c")
            throw Error(cat("convert: --from '", args.get("--from"), "' is not a format this attnscope converts"),
                        "supported: --from llama2c");
        if (pos.size() != 1) throw Error("convert: expected one model file", "usage: attnscope convert --from llama2c MODEL.bin --output DIR");
        const Llama2cInfo in = convert_llama2c(pos[0], args.get("--tokenizer"), args.require("--output", "convert"));
        std::fprintf(stderr,
                     "attnscope: wrote %s: llama, %d layers, %d heads (%d key/value), width %d, vocabulary %d, "
                     "context %d, %lld parameters\n",
                     args.get("--output").c_str(), in.n_layers, in.n_heads, in.n_kv_heads, in.dim, in.vocab_size,
                     in.seq_len, (long long)in.n_params);
        return 0;
    }
    if (command == "generate") {
        // with --output, a Runner (model and tokenizer) captures the prompt and its continuation
        const std::string output = args.get("--output");
        std::optional<Runner> runner;
        std::shared_ptr<const Model> model;
        std::optional<Tokenizer> own_tok;
        const Tokenizer* tok = nullptr;
        std::string tok_error;
        if (!output.empty()) {
            runner.emplace(args.require("--model", "generate"), capture_options(args));
            tok = &runner->tokenizer();
        } else {
            const ResolvedModel rm = resolve_model(args.require("--model", "generate"));
            LoadOptions lo;
            lo.weights_f32 = weights_f32(args);
            model = Model::load(rm.path, lo);
            try {
                own_tok.emplace(Tokenizer::load(rm.path));
                tok = &*own_tok;
            } catch (const Error& e) {
                tok_error = e.what();
            }
        }
        const Model& m = runner ? runner->model() : *model;
        const ModelConfig& c = m.config();
        std::vector<int32_t> prompt;
        const std::string ids = args.get("--ids"), text = args.get("--prompt");
        if (!ids.empty() && !text.empty()) throw Error("generate: give --ids or --prompt, not both");
        if (!ids.empty()) {
            for (const std::string& x : split_list(ids)) {
                char* end = nullptr;
                const long v = std::strtol(x.c_str(), &end, 10);
                if (x.empty() || *end || v < 0 || v >= c.vocab_size)
                    throw Error(cat("--ids: '", x, "' is not a token id of this model (0..", c.vocab_size - 1, ")"));
                prompt.push_back(int32_t(v));
            }
        } else if (!text.empty()) {
            if (!tok) throw Error(cat("generate: --prompt needs the model's tokenizer: ", tok_error), "give --ids instead");
            prompt = tok->encode(text);
        } else {
            if (c.bos_token_id < 0) throw Error("generate: the model names no BOS token", "give --ids or --prompt");
            prompt = {c.bos_token_id};
        }
        GenerateOptions go;
        auto number = [&](const char* flag, double fallback, double lo, double hi) {
            const std::string v = args.get(flag);
            if (v.empty()) return fallback;
            char* end = nullptr;
            const double n = std::strtod(v.c_str(), &end);
            if (*end || !(n >= lo && n <= hi))
                throw Error(cat(flag, ": expected a number from ", lo, " to ", hi, ", found '", v, "'"));
            return n;
        };
        go.max_new_tokens = int(number("--max-new-tokens", 64, 0, 1 << 20));
        go.temperature = float(number("--temperature", 0, 0, 100));
        go.top_k = int(number("--top-k", 0, 0, 1 << 22));
        go.seed = uint64_t(number("--seed", 0, 0, 4294967295.0));
        go.stop_ids = c.eos_token_ids;
        const bool json_out = args.has("--json");
        // streamed as the decoder writes the whole text so far (a decoder may strip the text's first
        // space, never a later token's), printing what is new
        std::vector<int32_t> so_far;
        size_t printed = 0;
        const GenerateResult r = generate(m, prompt, go, [&](int32_t id) {
            if (json_out || !tok) return;
            so_far.push_back(id);
            const std::string text = tok->decode(so_far);
            if (text.size() > printed) std::fputs(text.c_str() + printed, stdout);
            printed = text.size();
            std::fflush(stdout);
        });
        const std::string out_text = tok ? tok->decode(r.ids) : "";
        if (json_out) {
            nlohmann::json j = {{"prompt_ids", prompt}, {"ids", r.ids}};
            j["text"] = tok ? nlohmann::json(out_text) : nlohmann::json(nullptr);
            std::printf("%s\n", j.dump().c_str());
        } else if (!tok) {
            std::string line;
            for (int32_t id : r.ids)
                line += (line.empty() ? "" : " ") + std::to_string(id);
            std::printf("%s\n", line.c_str());
            std::fprintf(stderr, "attnscope: note: ids only (%s)\n", tok_error.c_str());
        } else {
            std::printf("\n");
        }
        std::fprintf(stderr, "attnscope: %zu tokens in %.3f s (prompt %zu tokens: %.3f s)\n", r.ids.size(),
                     r.decode_seconds + r.prefill_seconds, prompt.size(), r.prefill_seconds);
        if (runner) { // one forward over the prompt and its continuation, captured
            std::vector<int32_t> all = prompt;
            all.insert(all.end(), r.ids.begin(), r.ids.end());
            const PreparedData data = runner->prepare_ids(std::move(all), int64_t(prompt.size()));
            std::signal(SIGINT, on_sigint);
            std::signal(SIGTERM, on_sigint);
            const CaptureSummary s = runner->run_with_hooks(data, output);
            std::fprintf(stderr, "attnscope: wrote %s: %lld tokens (prompt %zu), %lld tensors, %.1f MB in %.1f s\n",
                         s.dir.c_str(), (long long)s.n_tokens, prompt.size(), (long long)s.n_tensors,
                         double(s.bytes) / 1e6, s.seconds);
        }
        return 0;
    }
    if (command == "serve") {
        const auto pos = args.positional({"--port", "--host"});
        if (pos.size() != 1) throw Error("serve: expected one capture directory", "usage: attnscope serve DIR");
        ServeOptions so;
        const std::string port = args.get("--port");
        if (!port.empty()) {
            char* end = nullptr;
            const long p = std::strtol(port.c_str(), &end, 10);
            if (*end || p < 0 || p > 65535)
                throw Error(cat("--port: expected a port from 0 (any free one) to 65535, found '", port, "'"));
            so.port = int(p);
        }
        if (!args.get("--host").empty()) so.host = args.get("--host");
        so.allow_remote = args.has("--allow-remote");
        so.on_notice = [](const std::string& n) { std::fprintf(stderr, "attnscope: note: %s\n", n.c_str()); };
        if (!is_loopback(so.host) && so.allow_remote)
            std::fprintf(stderr, "attnscope: warning: listening on %s: anyone who can reach it and has the URL's "
                                 "token can read this capture (plain HTTP, no encryption)\n",
                         so.host.c_str());
        // Ctrl-C and SIGTERM are taken by one thread that stops the server, so every request in
        // flight is answered and run() returns; the server's threads inherit the blocked mask.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
        ViewerServer server(pos[0], so);
        std::thread([&server, stop_signals] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            std::fprintf(stderr, "\nattnscope: stopping the server\n");
            server.stop();
        }).detach();
        std::fprintf(stderr, "attnscope: serving %s (Ctrl-C stops)\n", pos[0].c_str());
        std::printf("%s\n", server.url().c_str());
        std::fflush(stdout);
        if (args.has("--open")) {
            const std::string url = server.url();
            char* const argv_open[] = {const_cast<char*>("xdg-open"), const_cast<char*>(url.c_str()), nullptr};
            pid_t pid = 0;
            if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, argv_open, environ) != 0)
                std::fprintf(stderr, "attnscope: cannot start xdg-open: open the URL above in a browser\n");
        }
        server.run();
        return 0;
    }
    if (command == "plot" || command == "report") {
        const auto pos = args.positional({"--output", "--format", "--layer", "--head", "--seq", "--importance",
                                          "--prune-max-delta"});
        const ImageFormat fmt = parse_image_format(args.get("--format"));
        const std::string out = args.get("--output");
        auto integer = [&](const char* flag, long fallback) {
            const std::string v = args.get(flag);
            if (v.empty()) {
                if (fallback >= 0) return fallback;
                throw Error(cat("plot weights: missing ", flag), "e.g. attnscope plot DIR weights --layer 0 --head 1");
            }
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (*end || n < 0) throw Error(cat(flag, ": expected a number from 0, found '", v, "'"));
            return n;
        };
        if (command == "report") {
            if (pos.empty()) throw Error("report: no capture directory given", "usage: attnscope report DIR [DIR ...]");
            auto an = analyzer_for(pos, out);
            set_importance_of(*an, args);
            for (const auto& path : an->create_comprehensive_report(out, fmt))
                std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
            return 0;
        }
        if (pos.size() != 2)
            throw Error("plot: expected a capture directory and a figure",
                        "usage: attnscope plot DIR (flow | dashboard | grid | weights --layer L --head H)");
        auto an = analyzer_for({pos[0]}, out);
        const std::string& what = pos[1];
        std::string path;
        if (what == "flow")
            path = an->visualize_attention_flow(out, fmt);
        else if (what == "dashboard")
            path = an->visualize_dashboard(out, fmt);
        else if (what == "grid" || what == "heads")
            path = an->visualize_heads_grid(integer("--seq", 0), out, fmt);
        else if (what == "weights")
            path = an->visualize_attention_weights(int(integer("--layer", -1)), int(integer("--head", -1)),
                                                   integer("--seq", 0), out, fmt);
        else
            throw Error(cat("plot: unknown figure '", what, "'"), "choose flow, dashboard, grid or weights");
        std::fprintf(stderr, "attnscope: wrote %s\n", path.c_str());
        return 0;
    }
    if (command == "heads") {
        const auto dirs = args.positional({"--model", "--sequences", "--block", "--seed"});
        const std::string model = args.get("--model");
        AnalysisResult r;
        if (!model.empty()) {
            if (!dirs.empty()) throw Error("heads: give capture directories or --model, not both");
            ProbeOptions po;
            auto number = [&](const char* flag, long fallback, long lo, long hi) {
                const std::string v = args.get(flag);
                if (v.empty()) return fallback;
                char* end = nullptr;
                const long n = std::strtol(v.c_str(), &end, 10);
                if (*end || n < lo || n > hi)
                    throw Error(cat(flag, ": expected a number from ", lo, " to ", hi, ", found '", v, "'"));
                return n;
            };
            po.n_sequences = int(number("--sequences", po.n_sequences, 1, 100000));
            po.block = int(number("--block", po.block, 2, 1 << 20));
            po.seed = uint64_t(number("--seed", long(po.seed), 0, 2147483647));
            Runner runner(model);
            r = runner.probe_heads(po);
        } else {
            if (dirs.empty()) throw Error("heads: nothing to analyse", "give capture directories or --model M");
            r = analyzer_for(dirs)->analyze();
        }
        if (args.has("--json")) {
            nlohmann::ordered_json j = summary_json(r);
            nlohmann::ordered_json heads = nlohmann::ordered_json::array();
            for (auto& L : j["layers"])
                for (auto& h : L["heads"]) {
                    nlohmann::ordered_json e = {{"layer", L["layer"]},
                                                {"head", h["head"]},
                                                {"label", h["label"]},
                                                {"scores", h["scores"]},
                                                {"template_scores", h["template_scores"]}};
                    heads.push_back(e);
                }
            std::printf("%s\n", heads.dump(1).c_str());
        } else {
            for (const auto& n : r.notes)
                std::printf("note: %s\n", n.c_str());
            std::fputs(heads_table(r).c_str(), stdout);
        }
        return 0;
    }
    if (command == "info") {
        auto model = Model::load(resolve_model(args.require("--model", "info")).path);
        std::fputs(model->summary().c_str(), stdout);
        return 0;
    }
    if (command == "hooks") {
        auto model = Model::load(resolve_model(args.require("--model", "hooks")).path);
        const ModelConfig& c = model->config();
        for (int ih = 0; ih < kHookCount; ++ih) {
            const Hook h = Hook(ih);
            if (!hook_exists(h, c)) continue;
            const std::string name =
                hook_is_per_layer(h) ? std::string("blocks.{L}.") + hook_suffix(h) : hook_suffix(h);
            std::printf("%-34s %s\n", name.c_str(), hook_shape(c, h).c_str());
        }
        std::printf("(L = 0..%d, T = tokens of the sequence)\n", c.n_layer - 1);
        return 0;
    }
    if (command == "tokenize") {
        // a tokenizer file or a directory with only tokenizer files is enough here; model names
        // resolve as for any model
        const std::string given = args.get("--tokenizer"), m = args.get("--model");
        if (given.empty() == m.empty())
            throw Error("tokenize: give --tokenizer PATH (tokenizer.json, a folder, or .gguf) or --model M",
                        "attnscope tokenize --tokenizer path/to/tokenizer.json --text \"Hello\"");
        const Tokenizer tok = Tokenizer::load(!given.empty() ? given : std::filesystem::exists(m) ? m : resolve_model(m).path);
        std::vector<std::string> texts = args.all("--text");
        const std::string input = args.get("--input");
        if (!input.empty()) {
            if (!texts.empty()) throw Error("tokenize: give --text or --input, not both");
            texts = read_texts(input);
        } else if (texts.empty()) {
            throw Error("tokenize: nothing to tokenize", "give --text \"some text\" or --input FILE");
        }
        const EncodeOptions opts{.add_special_tokens = !args.has("--no-special"),
                                 .parse_special = !args.has("--split-special")};
        std::string out;
        for (const auto& t : texts) {
            const std::vector<int32_t> ids = tok.encode(t, opts);
            nlohmann::json j = {{"ids", ids}, {"tokens", tok.display(ids)}};
            out = j.dump();
            out += '\n';
            std::fwrite(out.data(), 1, out.size(), stdout);
        }
        return 0;
    }
    throw Error(cat("unknown command '", command, "'"), "attnscope --help lists the commands");
}

} // namespace

int main(int argc, char** argv) {
    // A fixed mmap threshold: glibc otherwise raises it after each large free, and long runs then
    // keep freed buffers in the heap, so peak memory creeps up with the number of texts.
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    try {
        return run(argc, argv);
    } catch (const Error& e) {
        if (::isatty(2)) std::fputc('\n', stderr); // leave a progress bar's line
        std::fprintf(stderr, "attnscope: error: %s\n", e.what());
        return g_interrupted ? 130 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "attnscope: internal error: %s\n", e.what());
        return 3;
    }
}
