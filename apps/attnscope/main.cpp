// The attnscope command-line program: the usage text, the table of commands (each verb's
// options and its function, cmd_<verb>.cpp), argument parsing and dispatch; any exception
// becomes one line on stderr and a non-zero exit code. No analysis happens here.
#include "cli.h"

#include <malloc.h>

using namespace attnscope;
using namespace attnscope::cli;

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
                       analyze + every figure + the viewer into OUT (default: the first DIR);
                       for stats-only directories the report, summary, flow and dashboard
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

struct Command {
    const char* name;
    int (*run)(const Args&);
    // every option the command takes: anything else is refused, so a typo (--max-lenght) never
    // runs with a silently ignored setting
    std::vector<std::string> options;
};

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"models", cmd_models, {}},
        {"run",
         cmd_run,
         {"--model", "--text", "--input", "--output", "--max-length", "--batch-size", "--capture", "--layers",
          "--heads", "--dtype", "--force", "--resume", "--no-sync", "--stats-only", "--covariance", "--weights",
          "--shard"}},
        {"analyze", cmd_analyze, {"--output", "--print", "--importance", "--prune-max-delta"}},
        {"demo", cmd_demo, {"--output"}},
        {"view", cmd_view, {"--output", "--sequences", "--max-mb"}},
        {"patch",
         cmd_patch,
         {"--model", "--clean", "--corrupt", "--answer", "--wrong", "--metric", "--what", "--output", "--weights"}},
        {"ablate",
         cmd_ablate,
         {"--model", "--text", "--input", "--heads", "--method", "--metric", "--max-length", "--output", "--weights"}},
        {"compare", cmd_compare, {"--labels", "--same-layer", "--output", "--unmatched-js"}},
        {"convert", cmd_convert, {"--from", "--tokenizer", "--output"}},
        {"generate",
         cmd_generate,
         {"--model", "--ids", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--seed", "--json",
          "--weights", "--output", "--capture", "--layers", "--heads", "--dtype", "--force", "--no-sync"}},
        {"serve", cmd_serve, {"--port", "--host", "--allow-remote", "--open"}},
        {"plot", cmd_plot, {"--seq", "--format", "--output", "--layer", "--head"}},
        {"report", cmd_report, {"--output", "--format", "--importance", "--prune-max-delta"}},
        {"heads", cmd_heads, {"--model", "--sequences", "--block", "--seed", "--json"}},
        {"info", cmd_info, {"--model"}},
        {"hooks", cmd_hooks, {"--model"}},
        {"tokenize", cmd_tokenize, {"--model", "--tokenizer", "--text", "--input", "--no-special", "--split-special"}},
    };
    return table;
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
    const auto& table = commands();
    const auto it = std::find_if(table.begin(), table.end(), [&](const Command& c) { return command == c.name; });
    if (it == table.end()) throw Error(cat("unknown command '", command, "'"), "attnscope --help lists the commands");
    for (const auto& a : args.rest)
        if (a.rfind("--", 0) == 0 && std::find(it->options.begin(), it->options.end(), a) == it->options.end())
            throw Error(cat(command, ": unknown option ", a),
                        it->options.empty() ? cat("'", command, "' takes no option")
                                            : cat("'", command, "' takes ", list_of(it->options)));
    return it->run(args);
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
